"""Notebook 09's checkers (tying_utils/exercises/nb09.py): right answers pass, each known mistake
gets its own hint. test_exercise_solutions.py runs the notebook's solutions through them."""

from __future__ import annotations

import numpy as np
import pytest
from checking import verdict

from tying_utils.exercises import (
    NOT_ANSWERED,
    check_gguf_head,
    check_int8_head_bytes,
    check_onnx_copy_bytes,
)


def test_onnx_copy_bytes(capsys):
    assert verdict(capsys, check_onnx_copy_bytes, 250_880 * 1_024 * 4)[0]
    for answer, hint in ((250_880 * 1_024, "4 bytes"), (250_880 * 1_024 * 8, "both copies"),
                         (250_880 * 1_024 * 2, "float16"), ("lots", "whole number")):
        ok, out = verdict(capsys, check_onnx_copy_bytes, answer)
        assert not ok and out.startswith("❌") and hint in out, out


def test_int8_head_bytes(capsys):
    vocab, dim = 128_256, 2_048
    assert verdict(capsys, check_int8_head_bytes, vocab * dim + 4 * vocab)[0]
    for answer, hint in ((vocab * dim, "add the scales"), (-3 * vocab * dim, "untied"),
                         (4 * vocab * dim, "stays")):
        ok, out = verdict(capsys, check_int8_head_bytes, answer)
        assert not ok and hint in out, out


@pytest.mark.parametrize("head_for, ok, hint", [
    (lambda t: t.get("output.weight", t["token_embd.weight"]), True, "fall"),
    (lambda t: t["token_embd.weight"], False, "you returned token_embd.weight"),
    (lambda t: t.get("output.weight"), False, "fall back to tensors['token_embd.weight']"),
    (lambda t: t["output.weight"], False, "KeyError"),
    (lambda t: ..., None, NOT_ANSWERED),
])
def test_gguf_head(capsys, head_for, ok, hint):
    result, out = verdict(capsys, check_gguf_head, head_for)
    assert result is bool(ok) and hint in out, out


def test_gguf_head_accepts_a_copy_of_the_right_matrix(capsys):
    assert verdict(capsys, check_gguf_head,
                   lambda t: np.array(t.get("output.weight", t["token_embd.weight"])))[0]
