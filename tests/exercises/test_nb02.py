"""Notebook 02 (parameter_sharing): its "Check yourself" checkers. For each exercise the right
answer passes, and each wrong answer listed in the exercise's design gets the hint that names its
mistake (asserted by a distinctive phrase). Where a hint states a fact about PyTorch or about
tied models, a test here runs the code that shows it.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from checking import assert_hint, assert_right
from torch import nn

from tying_utils import EmbedHead
from tying_utils.exercises import (
    TIE_OPERATIONS,
    check_parameter_count,
    check_tie_survivors,
    check_tied_names,
    tying_puzzle,
)

TIE = ["embedding.weight", "head.weight"]
ALIAS = ["decoder.bias", "head.bias"]


def test_the_puzzle_holds_one_tie_one_alias_and_one_clone():
    """The truth the checker computes, seen with `is` and data_ptr, as the exercise asks."""
    puzzle = tying_puzzle()
    assert puzzle.embedding.weight is puzzle.head.weight  # a tie: one Parameter
    assert puzzle.head.bias is not puzzle.decoder.bias  # an alias: two Parameters, one memory
    assert (puzzle.head.bias.untyped_storage().data_ptr()
            == puzzle.decoder.bias.untyped_storage().data_ptr())
    assert torch.equal(puzzle.decoder.weight, puzzle.head.weight)  # a clone: equal values…
    assert (puzzle.decoder.weight.untyped_storage().data_ptr()
            != puzzle.head.weight.untyped_storage().data_ptr())  # …in memory of its own


def test_an_optimizer_updates_the_aliased_memory_once_per_parameter():
    """The praise says so: plain SGD with lr 1 and a gradient of ones moves the alias by 2."""
    puzzle = tying_puzzle()
    before = puzzle.head.bias.detach().clone()
    params = list(puzzle.parameters())
    for param in params:
        param.grad = torch.ones_like(param)
    torch.optim.SGD(params, lr=1.0).step()
    assert torch.allclose(puzzle.head.bias, before - 2)
    assert sum(p is puzzle.head.weight for p in params) == 1  # the tie is stepped once


def test_tying_puzzle_leaves_the_global_random_stream_alone():
    torch.manual_seed(3)
    expected = torch.rand(2)
    torch.manual_seed(3)
    tying_puzzle()
    assert torch.equal(torch.rand(2), expected)


@pytest.mark.parametrize("tied, aliased", [
    ([TIE], [ALIAS]),
    ([tuple(reversed(TIE))], [set(ALIAS)]),
    ((TIE,), (ALIAS,)),
])
def test_tied_names_right(tied, aliased, capsys):
    assert_right(capsys, check_tied_names, tied, aliased, phrase="an alias made with `.data`")


@pytest.mark.parametrize("tied, aliased, hint", [
    ([TIE, ALIAS], [], "that is an alias, not a tie"),  # the alias listed as tied
    ([ALIAS], [TIE], "that is an alias, not a tie"),
    ([], [TIE, ALIAS], "one object with two names is a tie"),  # the tie listed as an alias
    ([TIE + ["decoder.weight"]], [ALIAS], "decoder.weight was built from a clone"),
    ([TIE], [ALIAS, ["decoder.weight", "head.weight"]], "decoder.weight was built from a clone"),
    ([], [ALIAS], "classic tie"),  # the tie missed
    ([TIE], [], "Look beyond `is`"),  # the alias missed (what an `is` check alone gives)
    ([["embedding.weight", "head.weights"]], [ALIAS], "did you mean 'head.weight'"),  # misspelt
    ([TIE], [["decoder.bais", "head.bias"]], "no parameter named 'decoder.bais'"),
    ([TIE, ["head.bias"]], [ALIAS], "two or more names"),
    ([TIE], [ALIAS, ["embedding.weight", "head.bias"]], "Put names in one group only"),
    ("embedding.weight", [ALIAS], "Answer `tied` with a list of groups"),
    (TIE, [ALIAS], "Answer `tied` with a list of groups"),
    ([TIE], 42, "Answer `aliased` with a list of groups"),
])
def test_tied_names_wrong_gets_a_hint(tied, aliased, hint, capsys):
    assert_hint(capsys, check_tied_names, hint, tied, aliased)


def test_parameter_count_right(capsys):
    model = EmbedHead(1000, 64, tied=True)
    unique = sum(p.numel() for p in model.parameters())  # parameters() lists a tie once
    assert_right(capsys, check_parameter_count, unique, phrase="65,000")
    assert_right(capsys, check_parameter_count, np.int64(65_000))


@pytest.mark.parametrize("answer, hint", [
    (129_000, "counted the shared matrix twice"),  # once per name: the state_dict's sum
    (128_000, "the head also has a bias"),
    (64_000, "add the head's bias"),
    (64_064, "not one per dimension"),  # a bias per dimension
    (66_000, "Count the (1000, 64) matrix once"),
    ("65000", "whole number"),
    (65000.0, "whole number"),
])
def test_parameter_count_wrong_gets_a_hint(answer, hint, capsys):
    assert_hint(capsys, check_parameter_count, hint, answer)


@pytest.mark.parametrize("answer", ["ace", "a, c, e", {"a", "c", "e"}, ["E", "C", "A"]])
def test_tie_survivors_right(answer, capsys):
    assert_right(capsys, check_tie_survivors, answer, phrase="b and d leave two")


@pytest.mark.parametrize("answer, hint", [
    ("abce", "(b) breaks the tie: assign=True"),  # the misconception: a load always keeps it
    ("acde", "(d) breaks the tie: a clone"),
    ("ac", "(e) keeps the tie: without assign=True"),  # the misconception: saving breaks it
    ("ce", "(a) keeps the tie: Module.to()"),  # the misconception: .to() makes new tensors
    ("ae", "(c) keeps the tie: deepcopy keeps a memo"),
    ("", "(a) keeps the tie"),
    ("acz", "letters from TIE_OPERATIONS"),
    (3, "letters from TIE_OPERATIONS"),
])
def test_tie_survivors_wrong_gets_a_hint(answer, hint, capsys):
    assert_hint(capsys, check_tie_survivors, hint, answer)


def test_tie_operations_are_the_letters_a_to_e():
    assert list(TIE_OPERATIONS) == ["a", "b", "c", "d", "e"]


def test_every_tie_survivor_hint_is_what_torch_does(tmp_path, capsys):
    """Run each operation of exercise 02.3 in the installed PyTorch and check each hint's claim."""
    def fresh():
        torch.manual_seed(0)
        return EmbedHead(10, 3, tied=True)

    def tied(model):
        return model.embedding.weight is model.head.weight

    def one_memory(model):
        return (model.embedding.weight.untyped_storage().data_ptr()
                == model.head.weight.untyped_storage().data_ptr())

    survivors = set()
    # (a) Module.to() changes each Parameter's data and keeps the Parameter object
    model = fresh()
    shared = model.head.weight
    model = model.to(torch.float64)
    assert model.head.weight is shared and shared.dtype == torch.float64
    survivors |= {"a"} if tied(model) else set()
    # (b) assign=True puts the two loaded clones into the model: two matrices
    model = fresh()
    model.load_state_dict({k: v.clone() for k, v in model.state_dict().items()}, assign=True)
    assert not tied(model) and not one_memory(model)
    survivors |= {"b"} if tied(model) else set()
    # (c) deepcopy copies the one Parameter once; both names get that copy
    model = fresh()
    duplicate = copy.deepcopy(model)
    assert duplicate.head.weight is not model.head.weight
    survivors |= {"c"} if tied(duplicate) else set()
    # (d) a clone has its own memory
    model = fresh()
    model.embedding.weight = nn.Parameter(model.head.weight.detach().clone())
    assert not one_memory(model)
    survivors |= {"d"} if tied(model) else set()
    # (e) without assign=True, load_state_dict copies values into the existing Parameters
    model = fresh()
    shared = model.head.weight
    torch.save(model.state_dict(), tmp_path / "tied.pt")
    model.load_state_dict(torch.load(tmp_path / "tied.pt", weights_only=True))
    assert model.head.weight is shared
    survivors |= {"e"} if tied(model) else set()

    assert survivors == {"a", "c", "e"}
    assert_right(capsys, check_tie_survivors, survivors)
