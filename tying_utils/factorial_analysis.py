"""Reading the factorial of notebook 06 (transformer): paired differences per cell on test
perplexity, main effects and interactions, convergence speed, gradient shares, figures.

Every function takes the `runs` list of `docs/results/factorial.json` (or of `run_factorial`).
A verdict is a paired difference over seeds (seed s trains every variant of a cell on the same
data order with the same seed; tied and untied, of one width, also draw the same dropout masks,
the size-matched model, of another width, draws its own) with its 95% t-interval
(`paired_interval`).
"""

from __future__ import annotations

import math
from itertools import product

import numpy as np

from .reports import VARIANT_LABELS, factorial_text, interval_text, rounded  # noqa: F401 (re-exported)
from .stats import paired_interval

__all__ = ["DIFFERENCES", "cells", "cell_runs", "cell_differences", "effects",
           "THRESHOLD_FACTOR", "tokens_to_threshold", "convergence", "wilson_interval",
           "grad_shares", "rounded", "interval_text", "factorial_table", "plot_curves"]

DIFFERENCES = {"tied_minus_untied": "untied", "tied_minus_size_matched": "untied_size_matched"}
THRESHOLD_FACTOR = 1.25  # the convergence threshold: 1.25 × the worse variant's final perplexity


def cells(runs: list[dict]) -> list[tuple]:
    """The cells (corpus, arch, optimizer, vocab_cap) in the order the runs list them."""
    return list(dict.fromkeys((r["corpus"], r["arch"], r["optimizer"], r["vocab_cap"])
                              for r in runs))


def cell_runs(runs: list[dict], cell: tuple, variant: str) -> list[dict]:
    """One variant's runs of one cell, sorted by seed."""
    chosen = [r for r in runs if (r["corpus"], r["arch"], r["optimizer"], r["vocab_cap"]) == cell
              and r["variant"] == variant]
    return sorted(chosen, key=lambda r: r["seed"])


def cell_differences(runs: list[dict], metric: str = "test_ppl") -> list[dict]:
    """Per cell: the vocabulary, each variant's parameters and mean `metric`, and the paired
    differences tied − untied and tied − size-matched untied with their 95% intervals."""
    table = []
    for cell in cells(runs):
        group = {v: cell_runs(runs, cell, v) for v in VARIANT_LABELS}
        seeds = [r["seed"] for r in group["tied"]]
        if any([r["seed"] for r in g] != seeds for g in group.values()):
            raise ValueError(f"cell {cell} lacks some seed of some variant: runs are unpaired.")
        row = dict(zip(("corpus", "arch", "optimizer", "vocab_cap"), cell))
        row.update(vocab=group["tied"][0]["vocab"], seeds=seeds, lr=group["tied"][0]["lr"],
                   parameters={v: g[0]["parameters"] for v, g in group.items()},
                   mean={v: float(np.mean([r[metric] for r in g])) for v, g in group.items()})
        for name, other in DIFFERENCES.items():
            row[name] = paired_interval([a[metric] - b[metric]
                                         for a, b in zip(group["tied"], group[other])])
        table.append(row)
    return table


def effects(runs: list[dict], corpus: str, name: str = "tied_minus_untied",
            metric: str = "test_ppl") -> dict[str, dict]:
    """Main effects and interactions of architecture, optimizer and vocabulary on the paired
    difference `name`, on one corpus's 2 × 2 × 2 cells: per seed, the contrast (second level −
    first level, averaged over the other factors; an interaction is the difference of such
    differences), then its mean and 95% interval over seeds. The levels are as the runs list
    them (lstm → transformer, sgd → adam, small → large vocabulary)."""
    rows = [r for r in cell_differences(runs, metric) if r["corpus"] == corpus]
    levels = [list(dict.fromkeys(r[f] for r in rows)) for f in ("arch", "optimizer", "vocab_cap")]
    if any(len(lv) != 2 for lv in levels) or len(rows) != 8:
        raise ValueError("effects needs the 2 × 2 × 2 cells of one corpus.")
    per_seed = {(r["arch"], r["optimizer"], r["vocab_cap"]): np.array(r[name]["per_seed"])
                for r in rows}
    names = ("architecture", "optimizer", "vocabulary")
    result = {}
    for mask in product((0, 1), repeat=3):
        if not any(mask):
            continue
        contrast = 0
        for signs in product((0, 1), repeat=3):  # ±1 per factor in the contrast, else average
            weight = math.prod((1 if s else -1) if m else 0.5 for s, m in zip(signs, mask))
            contrast = contrast + weight * per_seed[tuple(lv[s] for lv, s in zip(levels, signs))]
        label = " × ".join(n for n, m in zip(names, mask) if m)
        result[label] = paired_interval(contrast)
    return result


def tokens_to_threshold(curve: list, threshold: float) -> float:
    """Training tokens until the curve first reaches `threshold`, linear between evaluations
    (NaN when it never does)."""
    previous = (0.0, math.inf)
    for tokens, ppl in curve:
        if ppl <= threshold:
            if not math.isfinite(previous[1]):
                return float(tokens)
            fraction = (previous[1] - threshold) / (previous[1] - ppl)
            return previous[0] + fraction * (tokens - previous[0])
        previous = (tokens, ppl)
    return math.nan


def wilson_interval(successes: float, count: int) -> list[float]:
    """The 95% Wilson score interval of a fraction successes / count."""
    z, p = 1.96, successes / count
    centre = (p + z * z / (2 * count)) / (1 + z * z / count)
    half = z * math.sqrt(p * (1 - p) / count + z * z / (4 * count * count)) / (1 + z * z / count)
    return [max(0.0, centre - half), min(1.0, centre + half)]  # not -1e-17 at 0 of n


def convergence(runs: list[dict], other: str = "untied") -> list[dict]:
    """Per cell, notebook 03's statistic at language-model scale: the threshold (THRESHOLD_FACTOR
    × the worse of tied's and `other`'s mean final curve perplexity), the fraction of seeds in
    which tied reaches it first (a tie counts half) with its Wilson interval, and the paired
    difference in tokens to reach it (tied − other) over the seeds where both do."""
    table = []
    for cell in cells(runs):
        tied, rival = cell_runs(runs, cell, "tied"), cell_runs(runs, cell, other)
        worst = max(np.mean([r["curve"][-1][1] for r in g]) for g in (tied, rival))
        threshold = THRESHOLD_FACTOR * float(worst)
        a = np.array([tokens_to_threshold(r["curve"], threshold) for r in tied])
        b = np.array([tokens_to_threshold(r["curve"], threshold) for r in rival])
        a_first = np.where(np.isnan(a), math.inf, a)
        b_first = np.where(np.isnan(b), math.inf, b)
        wins = float(np.sum(a_first < b_first) + 0.5 * np.sum(a_first == b_first))
        both = ~(np.isnan(a) | np.isnan(b))
        row = dict(zip(("corpus", "arch", "optimizer", "vocab_cap"), cell))
        row.update(threshold=threshold, tied_tokens=a.tolist(), other_tokens=b.tolist(),
                   tied_first=wins / len(a), tied_first_ci95=wilson_interval(wins, len(a)),
                   tokens_difference=(paired_interval(a[both] - b[both]) if both.any()
                                      else None))
        table.append(row)
    return table


def grad_shares(runs: list[dict]) -> list[dict]:
    """Per cell, over the tied runs: the output use's share of the tied matrix's gradient at the
    first and the last evaluation (mean and 95% interval over seeds), overall and per
    frequency bucket (None where the vocabulary has no word in the bucket)."""
    table = []
    for cell in cells(runs):
        tied = cell_runs(runs, cell, "tied")
        row = dict(zip(("corpus", "arch", "optimizer", "vocab_cap"), cell))
        for when, index in (("first", 0), ("last", -1)):
            row[when] = paired_interval([r["output_grad_share"][index][1] for r in tied])
            buckets = zip(*[r["output_grad_share_by_bucket"][index][1] for r in tied])
            row[f"{when}_by_bucket"] = [None if None in b else paired_interval(list(b))
                                        for b in buckets]
        table.append(row)
    return table


def factorial_table(result: dict) -> str:
    """The factorial as the command prints it: one row per cell, test perplexity
    (reports.factorial_text)."""
    return factorial_text(cell_differences(result["runs"]))


def plot_curves(runs: list[dict], cell: tuple, ax, variants=("tied", "untied")):
    """The paired validation curves of one cell: per variant the mean over seeds and its 95%
    t-band, against training tokens."""
    from .lm_training import T_975
    from .plots import COLORS

    for variant in variants:
        group = cell_runs(runs, cell, variant)
        tokens = np.array([t for t, _ in group[0]["curve"]])
        ppl = np.array([[p for _, p in r["curve"]] for r in group])
        mean, sd = ppl.mean(0), ppl.std(0, ddof=1)
        half = T_975[max(k for k in T_975 if k <= len(group) - 1)] * sd / math.sqrt(len(group))
        label = VARIANT_LABELS[variant]
        ax.plot(tokens, mean, color=COLORS[label], label=f"{label} ({len(group)} seeds)")
        ax.fill_between(tokens, mean - half, mean + half, color=COLORS[label], alpha=0.25)
    ax.set_xlabel("training tokens seen")
    ax.set_ylabel("validation-subset perplexity")
    ax.set_yscale("log")
    ax.set_title(" · ".join(map(str, cell)), fontsize="small")
    ax.legend(fontsize="x-small")
    return ax
