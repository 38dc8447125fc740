"""Notebook 09's writing side (`tying_utils.deploy`) and the `deploy` extra's declarations."""

from __future__ import annotations

import copy
import re
import sys
from pathlib import Path

import pytest
import torch

from tying_utils import TransformerLM
from tying_utils.deploy import Int8Matrix, LogitsOnly, quantize_token_matrices, saved_bytes

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from test_environment import _in_environment_yml, _pyproject  # noqa: E402

sys.path.insert(0, str(ROOT / "tools"))
import sync_notebooks  # noqa: E402

DEPLOY = {"onnx", "onnxscript", "onnxruntime", "gguf"}


def test_the_deploy_extra_is_declared_locked_and_in_environment_yml():
    _, extras = _pyproject()
    assert extras["deploy"] == DEPLOY
    assert all(_in_environment_yml(name) for name in DEPLOY)
    lock = (ROOT / "requirements-lock.txt").read_text(encoding="utf-8")
    for name in DEPLOY:
        assert re.search(rf"^{name}==\S+$", lock, re.M), name
    assert {sync_notebooks.EXTRAS_BY_IMPORT[name] for name in DEPLOY} == {"deploy"}
    assert "deploy" in (ROOT / "Makefile").read_text(encoding="utf-8")


def test_int8_rows_are_within_half_a_step_of_the_float_matrix():
    weight = torch.randn(50, 8, generator=torch.Generator().manual_seed(0))
    matrix = Int8Matrix(weight)
    assert matrix.values.dtype == torch.int8 and matrix.scale.shape == (50,)
    error = (matrix.dequantize() - weight).abs()
    assert (error <= matrix.scale[:, None] / 2 + 1e-7).all()
    rows = torch.tensor([[3, 7], [0, 49]])
    assert torch.equal(matrix.dequantize(rows), matrix.dequantize()[rows])


def test_quantizing_the_head_alone_unties_and_sharing_keeps_one_int8_matrix():
    torch.manual_seed(0)
    model = TransformerLM(256, 16, tied=True, layers=1, heads=2, context=8, dropout=0.0).eval()
    tokens = torch.randint(0, 256, (2, 8))
    reference = LogitsOnly(model)(tokens)
    matrix_bytes = 256 * 16 * 4
    sizes = {}
    for how in ("head", "skip_head", "both_shared"):
        quantized = quantize_token_matrices(copy.deepcopy(model), how)
        sizes[how] = saved_bytes(quantized)
        assert (LogitsOnly(quantized)(tokens) - reference).abs().max() < 0.05
    base = saved_bytes(model)
    int8_bytes = 256 * 16 + 256 * 4  # int8 values and one float32 scale per row
    assert sizes["skip_head"] == base
    # the head alone: the float matrix stays for the lookup and an int8 copy is added
    assert abs(sizes["head"] - base - int8_bytes) < 1024  # (torch.save's own records)
    # both alike, one int8 matrix in place of the float one, stored once
    assert abs(base - sizes["both_shared"] - (matrix_bytes - int8_bytes)) < 1024
    with pytest.raises(ValueError, match="how must be one of"):
        quantize_token_matrices(model, "everything")
