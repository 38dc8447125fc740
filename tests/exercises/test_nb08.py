"""Notebook 08's checkers: each right answer passes, each foreseen mistake gets its own hint."""

from __future__ import annotations

import pytest
from checking import verdict

from tying_utils.exercises import NOT_ANSWERED, check_dcp_names, check_pipeline_sync

pytestmark = pytest.mark.usefixtures("one_thread")

TIED = {"embedding.weight", "head.weight"}



@pytest.mark.parametrize("sync, ok, phrase", [
    (lambda a, b: (a + b, a + b), True, "sum of the two uses' gradients"),
    (lambda a, b: ((a + b) / 2, (a + b) / 2), False, "not their mean"),
    (lambda a, b: (a, b), False, "the copies drift apart"),
    (lambda a, b: (a + b, b), False, "different gradients"),
    (lambda a, b: (2 * a, 2 * a), False, "gradient of a weight used twice"),
    (lambda a, b: a + b, False, "Return two tensors"),
    (lambda a, b: 1 / 0, False, "ZeroDivisionError"),
])
def test_pipeline_sync(capsys, sync, ok, phrase):
    got, out = verdict(capsys, check_pipeline_sync, sync)
    assert got is ok and phrase in out


def test_pipeline_sync_not_answered(capsys):
    assert verdict(capsys, check_pipeline_sync, lambda a, b: ...) == (False, NOT_ANSWERED)
    assert verdict(capsys, check_pipeline_sync, ...) == (False, NOT_ANSWERED)


@pytest.mark.parametrize("model, optimizer, ok, phrase", [
    (TIED, {"embedding.weight"}, True, "one per Parameter"),
    (["head.weight", "embedding.weight"], "embedding.weight", True, "one per Parameter"),
    ({"embedding.weight"}, {"embedding.weight"}, False, "how many names"),
    (TIED, {"head.weight"}, False, "which name comes first"),
    (TIED, TIED, False, "which name comes first"),
    (2, 1, False, "set of names"),
])
def test_dcp_names(capsys, model, optimizer, ok, phrase):
    got, out = verdict(capsys, check_dcp_names, model, optimizer)
    assert got is ok and phrase in out


def test_dcp_names_not_answered(capsys):
    assert verdict(capsys, check_dcp_names, ..., {"head.weight"}) == (False, NOT_ANSWERED)
