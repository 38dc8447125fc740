"""Fixtures shared by several test files."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(scope="module")
def one_thread():
    """Tiny models run fastest on one thread, and do not stall on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def corpus(tmp_path):
    """A tiny corpus file of 216 short sentences, for the command-line tests of lm and sweep."""
    path = tmp_path / "tiny.txt"
    sentences = [f"the {animal} {verb} on the {place} ." for animal in ("cat", "dog", "owl")
                 for verb in ("sat", "slept", "ran") for place in ("mat", "log", "rug")]
    path.write_text("\n".join(sentences * 8), encoding="utf-8")
    return path
