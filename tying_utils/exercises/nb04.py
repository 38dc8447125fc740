"""Notebook 04 (loss_curves): the fraction of seeds in which tied is first, the task where tying
hurts, and the matched start."""

from __future__ import annotations

import numpy as np

from ..train import RunConfig
from .core import _as_number, _verdict, exercise_checker


@exercise_checker
def check_fraction_tied_faster(answer, tied_steps, untied_steps) -> bool:
    """Exercise 04.1: `answer`, the fraction of seeds in which tied reached the threshold in
    strictly fewer steps, given the paired arrays of steps to threshold (inf = never)."""
    tied_steps, untied_steps = np.asarray(tied_steps, float), np.asarray(untied_steps, float)
    seeds = len(tied_steps)
    value = _as_number(answer)
    if value is None:
        return _verdict(False, "", "Answer with one number, a fraction between 0 and 1.")
    truth = float(np.mean(tied_steps < untied_steps))
    half_a_seed = 0.5 / seeds  # a fraction rounded to the nearest seed still counts

    def near(x: float, scale: float = 1.0) -> bool:
        return abs(value - x * scale) < half_a_seed * scale

    if near(truth):
        return _verdict(True, f"tied is first in {truth:.1%} of the {seeds} paired seeds "
                        "(equal steps count for neither).", "")
    with_equal = float(np.mean(tied_steps <= untied_steps))
    untied_first = float(np.mean(untied_steps < tied_steps))
    both_finite = np.isfinite(tied_steps) & np.isfinite(untied_steps)
    finite_only = (float(np.mean(tied_steps[both_finite] < untied_steps[both_finite]))
                   if both_finite.any() else truth)
    if value > 1 and near(truth, 100):
        hint = f"{value:g} is a percentage: answer with a fraction between 0 and 1."
    elif value > 1 and value.is_integer() and near(truth, seeds):
        hint = (f"{value:g} is a number of seeds: divide by the number of seeds ({seeds}) for "
                "the fraction.")
    elif near(with_equal) and with_equal != truth:
        hint = "You counted equal steps as a win for tied; only strictly fewer steps count."
    elif near(untied_first):
        hint = ("That is the fraction of seeds in which UNTIED was first; the question asks for "
                "tied.")
    elif near(1 - truth):
        hint = ("That is the fraction in which tied was NOT first (untied first, or equal steps); "
                "the question asks for the seeds where tied was first.")
    elif near(finite_only) and finite_only != truth:
        hint = ("You left out the seeds in which a model never reached the threshold (inf "
                "steps). They count too: tied getting there when untied never does is a win for "
                "tied.")
    else:
        hint = ("Compare seed by seed (the arrays are paired), count tied < untied, divide by the "
                "number of seeds; a seed that never got there has inf steps.")
    return _verdict(False, "", hint)


@exercise_checker
def check_where_tying_hurts(task) -> bool:
    """Exercise 04.2: which task, "identity" or "shift", does tying make harder to learn?"""
    if not isinstance(task, str):
        return _verdict(False, "", 'Answer with the task\'s name as a string, "identity" or '
                        '"shift".')
    name = task.strip().strip("'\"").strip().lower()
    name = name.removeprefix("the ").removesuffix(" task").strip()
    if name == "identity":
        return _verdict(False, "", "Identity is where a tied model is at home: its logits "
                        "W Wᵀ + b are a symmetric matrix with each row's squared length on the "
                        "diagonal, and identity wants the diagonal. Which task wants the entry "
                        "beside it?")
    if name != "shift":
        return _verdict(False, "", f'{task!r} is not one of the two tasks: answer "identity" or '
                        '"shift".')
    return _verdict(
        True,
        "shift. A tied model scores token j after token i as W_i·W_j + b_j. To predict "
        "the whole cycle 0 → 1 → … → 9 → 0 it must score i + 1 above i for every i; adding "
        "those inequalities, the biases cancel and Σ W_i·W_{i+1} > Σ |W_i|² is left, which "
        "Cauchy–Schwarz forbids. The shift task's batches of 6 tokens never hold the whole "
        "cycle, and a tied model can fit such a batch: in notebook 04, 90–93% of tied seeds had "
        "fit theirs by step 2000 (every untied seed had), the rest not by then.",
        "",
    )


@exercise_checker
def check_matched_config(config) -> bool:
    """Exercise 04.3: a RunConfig in which sharing is the only difference between the tied and
    the untied model."""
    if not isinstance(config, RunConfig):
        if isinstance(config, str) and config.strip().lower() == "matched":
            return _verdict(False, "", "Right idea; now answer with a whole RunConfig, "
                            "RunConfig(init=…), not only the name of the start.")
        return _verdict(False, "", "Answer with a RunConfig, the settings of one paired "
                        f"experiment, e.g. RunConfig(task=\"identity\"); you gave a "
                        f"{type(config).__name__}.")
    if config.init == "matched":
        return _verdict(True, "with init='matched' the untied embedding starts as a copy "
                        "of the head weight, so at step 0 both models compute the same logits "
                        "and differ only in sharing.", "")
    if config.data_seed is not None:
        return _verdict(False, "", "Both models of a seed already train on the same data (the "
                        "comparison is paired), so fixing data_seed changes nothing between "
                        "them. What else differs between the two models at step 0?")
    return _verdict(False, "", "With init='default' the untied embedding keeps nn.Embedding's "
                    "N(0, 1) start, so the two models differ in two ways. Which init makes the "
                    "untied E start equal to W?")

