"""The collection's figures, in one style: tied is always blue, untied always orange.

Introduced in notebook 03 (paired_training); used by notebooks 04 and 05, the explorer and the
`compare --plot` command; `plot_sweep` draws notebook 06's width sweep (`sweep --plot`). The
colours are from the Okabe–Ito palette, which stays distinct for the common forms of colour
blindness. Every function draws on an `ax` you give it (or a new one) and returns the axes, so a
notebook can place figures side by side.

One style for the collection: text sizes are `FONT_SIZES` (points), large enough to read when a
notebook shows a figure of up to about 10 inches wide at its default zoom. `new_axes` makes a grid
of axes with those tick labels, and `finish(fig, title)` gives every text of a figure its size,
adds the figure's title (a sentence that states the finding) and lays it out.
"""

from __future__ import annotations

import numpy as np

from .stats import steps_to_threshold

__all__ = [
    "COLORS", "LABELS", "FONT_SIZES", "new_axes", "finish", "plot_pair", "plot_bands",
    "plot_steps", "plot_matrix", "plot_sweep",
]

COLORS = {"tied": "#0072B2", "untied": "#E69F00", "untied (size-matched)": "#009E73"}
LABELS = {"tied": "tied", "untied": "untied", "untied (size-matched)": "untied (size-matched)"}
VARIANTS = ("tied", "untied")
FONT_SIZES = {"ticks": 11, "labels": 12, "title": 12, "legend": 10, "figure_title": 13}


def new_axes(ncols: int = 1, width: float = 6.0, height: float = 3.6, nrows: int = 1):
    """A grid of `nrows` × `ncols` axes from pyplot (so notebooks show them inline), each
    `width` × `height` inches, as a flat list in reading order."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False)
    axes = [ax for row in axes for ax in row]
    for ax in axes:
        ax.tick_params(labelsize=FONT_SIZES["ticks"])
    return fig, axes


def finish(fig, title: str | None = None):
    """Give every text of `fig` the collection's size, add `title` above all panels, lay out."""
    for ax in fig.axes:  # the panels and their colour bars
        ax.tick_params(labelsize=FONT_SIZES["ticks"])
        ax.xaxis.label.set_size(FONT_SIZES["labels"])
        ax.yaxis.label.set_size(FONT_SIZES["labels"])
        ax.title.set_size(FONT_SIZES["title"])
        legend = ax.get_legend()
        if legend is not None:
            for text in legend.get_texts():
                text.set_size(FONT_SIZES["legend"])
    if title:
        fig.suptitle(title, fontsize=FONT_SIZES["figure_title"])
    fig.tight_layout()
    return fig


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
    threshold_label: str | None = None,
    max_points: int = 1000,
):
    """The median curve of each variant over seeds, with a band between two quantiles.

    `losses` maps each variant to a `(seeds, steps)` array; `threshold` draws a dashed line,
    labelled `threshold_label` (default: "threshold" and its value). Long runs are drawn at
    `max_points` evenly spaced steps (the first and the last included): a figure cannot show
    more, and the quantiles of every step of 2000 seeds × 100,000 steps would copy 800 MB.
    """
    ax = ax if ax is not None else new_axes()[1][0]
    low_q, high_q = quantiles
    for variant in VARIANTS:
        curves = np.asarray(losses[variant])
        steps = np.unique(np.linspace(0, curves.shape[1] - 1, min(max_points, curves.shape[1]))
                          .round().astype(int))
        low, mid, high = np.quantile(curves[:, steps], [low_q, 0.5, high_q], axis=0)
        color = COLORS[variant]
        ax.fill_between(steps, low, high, color=color, alpha=0.25, lw=0)
        ax.plot(steps, mid, color=color, lw=1.8,
                label=f"{LABELS[variant]}: median, {low_q:.0%}–{high_q:.0%} band")
    if threshold is not None:
        ax.axhline(threshold, color="0.4", lw=0.8, ls="--",
                   label=threshold_label or f"threshold {threshold:.3g}")
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
    ax.set_xlabel("steps to threshold, tied", fontsize=FONT_SIZES["labels"])
    ax.set_ylabel("steps to threshold, untied", fontsize=FONT_SIZES["labels"])
    ax.set_title(title or f"Steps to loss < {threshold:.3g}, paired by seed",
                 fontsize=FONT_SIZES["title"])
    ax.legend(loc="upper left", fontsize=FONT_SIZES["legend"])
    return ax


def plot_matrix(matrix, ax=None, title: str = "", xlabel: str = "target token",
                ylabel: str = "input token", targets: dict | None = None):
    """A square matrix as an image with a colour bar (e.g. the logit of every input → target).

    `targets` maps a row to its target column (e.g. each trained token to the next token): an
    open square marks the target and a dot the row's largest entry, so a row is right where the
    dot sits in the square. Rows without a target get no marks.
    """
    from matplotlib.lines import Line2D

    ax = ax if ax is not None else new_axes(width=4.4, height=3.8)[1][0]
    matrix = np.asarray(matrix)
    image = ax.imshow(matrix, cmap="viridis")
    colorbar = ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    colorbar.ax.tick_params(labelsize=FONT_SIZES["ticks"])
    if targets:
        rows = np.array(sorted(targets))
        columns = np.array([targets[row] for row in rows])
        ax.scatter(columns, rows, marker="s", s=90, facecolors="none", edgecolors="white",
                   linewidths=1.5)
        ax.scatter(matrix[rows].argmax(axis=1), rows, marker="o", s=18, color="red")
        handles = [
            Line2D([], [], marker="s", markersize=9, markerfacecolor="none",
                   markeredgecolor="0.3", linestyle="none", label="target"),
            Line2D([], [], marker="o", markersize=5, color="red", linestyle="none",
                   label="largest logit"),
        ]
        ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2,
                  frameon=False, fontsize=FONT_SIZES["legend"])
    ax.tick_params(labelsize=FONT_SIZES["ticks"])
    ax.set_title(title, fontsize=FONT_SIZES["title"])
    ax.set_xlabel(xlabel, fontsize=FONT_SIZES["labels"])
    ax.set_ylabel(ylabel, fontsize=FONT_SIZES["labels"])
    return ax


def _finish(ax, title: str, log: bool) -> None:
    if log:
        ax.set_yscale("log")
    ax.tick_params(labelsize=FONT_SIZES["ticks"])
    ax.set_xlabel("training step", fontsize=FONT_SIZES["labels"])
    ax.set_ylabel("loss" + (" (log scale)" if log else ""), fontsize=FONT_SIZES["labels"])
    ax.set_title(title, fontsize=FONT_SIZES["title"])
    ax.legend(fontsize=FONT_SIZES["legend"])


def plot_sweep(result: dict, ax=None, name: str = "tied_minus_untied", label: str | None = None,
               color: str | None = None, widths: bool = True):
    """The sweep's finding on `ax`: x = the embedding's share of the untied model, y = the mean
    paired difference `name` in test perplexity with its 95% interval, one point per width
    (labelled d = … when `widths`; wider models sit further left)."""
    from matplotlib.ticker import PercentFormatter

    ax = ax if ax is not None else new_axes()[1][0]
    points = sorted(result["points"], key=lambda p: p["embedding_share"])
    x = np.array([p["embedding_share"] for p in points])
    mean = np.array([p[name]["mean"] for p in points])
    low, high = (np.array([p[name]["ci95"][i] for p in points]) for i in (0, 1))
    color = color or (COLORS["untied"] if name == "tied_minus_untied"
                      else COLORS["untied (size-matched)"])
    other = "untied" if name == "tied_minus_untied" else "untied (size-matched)"
    seeds = len(points[0][name]["per_seed"])
    ax.errorbar(x, mean, yerr=[mean - low, high - mean], color=color, marker="o", capsize=3,
                label=label or f"tied − {other}: mean and 95% interval over {seeds} seeds")
    if widths:
        for p, xi in zip(points, x):
            ax.annotate(f"d={p['width']}", (xi, 0), textcoords="offset points", xytext=(0, -14),
                        ha="center", fontsize="x-small", color="0.3")
    ax.axhline(0, color="0.4", lw=0.8, ls="--")
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel("input embedding's share of the untied model's parameters (wider models left)")
    ax.set_ylabel("Δ test perplexity (tied − other)")
    ax.legend(fontsize="small")
    return ax
