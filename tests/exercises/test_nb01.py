"""Notebook 01 (linear_weight_shapes): its "Check yourself" checkers. For each exercise the right
answer passes, and each wrong answer listed in the exercise's design gets the hint that names its
mistake (asserted by a distinctive phrase). Where a hint states a fact about PyTorch or about
tied models, a test here runs the code that shows it.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from checking import assert_hint, assert_right
from torch import nn

from tying_utils.exercises import (
    LOGITS_HIDDEN,
    LOGITS_WEIGHT,
    check_linear_weight_shape,
    check_logits,
    check_tie_partner,
)


@pytest.mark.parametrize("answer", [(1000, 64), [1000, 64], torch.Size([1000, 64]),
                                    tuple(nn.Linear(64, 1000).weight.shape),
                                    (np.int64(1000), np.int64(64))])
def test_linear_weight_shape_right(answer, capsys):
    assert_right(capsys, check_linear_weight_shape, answer, phrase="(out_features, in_features)")


@pytest.mark.parametrize("answer, hint", [
    ((64, 1000), "Keras"),  # the misconception: (in, out)
    ((1000, 65), "The bias is not a column"),  # the bias counted into the weight
    ((65, 1000), "The bias is not a column"),
    (64_000, "how many numbers the weight holds"),  # the size, not the shape
    ((1000, 63), "one row per output feature"),
    ((1000,), "tuple of two whole numbers"),
    ("1000x64", "tuple of two whole numbers"),
    ((1000.0, 64.0), "tuple of two whole numbers"),
])
def test_linear_weight_shape_wrong_gets_a_hint(answer, hint, capsys):
    assert_hint(capsys, check_linear_weight_shape, hint, answer)


@pytest.mark.parametrize("answer", [(8, 50), [8, 50], nn.Linear(8, 50)])
def test_tie_partner_right(answer, capsys):
    assert_right(capsys, check_tie_partner, answer, phrase="Linear(8, 50)")


@pytest.mark.parametrize("answer, hint", [
    ((50, 8), "the transpose"),  # the weight's shape given as the Linear's arguments
    (nn.Linear(50, 8), "the transpose"),
    ((8, 8), "one logit per token"),
    ((50, 50), "one logit per token"),
    (None, "(in_features, out_features)"),
    ("Linear(8, 50)", "(in_features, out_features)"),
])
def test_tie_partner_wrong_gets_a_hint(answer, hint, capsys):
    assert_hint(capsys, check_tie_partner, hint, answer)


def test_logits_right_computed_like_a_head(capsys):
    head = nn.Linear(3, 4, bias=False)
    with torch.no_grad():
        head.weight.copy_(torch.tensor(LOGITS_WEIGHT))
    logits = head(torch.tensor(LOGITS_HIDDEN)).detach()
    assert_right(capsys, check_logits, logits, phrase="[1.0, 2.0, 0.0, 3.0]")
    assert_right(capsys, check_logits, [1, 2, 0, 3])
    assert_right(capsys, check_logits, np.array([[1.0, 2.0, 0.0, 3.0]]))


@pytest.mark.parametrize("answer, hint", [
    (torch.tensor(LOGITS_WEIGHT) * torch.tensor(LOGITS_HIDDEN), "did not add"),  # no sum
    (torch.softmax(torch.tensor([1.0, 2.0, 0.0, 3.0]), 0), "Those are probabilities"),
    ([2, 3, 1, 4], "has no bias"),  # a bias of 1 added
    ([1, 2, 0], "4 numbers (you gave 3)"),
    ([1, 2, 0, 4], "ROW k"),
    (torch.tensor(LOGITS_WEIGHT).T @ torch.ones(4), "4 numbers (you gave 3)"),  # columns
    ("1 2 0 3", "list (or tensor) of numbers"),
    ([1, None, 0, 3], "list (or tensor) of numbers"),
])
def test_logits_wrong_gets_a_hint(answer, hint, capsys):
    assert_hint(capsys, check_logits, hint, answer)
