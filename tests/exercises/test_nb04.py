"""Notebook 04 (loss_curves): its "Check yourself" checkers. For each exercise the right answer
passes, and each wrong answer listed in the exercise's design gets the hint that names its
mistake (asserted by a distinctive phrase). Where a hint states a fact about PyTorch or about
tied models, a test here runs the code that shows it.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from checking import assert_hint, assert_right

from tying_utils import RunConfig, build_model, train_many
from tying_utils.exercises import (
    check_fraction_tied_faster,
    check_matched_config,
    check_where_tying_hurts,
)

# Ten paired seeds by hand: tied first in 4 (2 of them because untied never got there, inf),
# equal in 2, untied first in 4 (1 because tied never got there). Of the 7 seeds where both got
# there, tied was first in 2.
TIED_STEPS = np.array([100, 200, 300, 400, 500, 600, 700, 800, 900, np.inf])
UNTIED_STEPS = np.array([150, 250, np.inf, np.inf, 500, 600, 650, 750, 850, 950])


def test_fraction_tied_faster_right(capsys):
    assert_right(capsys, check_fraction_tied_faster, 0.4, TIED_STEPS, UNTIED_STEPS,
                 phrase="40.0% of the 10 paired seeds")
    assert_right(capsys, check_fraction_tied_faster, np.mean(TIED_STEPS < UNTIED_STEPS),
                 TIED_STEPS, UNTIED_STEPS)
    assert_right(capsys, check_fraction_tied_faster, torch.tensor(0.4), TIED_STEPS, UNTIED_STEPS)


def test_fraction_tied_faster_right_on_a_real_run(capsys):
    from tying_utils import default_threshold, steps_to_threshold

    run = train_many(RunConfig(steps=400, lr=0.01), 20)
    threshold = default_threshold("mse", 10)
    tied = steps_to_threshold(run.losses["tied"], threshold)
    untied = steps_to_threshold(run.losses["untied"], threshold)
    answer = float(np.mean(tied < untied))
    assert_right(capsys, check_fraction_tied_faster, answer, tied, untied)
    assert_right(capsys, check_fraction_tied_faster, round(answer, 2), tied, untied)


@pytest.mark.parametrize("answer, hint", [
    (40, "is a percentage"),
    (4, "is a number of seeds"),
    (0.6, "counted equal steps as a win for tied"),  # tied <= untied
    (0.47, "Compare seed by seed"),
    (0.5, "Compare seed by seed"),
    (2 / 7, "You left out the seeds in which a model never reached"),  # finite seeds only
    ("0.4", "Answer with one number"),
    (True, "Answer with one number"),
])
def test_fraction_tied_faster_wrong_gets_a_hint(answer, hint, capsys):
    assert_hint(capsys, check_fraction_tied_faster, hint, answer, TIED_STEPS, UNTIED_STEPS)


def test_fraction_tied_faster_names_the_untied_fraction_and_the_complement(capsys):
    tied = np.array([1.0, 2, 3, 4, 4])
    untied = np.array([2.0, 1, 1, 1, 4])  # tied first 1/5, untied first 3/5, equal 1/5
    assert_hint(capsys, check_fraction_tied_faster, "UNTIED was first", 0.6, tied, untied)
    assert_hint(capsys, check_fraction_tied_faster, "tied was NOT first", 0.8, tied, untied)


@pytest.mark.parametrize("answer", ["shift", "Shift", " SHIFT ", "'shift'", "the shift task"])
def test_where_tying_hurts_right(answer, capsys):
    assert_right(capsys, check_where_tying_hurts, answer, phrase="Cauchy–Schwarz")


@pytest.mark.parametrize("answer, hint", [
    ("identity", "a tied model is at home"),  # the misconception: tying helps, so it hurts there
    ("Identity", "a tied model is at home"),
    ("both", 'answer "identity" or "shift"'),
    ("cycle", 'answer "identity" or "shift"'),
    (1, "as a string"),
    (None, "as a string"),
])
def test_where_tying_hurts_wrong_gets_a_hint(answer, hint, capsys):
    assert_hint(capsys, check_where_tying_hurts, hint, answer)


def tied_ranks_next_token_first(run, tokens):
    """Per seed: does the trained tied model rank (x + 1) first for every input x of `tokens`?"""
    weights = run.weights["tied"]
    logits = weights["W"] @ weights["W"].transpose(-1, -2) + weights["b"][:, None, :]
    vocab = logits.shape[-1]
    return (logits[:, tokens].argmax(-1) == (tokens + 1) % vocab).all(-1)


def test_the_shift_praise_no_tied_model_predicts_the_whole_cycle(one_thread):
    run = train_many(RunConfig(task="cycle", loss="ce", steps=1500, lr=0.01), 8)
    assert not tied_ranks_next_token_first(run, torch.arange(10)).any()


def test_the_shift_praise_a_tied_model_can_fit_a_batch_that_misses_a_token(one_thread):
    """The path 0 → 1 → … → 9 holds every constraint of a shift batch that misses a token of the
    cycle, up to renaming the tokens; some tied models of dimension 3 rank all of it first."""
    run = train_many(RunConfig(task="path", loss="ce", steps=1500, lr=0.01), 8)
    assert tied_ranks_next_token_first(run, torch.arange(9)).any()


@pytest.mark.parametrize("config", [RunConfig(init="matched"),
                                    RunConfig(init="matched", loss="ce", task="shift")])
def test_matched_config_right(config, capsys):
    assert_right(capsys, check_matched_config, config, phrase="differ only in sharing")


@pytest.mark.parametrize("answer, hint", [
    (RunConfig(), "With init='default'"),  # the blog's setting, two differences
    (RunConfig(loss="ce"), "With init='default'"),
    (RunConfig(data_seed=0), "already train on the same data"),  # the misconception: the data
    ("matched", "Right idea; now answer with a whole RunConfig"),
    ({"init": "matched"}, "you gave a dict"),
    (build_model(RunConfig(init="matched"), 0, tied=False), "you gave a EmbedHead"),
])
def test_matched_config_wrong_gets_a_hint(answer, hint, capsys):
    assert_hint(capsys, check_matched_config, hint, answer)


def test_matched_start_gives_equal_logits_at_step_zero():
    """The praise: with init='matched' the tied and untied model of a seed start identical."""
    config = RunConfig(init="matched")
    tied, untied = build_model(config, 3, tied=True), build_model(config, 3, tied=False)
    tokens = torch.arange(10)
    assert torch.equal(tied(tokens), untied(tokens))
