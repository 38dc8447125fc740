"""Large matrices in a checkpoint are compared piece by piece (issue 20): the pieces are bounded,
and the verdict is the one torch.equal gives on the whole tensors."""

from __future__ import annotations

import pytest
import safetensors.torch
import torch

from tying_utils import checkpoints
from tying_utils.checkpoints import read_checkpoint


@pytest.fixture
def small_pieces(monkeypatch):
    monkeypatch.setattr(checkpoints, "CHUNK_BYTES", 64)  # many pieces even for a small matrix


@pytest.mark.parametrize("suffix", [".safetensors", ".pt"])
def test_same_bytes_agrees_with_torch_equal_across_piece_boundaries(tmp_path, small_pieces,
                                                                  suffix):
    torch.manual_seed(0)
    a = torch.randn(37, 5).to(torch.bfloat16)
    late_change = a.clone()
    late_change[-1, -1] += 1  # differs only in the last piece
    tensors = {"a": a, "copy": a.clone(), "late": late_change,
               "other_shape": a.reshape(5, 37).clone(), "zeros": torch.zeros(37, 5)}
    path = tmp_path / f"state{suffix}"
    if suffix == ".pt":
        torch.save(tensors, path)
    else:
        safetensors.torch.save_file(tensors, path)
    checkpoint = read_checkpoint(path)
    pieces = list(checkpoint.byte_chunks("a"))
    assert len(pieces) > 1 and all(piece.numel() <= 64 for piece in pieces)
    assert sum(piece.numel() for piece in pieces) == a.numel() * a.element_size()
    for name in ("copy", "late", "other_shape"):
        truth = tensors[name].shape == a.shape and torch.equal(tensors[name], a)
        assert checkpoint.same_bytes("a", name) == truth
    assert checkpoint.itemsize("a") == 2 and checkpoint.itemsize("zeros") == 4
    assert checkpoint.is_constant("zeros", 4) and not checkpoint.is_constant("a", 2)
