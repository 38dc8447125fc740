"""Notebook 04 (loss_curves): the claims its cells print, checked here in full.

The notebook keeps the asserts a student learns from and prints the numbers behind the rest;
these tests make the same runs (the same configs and seeds) and assert every claim its prose
and its printed numbers make, so that a change in the package that breaks one fails here.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tying_utils import RunConfig, build_model, compare_curves, default_threshold, train_many

SEEDS = 1000  # the notebook's seeds for the blog's setting and the matched start
ABLATION_SEEDS = 200  # and for every other setting
THRESHOLD = default_threshold("mse", 10)
FLOOR = np.log(2) / 10  # a tied model's cross-entropy floor on the whole cycle, V = 10
BLOG, MATCHED = RunConfig(), RunConfig(init="matched")


@pytest.fixture(scope="module")
def runs():
    """The two 1000-seed runs of sections 1-3."""
    return {config: train_many(config, SEEDS) for config in (BLOG, MATCHED)}


@pytest.fixture(scope="module")
def ablation(runs):
    """Section 3's table: config → (its runs' losses, their PairedSummary), as the notebook
    builds it (the blog's and the matched setting from the first 200 of their 1000 seeds)."""
    table = {}
    for task in ("identity", "shift"):
        for loss in ("mse", "ce"):
            for init in ("seed", "matched"):
                config = RunConfig(init=init, loss=loss, task=task)
                if config in runs:
                    losses = {v: runs[config].losses[v][:ABLATION_SEEDS]
                              for v in ("tied", "untied")}
                    task_run = None
                else:
                    task_run = train_many(config, ABLATION_SEEDS)
                    losses = task_run.losses
                summary = compare_curves(losses["tied"], losses["untied"],
                                         default_threshold(config.loss, config.vocab))
                table[config] = (task_run, summary)
    return table


@pytest.fixture(scope="module")
def fixed_runs():
    """Section 4's runs: the whole cycle and the path, cross-entropy, matched start, lr 0.01."""
    fixed = {task: RunConfig(task=task, loss="ce", init="matched", lr=0.01)
             for task in ("cycle", "path")}
    return {task: train_many(config, ABLATION_SEEDS) for task, config in fixed.items()}


def logit_matrix(weights, tied):
    """Z[s, i, j]: the logit of target j for input token i, in seed s."""
    E = weights["W"] if tied else weights["E"]
    return E @ weights["W"].transpose(1, 2) + weights["b"][:, None, :]


def strictly_first(Z, targets):
    target_logit = Z.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    others = Z.masked_fill(F.one_hot(targets, Z.shape[-1]).bool(), -torch.inf).amax(-1)
    return target_logit > others


def every_token_right(task_run, variant):
    """For each seed: is the target ranked first for every token of the (one) batch?"""
    inputs, targets = task_run.config.batch_of(0)
    Z = logit_matrix(task_run.weights[variant], variant == "tied")[:, inputs]
    return strictly_first(Z, targets.expand(len(Z), -1)).numpy().all(axis=1)


def test_section_2_about_two_seeds_in_three_and_final_losses_of_one_order(runs):
    summary = compare_curves(runs[BLOG].losses["tied"], runs[BLOG].losses["untied"], THRESHOLD)
    assert 0.6 < summary.fraction_tied_faster < 0.75
    assert 0.5 < summary.median_final_tied / summary.median_final_untied < 2


def test_section_3_matched_start_reaches_the_threshold_at_the_same_step_in_a_few_seeds(runs):
    summary = compare_curves(runs[MATCHED].losses["tied"], runs[MATCHED].losses["untied"],
                             THRESHOLD)
    assert 0.01 < summary.fraction_equal < 0.2


@pytest.mark.parametrize("loss", ["mse", "ce"])
def test_claim_1_the_lead_comes_from_the_start(ablation, loss):
    seed_start = ablation[RunConfig(task="identity", loss=loss, init="default")][1]
    matched_start = ablation[RunConfig(task="identity", loss=loss, init="matched")][1]
    assert seed_start.fraction_tied_faster > matched_start.fraction_tied_faster
    assert matched_start.ci95[1] < 0.5, "with a matched start, tied is first in fewer than half"
    assert matched_start.fraction_untied_faster > matched_start.fraction_tied_faster


def test_claim_2_init_changes_the_untied_embedding_only():
    for s in range(100):
        tied_blog = build_model(BLOG, s, tied=True)
        tied_matched = build_model(MATCHED, s, tied=True)
        untied_blog = build_model(BLOG, s, tied=False)
        untied_matched = build_model(MATCHED, s, tied=False)
        assert all(torch.equal(p, q)
                   for p, q in zip(tied_blog.parameters(), tied_matched.parameters()))
        assert torch.equal(untied_blog.head.weight, untied_matched.head.weight)
        assert not torch.equal(untied_blog.embedding.weight, untied_matched.embedding.weight)
        assert torch.equal(untied_matched.embedding.weight, untied_matched.head.weight)


def test_claim_3_on_the_shift_task_tied_is_almost_never_first(ablation):
    shift = [s for config, (_, s) in ablation.items() if config.task == "shift"]
    assert len(shift) == 4
    for summary in shift:
        assert summary.fraction_tied_faster < 0.05
        assert summary.never_tied > 0.25 * summary.seeds, "many tied seeds never reach it"


def test_section_4_most_tied_models_fit_their_shift_batch_by_step_2000(ablation):
    for config, (task_run, _) in ablation.items():
        if config.task != "shift":
            continue
        Z = logit_matrix(task_run.weights["tied"], True)
        fits = []
        for s, seed in enumerate(task_run.seeds):
            inputs, targets = task_run.config.batch_of(int(seed))
            fits.append(bool(strictly_first(Z[s, inputs.reshape(-1)], targets.reshape(-1)).all()))
        assert np.mean(fits) > 0.5, config


def test_section_4_a_run_stopped_earlier_is_the_start_of_the_longer_run(fixed_runs):
    cycle = fixed_runs["cycle"]
    for steps in (50, 250, 1000):
        early = train_many(replace(cycle.config, steps=steps), ABLATION_SEEDS)
        assert np.array_equal(early.losses["tied"], cycle.losses["tied"][:, :steps])
        assert not every_token_right(early, "tied").any()


def test_section_4_tied_models_fit_the_path_later(fixed_runs):
    path = fixed_runs["path"]
    summary = compare_curves(path.losses["tied"], path.losses["untied"], FLOOR)
    assert every_token_right(path, "tied").all() and summary.never_tied == 0
    assert summary.median_steps_tied_ci95[0] > summary.median_steps_untied_ci95[1]
    assert summary.median_steps_tied > 2 * summary.median_steps_untied
