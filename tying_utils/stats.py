"""Numbers that summarise loss curves, and paired comparisons with bootstrap intervals.

Introduced in notebook 03 (paired_training); used by notebook 04, the explorer and the `compare`
command. `paired_interval`, the t-interval of a mean over a few seeds, is the language models'
(notebooks 05 and 06, the `lm` and `sweep` commands).

A comparison is *paired*: row `i` of the tied curves and row `i` of the untied curves come from the
same seed (same head initialisation, same data), so we compare them seed by seed and resample
seeds, not curves, when we bootstrap.

Curves can be large (2000 seeds × 20,000 steps are 160 MB in float32), so nothing here copies
them whole: comparisons and sums read the curves as they are, in their own precision.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

__all__ = [
    "uniform_guess_loss",
    "default_threshold",
    "steps_to_threshold",
    "area_under_curve",
    "final_loss",
    "bootstrap_ci",
    "PairedSummary",
    "compare_curves",
    "T_975",
    "paired_interval",
]


def uniform_guess_loss(loss: str, vocab: int) -> float:
    """The loss of a model that gives every token probability 1/vocab.

    MSE on the softmax: one output is off by 1 - 1/V, the other V - 1 by 1/V, averaged over V
    outputs, which is (V - 1) / V². Cross-entropy: ln V.
    """
    if loss == "mse":
        return (vocab - 1) / vocab**2
    if loss == "ce":
        return math.log(vocab)
    raise ValueError(f"unknown loss {loss!r}; choose one of mse, ce.")


def default_threshold(loss: str, vocab: int) -> float:
    """A tenth of the uniform-guess loss: the bar "converged" means in this course, unless a
    threshold is given. For the blog's setting (MSE, 10 tokens) it is 0.009."""
    return 0.1 * uniform_guess_loss(loss, vocab)


def steps_to_threshold(losses, threshold: float) -> np.ndarray:
    """For each curve (last axis = steps), the first step index whose loss is below `threshold`.

    A curve that never gets below it gives `inf`, so it counts as slower than any curve that does.
    """
    losses = _curves(losses)
    below = losses < _same_comparison(threshold, losses.dtype)
    first = below.argmax(axis=-1).astype(float)
    return np.where(below.any(axis=-1), first, np.inf)


def area_under_curve(losses) -> np.ndarray:
    """The sum of the recorded losses over all steps (each step has width 1): lower is better,
    and it rewards falling early as well as ending low. Summed in float64."""
    return _curves(losses).sum(axis=-1, dtype=np.float64)


def final_loss(losses) -> np.ndarray:
    """The loss recorded at the last step of each curve."""
    return _curves(losses)[..., -1].astype(np.float64)


def _curves(losses) -> np.ndarray:
    """`losses` as a NumPy array of floats, without a copy when it already is one."""
    losses = np.asarray(losses)
    return losses if np.issubdtype(losses.dtype, np.floating) else losses.astype(np.float64)


def _same_comparison(threshold: float, dtype) -> np.floating:
    """The number of type `dtype` that gives `loss < it` exactly when `loss < threshold`.

    A float32 loss compared with the float64 threshold would need a float64 copy of all curves.
    Instead: the smallest float32 that is not below the threshold. A float32 loss is below the
    threshold exactly when it is below that number, because no float32 lies between them.
    """
    threshold = float(threshold)
    with np.errstate(over="ignore"):  # a threshold beyond the type's range becomes ±inf
        converted = np.asarray(threshold, dtype=dtype)[()]
    if np.isfinite(converted) and float(converted) < threshold:
        converted = np.nextafter(converted, np.asarray(np.inf, dtype=dtype))
    return converted


def bootstrap_ci(
    values, statistic=np.mean, level: float = 0.95, resamples: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """A percentile bootstrap interval for `statistic(values)`, resampling along the first axis.

    `values` may be 2-D (seeds × quantities) when the statistic needs paired columns.
    `statistic` must take an `axis` argument (np.mean, np.median, …).
    """
    values = np.asarray(values, dtype=float)
    if len(values) == 0:
        raise ValueError("bootstrap_ci needs at least one value, got none.")
    rng = np.random.default_rng(seed)
    # Resampled in blocks of at most 2**20 values, so that 20,000 seeds need 25 MB, not 1 GB;
    # the generator gives the same picks in blocks as in one call.
    block = max(1, 2**20 // len(values))
    stats = []
    for done in range(0, resamples, block):
        picks = rng.integers(0, len(values), size=(min(block, resamples - done), len(values)))
        stats.append(statistic(values[picks], axis=1))
    stats = np.concatenate(stats)
    # "inverted_cdf" picks resampled values themselves, so it never interpolates towards inf.
    low, high = np.quantile(stats, [(1 - level) / 2, (1 + level) / 2], method="inverted_cdf")
    return float(low), float(high)


@dataclass(frozen=True)
class PairedSummary:
    """What a paired many-seed comparison of tied and untied curves found."""

    seeds: int
    threshold: float
    fraction_tied_faster: float  # tied reached the threshold in strictly fewer steps
    fraction_equal: float
    fraction_untied_faster: float
    ci95: tuple[float, float]  # bootstrap interval of fraction_tied_faster
    median_steps_tied: float  # inf when most tied seeds never reach the threshold
    median_steps_tied_ci95: tuple[float, float]
    median_steps_untied: float
    median_steps_untied_ci95: tuple[float, float]
    never_tied: int  # seeds whose curve never got below the threshold
    never_untied: int
    median_final_tied: float
    median_final_untied: float
    fraction_tied_lower_auc: float  # tied has the smaller area under the curve
    fraction_tied_lower_auc_ci95: tuple[float, float]

    def as_dict(self) -> dict:
        return asdict(self)

    def sentence(self) -> str:
        """One line for a figure title, a table or the explorer."""
        low, high = self.ci95
        return (
            f"tied reached {self.threshold:.3g} first in {self.fraction_tied_faster:.0%} of "
            f"{self.seeds} seeds (95% CI {low:.0%}–{high:.0%}); median steps "
            f"{_steps(self.median_steps_tied)} tied vs {_steps(self.median_steps_untied)} untied"
        )


def compare_curves(tied, untied, threshold: float, seed: int = 0) -> PairedSummary:
    """Compare paired loss curves `(seeds, steps)` of the two variants."""
    tied, untied = _curves(tied), _curves(untied)
    if tied.shape != untied.shape or tied.ndim != 2 or len(tied) == 0:
        raise ValueError(
            f"compare_curves needs two (seeds, steps) arrays of one shape, got {tied.shape} "
            f"and {untied.shape}."
        )
    steps_t, steps_u = steps_to_threshold(tied, threshold), steps_to_threshold(untied, threshold)
    faster = (steps_t < steps_u).astype(float)
    lower_auc = (area_under_curve(tied) < area_under_curve(untied)).astype(float)
    return PairedSummary(
        seeds=len(tied),
        threshold=float(threshold),
        fraction_tied_faster=float(faster.mean()),
        fraction_equal=float((steps_t == steps_u).mean()),
        fraction_untied_faster=float((steps_u < steps_t).mean()),
        ci95=bootstrap_ci(faster, seed=seed),
        median_steps_tied=float(np.median(steps_t)),
        median_steps_tied_ci95=bootstrap_ci(steps_t, np.median, seed=seed),
        median_steps_untied=float(np.median(steps_u)),
        median_steps_untied_ci95=bootstrap_ci(steps_u, np.median, seed=seed),
        never_tied=int(np.isinf(steps_t).sum()),
        never_untied=int(np.isinf(steps_u).sum()),
        median_final_tied=float(np.median(final_loss(tied))),
        median_final_untied=float(np.median(final_loss(untied))),
        fraction_tied_lower_auc=float(lower_auc.mean()),
        fraction_tied_lower_auc_ci95=bootstrap_ci(lower_auc, seed=seed),
    )


# --- a mean over few seeds: the t-interval (notebooks 05 and 06, the `lm` and `sweep` commands) --

# Student's t quantile for a two-sided 95% interval, by degrees of freedom (seeds - 1).
T_975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306,
         9: 2.262, 10: 2.228, 11: 2.201, 12: 2.179, 13: 2.160, 14: 2.145, 15: 2.131, 16: 2.120,
         17: 2.110, 18: 2.101, 19: 2.093, 20: 2.086, 25: 2.060, 30: 2.042, 40: 2.021, 60: 2.000,
         120: 1.980}


def paired_interval(differences) -> dict:
    """Mean of paired differences (one per seed) and its 95% t-interval: mean ± t · sd / √n.
    With one seed the interval is unknown (NaN)."""
    values = np.asarray(differences, dtype=float)
    if values.ndim != 1 or len(values) == 0:
        raise ValueError("paired_interval needs a list of at least one difference.")
    mean = float(values.mean())
    if len(values) < 2:
        return {"mean": mean, "ci95": [math.nan, math.nan], "per_seed": values.tolist()}
    df = len(values) - 1
    t = T_975[max(k for k in T_975 if k <= df)]  # between table rows: the wider interval
    half = t * float(values.std(ddof=1)) / math.sqrt(len(values))
    return {"mean": mean, "ci95": [mean - half, mean + half], "per_seed": values.tolist()}


def _steps(value: float) -> str:
    return "never" if math.isinf(value) else f"{value:.0f}"
