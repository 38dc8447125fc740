"""The placeholder and the not-answered line, for every checker of tying_utils.exercises.

Every checker (01.1 to 09.3, and any a later notebook adds) answers the placeholder `...` with the
not-answered line, as does an answer function that still returns `...`; an answer a checker cannot
read gets one line, not a traceback. test_nb01.py … test_nb09.py hold each notebook's checkers to
their hints, with the helpers of checking.py.
"""

from __future__ import annotations

import inspect

import pytest
from checking import assert_hint, verdict

from tying_utils import exercises as ex
from tying_utils.exercises import (
    NOT_ANSWERED,
    check_rows_changed,
    check_softmax_mse_gradient,
    check_tied_names,
    check_uniform_perplexity,
)

CHECKERS = sorted(name for name, value in vars(ex).items()
                  if name.startswith("check_") and callable(value))


def test_the_not_answered_line_is_the_one_the_course_promises():
    assert NOT_ANSWERED == "⏳ Not answered yet: replace `...` with your answer"


def test_the_checkers_of_every_notebook_are_found():
    assert len(CHECKERS) >= 15


@pytest.mark.parametrize("name", CHECKERS)
def test_every_checker_answers_the_placeholder(name, capsys):
    """Each required argument left as `...` prints exactly the not-answered line."""
    checker = getattr(ex, name)
    assert getattr(checker, "is_exercise_checker", False), f"decorate {name} with exercise_checker"
    required = [p for p in inspect.signature(checker).parameters.values()
                if p.default is inspect.Parameter.empty
                and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    ok, out = verdict(capsys, checker, *[...] * len(required))
    assert ok is False and out == NOT_ANSWERED


@pytest.mark.parametrize("call", [
    lambda: check_rows_changed((..., ..., ...), vocab=10, words_in_batch=3),
    lambda: check_rows_changed((3, 10, ...), vocab=10, words_in_batch=3),
    lambda: check_tied_names([["embedding.weight", "head.weight"]], ...),
    lambda: check_tied_names({"tied": ...}, []),
    lambda: check_uniform_perplexity(..., vocab=10),
])
def test_a_placeholder_left_inside_an_answer_is_not_answered_yet(call, capsys):
    assert call() is False
    assert capsys.readouterr().out.strip() == NOT_ANSWERED


def test_a_function_answer_that_returns_the_placeholder_is_not_answered_yet(capsys):
    def d_logits(probs, one_hot):
        return ...  # replace ... with your answer

    ok, out = verdict(capsys, check_softmax_mse_gradient, d_logits)
    assert ok is False and out == NOT_ANSWERED


def test_an_answer_the_checker_cannot_read_gets_one_line_not_a_traceback(capsys):
    assert_hint(capsys, check_tied_names, "could not be checked (TypeError:",
                [["embedding.weight", "head.weight"]])  # the second answer is missing
