"""The interactive explorer that ends notebook 04 (loss_curves): "Try it yourself".

    from tying_utils.explorer import explorer
    explorer()

Pick a task, a loss, an initialisation and the sizes, press Train, and see the loss curves of
tied and untied models over many seeds (median and a 10–90 % band), with a one-line summary of
how often tied reached the threshold first. It starts at the blog's setting (identity task, MSE
on the softmax, each module's own init, 10 tokens, dimension 3, Adam with lr 1e-3, 2000 steps).

Only the Train button trains, so typing in a box never starts a run. Settings outside the
explorer's limits (stated under the controls) get one sentence in the widget and leave the last
plot in place; the widget never shows a traceback.
"""

from __future__ import annotations

import html
import io
import math
import time

import ipywidgets as widgets

from .plots import plot_bands
from .stats import PairedSummary, compare_curves, default_threshold
from .tasks import TASKS
from .train import INITS, LOSSES, ManyRun, RunConfig, estimated_bytes, train_many

__all__ = ["explorer", "Explorer", "DEFAULTS", "EXPLORER_LIMITS", "MAX_WORK", "MAX_BYTES"]

# The blog's setting; 100 seeds train in well under a second on a 2-core CPU.
DEFAULTS = {
    "task": "identity", "loss": "mse", "init": "seed",
    "vocab": 10, "dim": 3, "lr": 1e-3, "steps": 2000, "seeds": 100,
}

# Smaller than train.LIMITS, so that one click gives an answer in seconds, not minutes.
EXPLORER_LIMITS = {"vocab": (2, 1000), "dim": (1, 256), "steps": (1, 20_000), "seeds": (1, 2000)}
MAX_LR = 1.0
# The time of a run grows with seeds × steps × vocab × dim: 1000 seeds × 2000 steps of the blog's
# 10 × 3 models is 60 million and takes a few seconds; the cap allows about five times that.
MAX_WORK = 300_000_000
MAX_BYTES = 500_000_000  # train.estimated_bytes of the run

NAMES = {"vocab": "vocabulary size", "dim": "dimension", "steps": "steps", "seeds": "seeds"}

LIMITS_TEXT = (
    "Limits: "
    + ", ".join(f"{NAMES[name]} {low:,}–{high:,}" for name, (low, high) in EXPLORER_LIMITS.items())
    + f", learning rate above 0 and at most {MAX_LR:g}; "
    f"seeds × steps × vocabulary × dimension at most {MAX_WORK / 1e6:,.0f} million, "
    f"and about {MAX_BYTES / 1e6:,.0f} MB of memory at most."
)


def explorer(**settings) -> Explorer:
    """The explorer at the blog's setting, already trained once; show it as a cell's last line.

    Keyword arguments override `DEFAULTS`, e.g. `explorer(task="shift", loss="ce")`.
    """
    return Explorer(**settings)


class Explorer:
    """The widget (`.widget`) and its parts, so that a test can drive it like a reader would.

    Controls: `.task`, `.loss`, `.init`, `.vocab`, `.dim`, `.lr`, `.steps`, `.seeds`, `.button`.
    Results: `.progress`, `.message`, `.image` (a PNG), `.summary`, and `.last_run`
    (the `ManyRun` behind the plot) with `.last_summary` (its `PairedSummary`).
    """

    def __init__(self, train_now: bool = True, **settings):
        unknown = set(settings) - set(DEFAULTS)
        if unknown:
            raise ValueError(
                f"unknown explorer setting {', '.join(sorted(unknown))}; "
                f"choose from {', '.join(DEFAULTS)}."
            )
        values = {**DEFAULTS, **settings}
        wide = {"description_width": "initial"}
        box = widgets.Layout(width="190px")

        def choice(name, options):
            if values[name] not in options:
                raise ValueError(f"unknown {name} {values[name]!r}; choose one of "
                                 f"{', '.join(options)}.")
            return widgets.Dropdown(options=options, value=values[name], description=name,
                                    style=wide, layout=box)

        def number(name, kind, description):
            # Text boxes, not sliders: a slider clamps, and the explorer should explain a bad
            # value instead of silently changing it. They update only on Enter or leaving the box.
            return kind(value=values[name], description=description, style=wide, layout=box,
                        continuous_update=False)

        self.task = choice("task", TASKS)
        self.loss = choice("loss", LOSSES)
        self.init = choice("init", INITS)
        self.vocab = number("vocab", widgets.IntText, "vocabulary")
        self.dim = number("dim", widgets.IntText, "dimension")
        self.lr = number("lr", widgets.FloatText, "learning rate")
        self.steps = number("steps", widgets.IntText, "steps")
        self.seeds = number("seeds", widgets.IntText, "seeds")
        self.button = widgets.Button(description="Train", button_style="primary", icon="play",
                                     layout=box)
        self.progress = widgets.IntProgress(value=0, min=0, max=1, description="training",
                                            style=wide, layout=widgets.Layout(width="400px"))
        self.message = widgets.HTML()
        self.image = widgets.Image(format="png", layout=widgets.Layout(max_width="720px"))
        self.summary = widgets.HTML()
        self.output = widgets.Output()  # anything a callback prints lands here, not in the log
        self.last_run: ManyRun | None = None
        self.last_summary: PairedSummary | None = None
        self.last_seconds: float | None = None

        self.button.on_click(self._on_click)
        limits = widgets.HTML(
            f'<div style="font-size: smaller; line-height: 1.4">{html.escape(LIMITS_TEXT)}</div>'
        )
        self.widget = widgets.VBox([
            widgets.HTML("<b>Try it yourself:</b> choose a setting and press Train."),
            widgets.HBox([self.task, self.loss, self.init]),
            widgets.HBox([self.vocab, self.dim, self.lr]),
            widgets.HBox([self.steps, self.seeds, self.button]),
            limits,
            self.progress,
            self.message,
            self.image,
            self.summary,
            self.output,
        ])
        if train_now:
            self.train()

    # Shown as the last expression of a cell: the widget in a notebook, one line elsewhere.
    def _repr_mimebundle_(self, **kwargs):
        bundle = self.widget._repr_mimebundle_(**kwargs) or {}
        bundle["text/plain"] = "Explorer: run this cell in JupyterLab, Notebook or Colab to use it."
        return bundle

    def settings(self) -> tuple[RunConfig, int]:
        """The run the controls ask for, or a ValueError with one sentence saying what is wrong."""
        numbers = {name: getattr(self, name).value for name in EXPLORER_LIMITS}
        for name, (low, high) in EXPLORER_LIMITS.items():
            if not low <= numbers[name] <= high:
                raise ValueError(f"The {NAMES[name]} must be a whole number from {low} to "
                                 f"{high:,}, not {numbers[name]:,}.")
        lr = self.lr.value
        if not (math.isfinite(lr) and 0 < lr <= MAX_LR):
            raise ValueError(f"The learning rate must be above 0 and at most {MAX_LR:g}, "
                             f"not {lr:g}.")
        work = numbers["seeds"] * numbers["steps"] * numbers["vocab"] * numbers["dim"]
        if work > MAX_WORK:
            raise ValueError(
                f"Seeds × steps × vocabulary × dimension is {work / 1e6:,.0f} million, over the "
                f"explorer's {MAX_WORK / 1e6:,.0f} million: use fewer seeds or steps, or a "
                "smaller vocabulary or dimension."
            )
        config = RunConfig(task=self.task.value, loss=self.loss.value, init=self.init.value,
                           vocab=numbers["vocab"], dim=numbers["dim"], steps=numbers["steps"],
                           lr=float(lr))
        needed = estimated_bytes(config, numbers["seeds"])
        if needed > MAX_BYTES:
            raise ValueError(
                f"This run would need about {needed / 1e6:,.0f} MB, over the explorer's "
                f"{MAX_BYTES / 1e6:,.0f} MB: use fewer seeds or steps, or a smaller vocabulary "
                "or dimension."
            )
        return config, numbers["seeds"]

    def train(self) -> bool:
        """Train with the current settings and show the result; True if it worked.

        Bad settings, or a run that fails, show one sentence in `.message` and leave the last
        plot and summary as they were.
        """
        try:
            config, seeds = self.settings()
        except ValueError as error:
            self._say(str(error), problem=True)
            return False
        self.button.disabled = True
        self.progress.max, self.progress.value = config.steps, 0
        self._say(f"Training {seeds:,} seeds × {config.steps:,} steps …")
        start = time.perf_counter()
        try:
            run = train_many(config, seeds, progress=self._on_progress)
            threshold = default_threshold(config.loss, config.vocab)
            summary = compare_curves(run.losses["tied"], run.losses["untied"], threshold)
            png = render_png(run, summary)
        except Exception as error:  # the widget shows a sentence, never a traceback
            reason = str(error).rstrip(".") or type(error).__name__
            self._say(f"Training failed ({reason}); try smaller settings.", problem=True)
            return False
        finally:
            self.button.disabled = False
        self.last_seconds = time.perf_counter() - start
        self.image.value = png
        self.summary.value = f"<b>Summary:</b> {html.escape(summary.sentence())}."
        self.last_run, self.last_summary = run, summary
        self._say(f"Trained {seeds:,} seeds × {config.steps:,} steps in "
                  f"{self.last_seconds:.1f} s.")
        return True

    def _on_click(self, _button) -> None:
        with self.output:
            self.train()

    def _on_progress(self, done: int, total: int) -> None:
        self.progress.value = done

    def _say(self, text: str, problem: bool = False) -> None:
        color = "#B00020" if problem else "#444444"
        self.message.value = f'<span style="color: {color}">{html.escape(text)}</span>'


def render_png(run: ManyRun, summary: PairedSummary) -> bytes:
    """The bands of both variants as a small PNG, drawn on a `Figure` (no pyplot, no flicker)."""
    from matplotlib.figure import Figure  # imported here, so `import tying_utils` stays quick

    config = run.config
    figure = Figure(figsize=(7.0, 3.6), dpi=90, layout="constrained")
    ax = figure.add_subplot()
    low, high = summary.ci95
    title = (f"Tied reached loss {summary.threshold:.3g} first in "
             f"{summary.fraction_tied_faster:.0%} of {summary.seeds} seeds "
             f"(95% CI {low:.0%}–{high:.0%})\n{config.task}, {config.loss}, {config.init} init, "
             f"vocab {config.vocab}, dim {config.dim}, lr {config.lr:g}, {config.steps} steps")
    plot_bands(run.losses, ax=ax, title=title, threshold=summary.threshold)
    ax.title.set_fontsize("medium")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
