"""The "Check yourself" checkers of notebooks 01 and 02: right answers pass, wrong get hints."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from tying_utils import EmbedHead, count_parameters, tied_groups
from tying_utils.exercises import (
    LOGITS_HIDDEN,
    LOGITS_WEIGHT,
    TIE_OPERATIONS,
    check_linear_weight_shape,
    check_logits,
    check_parameter_count,
    check_tie_partner,
    check_tie_survivors,
    check_tied_names,
    tying_puzzle,
)


def verdict(checker, answer, capsys):
    """The checker's return value and the line it printed."""
    ok = checker(answer)
    return ok, capsys.readouterr().out.strip()


# --- notebook 01 ---------------------------------------------------------------------------------


@pytest.mark.parametrize("answer", [(1000, 64), [1000, 64], torch.Size([1000, 64]),
                                    tuple(nn.Linear(64, 1000).weight.shape),
                                    (np.int64(1000), np.int64(64))])
def test_linear_weight_shape_right(answer, capsys):
    ok, out = verdict(check_linear_weight_shape, answer, capsys)
    assert ok is True and out.startswith("✅") and "(out_features, in_features)" in out


@pytest.mark.parametrize("answer, hint", [
    ((64, 1000), "Keras"),
    ((1000, 65), "one row per output feature"),
    ((1000,), "tuple of two whole numbers"),
    ("1000x64", "tuple of two whole numbers"),
    (1000, "tuple of two whole numbers"),
    ((1000.0, 64.0), "tuple of two whole numbers"),
])
def test_linear_weight_shape_wrong_gets_a_hint(answer, hint, capsys):
    ok, out = verdict(check_linear_weight_shape, answer, capsys)
    assert ok is False and out.startswith("❌ Not yet.") and hint in out


def test_tie_partner_right(capsys):
    ok, out = verdict(check_tie_partner, (8, 50), capsys)
    assert ok is True and "Linear(8, 50)" in out


@pytest.mark.parametrize("answer, hint", [
    ((50, 8), "transpose"),
    ((8, 8), "one logit per token"),
    (None, "(in_features, out_features)"),
])
def test_tie_partner_wrong_gets_a_hint(answer, hint, capsys):
    ok, out = verdict(check_tie_partner, answer, capsys)
    assert ok is False and hint in out


def test_logits_right_computed_like_a_head(capsys):
    head = nn.Linear(3, 4, bias=False)
    with torch.no_grad():
        head.weight.copy_(torch.tensor(LOGITS_WEIGHT))
    ok, out = verdict(check_logits, head(torch.tensor(LOGITS_HIDDEN)).detach(), capsys)
    assert ok is True and "[1.0, 2.0, 0.0, 3.0]" in out
    assert check_logits([1, 2, 0, 3]) and check_logits(np.array([[1.0, 2.0, 0.0, 3.0]]))


@pytest.mark.parametrize("answer, hint", [
    ([1, 2, 0], "4 numbers (you gave 3)"),
    ([1, 2, 0, 4], "ROW k"),
    (torch.tensor(LOGITS_WEIGHT).T @ torch.ones(4), "4 numbers (you gave 3)"),
    ("1 2 0 3", "list (or tensor) of numbers"),
    ([1, None, 0, 3], "list (or tensor) of numbers"),
])
def test_logits_wrong_gets_a_hint(answer, hint, capsys):
    ok, out = verdict(check_logits, answer, capsys)
    assert ok is False and hint in out


# --- notebook 02 ---------------------------------------------------------------------------------


def test_tying_puzzle_groups_are_what_the_checker_expects(capsys):
    puzzle = tying_puzzle()
    groups = tied_groups(puzzle)
    assert groups == [["decoder.bias", "head.bias"], ["embedding.weight", "head.weight"]]
    ok, out = verdict(check_tied_names, groups, capsys)
    assert ok is True and out.startswith("✅")
    assert check_tied_names([("head.weight", "embedding.weight"), {"head.bias", "decoder.bias"}])


def test_tying_puzzle_leaves_the_global_random_stream_alone():
    torch.manual_seed(3)
    expected = torch.rand(2)
    torch.manual_seed(3)
    tying_puzzle()
    assert torch.equal(torch.rand(2), expected)


@pytest.mark.parametrize("answer, hint", [
    ([["embedding.weight", "head.weight"]], "Look beyond `is`"),
    ([["decoder.bias", "head.bias"]], "classic tie"),
    ([["embedding.weight", "head.weight", "decoder.weight"], ["decoder.bias", "head.bias"]],
     "decoder.weight was built from a clone"),
    ([["embedding.weight", "head.weight"], ["head.bias"]], "two or more names"),
    ([["embedding.weight", "head.weights"]], "no parameter named 'head.weights'"),
    ([["embedding.weight", "head.weight"], ["decoder.bias", "head.bias"],
      ["embedding.weight", "head.bias"]], "Put names in one group only when they share memory"),
    ([], "classic tie"),
    ("embedding.weight", "list of groups"),
    (["embedding.weight", "head.weight"], "list of groups"),
    (42, "list of groups"),
])
def test_tied_names_wrong_gets_a_hint(answer, hint, capsys):
    ok, out = verdict(check_tied_names, answer, capsys)
    assert ok is False and hint in out


def test_parameter_count_right(capsys):
    ok, out = verdict(check_parameter_count, count_parameters(EmbedHead(1000, 64, True)).unique,
                      capsys)
    assert ok is True and "65,000" in out


@pytest.mark.parametrize("answer, hint", [
    (129_000, "counted the shared matrix twice"),
    (128_000, "the head also has a bias"),
    (64_000, "add the head's bias"),
    (66_000, "Count the (1000, 64) matrix once"),
    ("65000", "whole number"),
    (65000.0, "whole number"),
])
def test_parameter_count_wrong_gets_a_hint(answer, hint, capsys):
    ok, out = verdict(check_parameter_count, answer, capsys)
    assert ok is False and hint in out


@pytest.mark.parametrize("answer", ["ace", "a, c, e", {"a", "c", "e"}, ["E", "C", "A"]])
def test_tie_survivors_right(answer, capsys):
    ok, out = verdict(check_tie_survivors, answer, capsys)
    assert ok is True and out.startswith("✅")


@pytest.mark.parametrize("answer, hint", [
    ("abce", "(b) breaks the tie: assign=True"),
    ("acde", "(d) breaks the tie: a clone"),
    ("ac", "(e) keeps the tie: without assign=True"),
    ("ce", "(a) keeps the tie: Module.to()"),
    ("ae", "(c) keeps the tie: deepcopy keeps a memo"),
    ("acz", "letters from TIE_OPERATIONS"),
    (3, "letters from TIE_OPERATIONS"),
])
def test_tie_survivors_wrong_gets_a_hint(answer, hint, capsys):
    ok, out = verdict(check_tie_survivors, answer, capsys)
    assert ok is False and hint in out


def test_tie_operations_are_the_letters_a_to_e():
    assert list(TIE_OPERATIONS) == ["a", "b", "c", "d", "e"]


def test_the_expected_survivors_are_what_torch_does(tmp_path, capsys):
    """The answer to exercise 02.3 holds in the installed torch: run every operation."""
    import copy

    def fresh():
        torch.manual_seed(0)
        return EmbedHead(10, 3, tied=True)

    def op_b(model):
        model.load_state_dict({k: v.clone() for k, v in model.state_dict().items()}, assign=True)
        return model

    def op_d(model):
        model.embedding.weight = nn.Parameter(model.head.weight.detach().clone())
        return model

    def op_e(model):
        torch.save(model.state_dict(), tmp_path / "tied.pt")
        model.load_state_dict(torch.load(tmp_path / "tied.pt", weights_only=True))
        return model

    operations = {"a": lambda m: m.to(torch.float64), "b": op_b, "c": copy.deepcopy, "d": op_d,
                  "e": op_e}
    survivors = {letter for letter, op in operations.items() if tied_groups(op(fresh()))}
    assert check_tie_survivors(survivors)
