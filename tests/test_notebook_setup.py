"""tying_utils.notebook_setup: the setup-cell plumbing notebooks 07-09 share."""

from __future__ import annotations

import logging
import os
import sys
import types

import pytest
import torch

from tying_utils.notebook_setup import prepare_notebook


def test_nothing_asked_nothing_done():
    before = torch.get_num_threads()
    assert prepare_notebook() is None and torch.get_num_threads() == before


def test_work_gives_pytorch_the_package_thread_policy():
    before = torch.get_num_threads()
    try:
        assert prepare_notebook("toy") == torch.get_num_threads()
    finally:
        torch.set_num_threads(before)


def test_offline_sets_the_hub_variable(monkeypatch):
    monkeypatch.delitem(sys.modules, "huggingface_hub", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    prepare_notebook(offline=True)
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    monkeypatch.setitem(sys.modules, "huggingface_hub", types.ModuleType("huggingface_hub"))
    prepare_notebook(offline=True)  # the setup cell run a second time


def test_offline_after_the_hub_was_imported_says_it_is_too_late(monkeypatch):
    monkeypatch.setitem(sys.modules, "huggingface_hub", types.ModuleType("huggingface_hub"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    with pytest.raises(RuntimeError, match="before transformers"):
        prepare_notebook(offline=True)


def test_quiet_silences_the_onnx_exporter_log():
    logger = logging.getLogger("torch.onnx")
    before = logger.level
    try:
        prepare_notebook(quiet=True)
        assert logger.level == logging.ERROR
    finally:
        logger.setLevel(before)
