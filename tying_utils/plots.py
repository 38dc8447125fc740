"""The collection's figures, in one style: tied is always blue, untied always orange.

Introduced in notebook 03 (paired_training); used by notebooks 04 and 05, the explorer and the
`compare --plot` command. The colours are from the Okabe–Ito palette, which stays distinct for
the common forms of colour blindness. Every function draws on an `ax` you give it (or a new one)
and returns the axes, so a notebook can place figures side by side.
"""

from __future__ import annotations

import numpy as np

from .stats import steps_to_threshold

__all__ = ["COLORS", "LABELS", "new_axes", "plot_pair", "plot_bands", "plot_steps", "plot_matrix"]

COLORS = {"tied": "#0072B2", "untied": "#E69F00", "untied (size-matched)": "#009E73"}
LABELS = {"tied": "tied", "untied": "untied", "untied (size-matched)": "untied (size-matched)"}
VARIANTS = ("tied", "untied")


def new_axes(ncols: int = 1, width: float = 6.0, height: float = 3.6):
    """A row of `ncols` axes from pyplot (so notebooks show them inline)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, ncols, figsize=(width * ncols, height), squeeze=False)
    return fig, list(axes[0])


def plot_pair(losses: dict, ax=None, title: str | None = None, log: bool = False):
    """The blog's figure: one loss curve per variant."""
    ax = ax if ax is not None else new_axes()[1][0]
    for variant in VARIANTS:
        ax.plot(losses[variant], color=COLORS[variant], label=LABELS[variant], lw=1.5)
    _finish(ax, title or "One seed, one curve each", log)
    return ax


def plot_bands(
    losses: dict,
    ax=None,
    title: str | None = None,
    quantiles: tuple[float, float] = (0.1, 0.9),
    log: bool = True,
    threshold: float | None = None,
):
    """The median curve of each variant over seeds, with a band between two quantiles.

    `losses` maps each variant to a `(seeds, steps)` array.
    """
    ax = ax if ax is not None else new_axes()[1][0]
    low_q, high_q = quantiles
    for variant in VARIANTS:
        curves = np.asarray(losses[variant])
        low, mid, high = np.quantile(curves, [low_q, 0.5, high_q], axis=0)
        steps = np.arange(curves.shape[1])
        color = COLORS[variant]
        ax.fill_between(steps, low, high, color=color, alpha=0.25, lw=0)
        ax.plot(steps, mid, color=color, lw=1.8,
                label=f"{LABELS[variant]}: median, {low_q:.0%}–{high_q:.0%} band")
    if threshold is not None:
        ax.axhline(threshold, color="0.4", lw=0.8, ls="--", label=f"threshold {threshold:.3g}")
    n_seeds = len(np.asarray(losses[VARIANTS[0]]))
    _finish(ax, title or f"Loss over {n_seeds} seeds", log)
    return ax


def plot_steps(losses: dict, threshold: float, ax=None, title: str | None = None):
    """Paired steps to threshold: one dot per seed, tied against untied.

    Dots above the diagonal are seeds where tied got there first. Seeds that never reached the
    threshold sit on the plot's edge.
    """
    ax = ax if ax is not None else new_axes(width=4.2, height=4.2)[1][0]
    steps = {v: steps_to_threshold(losses[v], threshold) for v in VARIANTS}
    n_steps = np.asarray(losses["tied"]).shape[-1]
    shown = {v: np.where(np.isinf(s), n_steps, s) for v, s in steps.items()}
    tied_first = steps["tied"] < steps["untied"]
    ax.scatter(shown["tied"][tied_first], shown["untied"][tied_first], s=8, alpha=0.5,
               color=COLORS["tied"], label=f"tied first ({tied_first.mean():.0%})")
    ax.scatter(shown["tied"][~tied_first], shown["untied"][~tied_first], s=8, alpha=0.5,
               color=COLORS["untied"], label=f"untied first or equal ({(~tied_first).mean():.0%})")
    ax.plot([0, n_steps], [0, n_steps], color="0.4", lw=0.8, ls="--")
    ax.set_xlabel("steps to threshold, tied")
    ax.set_ylabel("steps to threshold, untied")
    ax.set_title(title or f"Steps to loss < {threshold:.3g}, paired by seed")
    ax.legend(loc="upper left", fontsize="small")
    return ax


def plot_matrix(matrix, ax=None, title: str = "", xlabel: str = "target token",
                ylabel: str = "input token"):
    """A square matrix as an image with a colour bar (e.g. the logit of every input → target)."""
    ax = ax if ax is not None else new_axes(width=4.0, height=3.6)[1][0]
    matrix = np.asarray(matrix)
    image = ax.imshow(matrix, cmap="viridis")
    ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return ax


def _finish(ax, title: str, log: bool) -> None:
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel("loss" + (" (log scale)" if log else ""))
    ax.set_title(title)
    ax.legend(fontsize="small")
