"""Notebook 06 (transformer): its "Check yourself" checkers. For each exercise the right answer
passes, and each wrong answer listed in the exercise's design gets the hint that names its
mistake (asserted by a distinctive phrase). Where a hint states a fact about PyTorch or about
tied models, a test here runs the code that shows it.
"""

from __future__ import annotations

import pytest
import torch
from checking import printed

from tying_utils.exercises import (
    NOT_ANSWERED,
    check_adam_bytes_saved,
    check_tied_logit_scale,
    check_tying_saving,
)
from tying_utils.transformer import TransformerLM


def test_check_tying_saving(capsys):

    matrix = 128256 * 2048
    assert not check_tying_saving(...) and NOT_ANSWERED in printed(capsys)
    assert check_tying_saving(matrix) and "17.5% of the untied model" in printed(capsys)
    for wrong, hint in ((2 * matrix, "counts both matrices"), (matrix + 128256, "no bias"),
                        (1_235_814_400, "whole (tied) model"), ("many", "whole number"),
                        (12345, "one matrix of V × d")):
        assert not check_tying_saving(wrong)
        out = printed(capsys)
        assert out.startswith("❌") and hint in out, (wrong, out)


def test_check_tied_logit_scale(capsys):

    assert not check_tied_logit_scale(...) and NOT_ANSWERED in printed(capsys)
    assert check_tied_logit_scale(8) and check_tied_logit_scale(torch.tensor(64.0).sqrt())
    assert check_tied_logit_scale(4.0, dim=16)
    capsys.readouterr()
    for wrong, hint in ((64, "square root"), (1.0, "variances add"), (0.16, "GPT-2's start"),
                        (3.0, "add the variances"), ("eight", "one number")):
        assert not check_tied_logit_scale(wrong)
        out = printed(capsys)
        assert out.startswith("❌") and hint in out, (wrong, out)


def test_the_logit_scale_answer_is_what_a_model_shows():
    """The checker's truth, √d, is what a tied model under PyTorch's defaults really starts with."""

    torch.manual_seed(0)
    model = TransformerLM(2000, 64, tied=True, init="pytorch", dropout=0.0)
    logits, _ = model(torch.randint(0, 2000, (4, 35)))
    assert logits.std().item() == pytest.approx(8.0, rel=0.1)


def test_check_adam_bytes_saved(capsys):

    matrix = 256000 * 2048
    assert not check_adam_bytes_saved(...) and NOT_ANSWERED in printed(capsys)
    assert check_adam_bytes_saved(16 * matrix) and "8.4 GB" in printed(capsys)
    assert check_adam_bytes_saved(float(16 * matrix))
    capsys.readouterr()
    for wrong, hint in ((matrix, "number of parameters"), (2 * matrix, "bf16 weight alone"),
                        (8 * matrix, "two fp32 moments"), (12 * matrix, "master weight and"),
                        (4 * matrix, "one fp32 copy"), (7, "2 + 2 + 4 + 4 + 4"),
                        (1.5, "whole number")):
        assert not check_adam_bytes_saved(wrong)
        out = printed(capsys)
        assert out.startswith("❌") and hint in out, (wrong, out)
