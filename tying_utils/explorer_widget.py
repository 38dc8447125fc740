"""The interactive explorer that ends notebook 04 (loss_curves): "Try it yourself".

    from tying_utils import explorer
    explorer()

This module is the widget; `tying_utils.explorer` is its function `explorer` (the package's
`__init__.py` says so), and the module's old path still imports: `from tying_utils.explorer
import explorer` is what notebook 04 writes.

Pick a task, a loss, an initialisation and the sizes, press Train, and see the loss curves of
tied and untied models over many seeds (median and a 10–90 % band), with a one-line summary of
how often tied reached the threshold first. It starts at the blog's setting (identity task, MSE
on the softmax, each module's own init, 10 tokens, dimension 3, Adam with lr 1e-3, 2000 steps).

Only the Train button trains, so typing in a box never starts a run. Settings outside the
explorer's limits (stated under the controls) get one sentence in the widget and leave the last
plot in place; the widget never shows a traceback.

It runs with ipywidgets 7.6 and later (7.7.1 is what Colab ships) as well as 8; ipywidgets is
imported only when an explorer is made, so `import tying_utils` stays quick without it.
"""

from __future__ import annotations

import html
import io
import math
import numbers
import time

import numpy as np

from .options import EXPLORER_RANGES
from .plots import COLORS, LABELS
from .runtime import threads_for
from .stats import PairedSummary, compare_curves, default_threshold
from .tasks import TASKS
from .train import INITS, LOSSES, VARIANTS, ManyRun, RunConfig, estimated_bytes, train_many

__all__ = ["explorer", "Explorer", "DEFAULTS", "EXPLORER_LIMITS", "MAX_WORK", "MAX_BYTES",
           "render_png", "BandPlot"]

# The blog's setting; 100 seeds train in a fraction of a second on one CPU thread.
DEFAULTS = {
    "task": "identity", "loss": "mse", "init": "default",
    "vocab": 10, "dim": 3, "lr": 1e-3, "steps": 2000, "seeds": 100,
}

# Smaller than the trainer's ranges, so that one click gives an answer in seconds, not minutes:
# options.py derives them from those (`EXPLORER_RANGES`), beside the command line's.
EXPLORER_LIMITS = EXPLORER_RANGES
MAX_LR = 1.0
# The time of a run grows with seeds × steps × vocabulary × dimension: 2000 seeds × 20,000 steps
# of the blog's 10 × 3 models is 1.2 billion and would take half a minute; the cap is a quarter.
MAX_WORK = 300_000_000
MAX_BYTES = 500_000_000  # train.estimated_bytes of the run: training, statistics and plot
PLOTTED_STEPS = 400  # the bands are drawn through at most this many steps (enough for 720 pixels)

NAMES = {"vocab": "vocabulary size", "dim": "dimension", "steps": "steps", "seeds": "seeds"}
TEXT_PLAIN = "Explorer: run this cell in JupyterLab, Notebook, VS Code or Colab to use it."
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"

LIMITS_TEXT = (
    "Limits: "
    + ", ".join(f"{NAMES[name]} {low:,}–{high:,}" for name, (low, high) in EXPLORER_LIMITS.items())
    + f", learning rate above 0 and at most {MAX_LR:g}; "
    f"seeds × steps × vocabulary × dimension at most {MAX_WORK / 1e6:,.0f} million, "
    f"and about {MAX_BYTES / 1e6:,.0f} MB of memory at most."
)

IDLE = "ready"  # what the progress bar says between runs


def explorer(**settings) -> Explorer:
    """The explorer at the blog's setting, already trained once; show it as a cell's last line.

    Keyword arguments override `DEFAULTS`, e.g. `explorer(task="shift", loss="ce")`;
    `train_now=False` shows it without training.
    """
    return Explorer(**settings)


class Explorer:
    """The widget (`.widget`) and its parts, so that a test can drive it like a reader would.

    Controls: `.task`, `.loss`, `.init`, `.vocab`, `.dim`, `.lr`, `.steps`, `.seeds`, `.button`.
    Results: `.progress`, `.message`, `.image` (a PNG), `.summary`, and `.last_run`
    (the `ManyRun` behind the plot) with `.last_summary` (its `PairedSummary`).

    The explorer holds one run at a time: pressing Train with good settings lets go of the last
    run's curves (`.last_run` is None while training), so that two runs never share the memory
    limit; the plot and summary stay until the new ones replace them.
    """

    def __init__(self, train_now: bool = True, **settings):
        import ipywidgets as widgets  # here, not at the top: see the module's docstring

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

        def number(name, description):
            # Number boxes, not sliders: a slider clamps, and the explorer should explain a bad
            # value instead of silently changing it. FloatText, not IntText, for whole numbers
            # too: IntText would turn 2.7 into 2 without a word. The boxes update only on Enter
            # or on leaving the box (continuous_update=False).
            value = values[name]
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise ValueError(f"the explorer's {name} must be a number, got {value!r}.")
            return widgets.FloatText(value=value, description=description, style=wide,
                                     layout=box, continuous_update=False)

        self.task = choice("task", TASKS)
        self.loss = choice("loss", LOSSES)
        self.init = choice("init", INITS)
        self.vocab = number("vocab", "vocabulary")
        self.dim = number("dim", "dimension")
        self.lr = number("lr", "learning rate")
        self.steps = number("steps", "steps")
        self.seeds = number("seeds", "seeds")
        self.button = widgets.Button(description="Train", button_style="primary", icon="play",
                                     layout=box)
        # The bar fills while a run trains, then empties and says "ready": a full bar after the
        # run would read as still running.
        self.progress = widgets.IntProgress(value=0, min=0, max=1, description=IDLE,
                                            style=wide, layout=widgets.Layout(width="400px"))
        self.message = widgets.HTML()
        self.image = widgets.Image(format="png", layout=widgets.Layout(max_width="720px"))
        self.summary = widgets.HTML()
        self.output = widgets.Output()  # anything a callback prints lands here, not in the log
        self.last_run: ManyRun | None = None
        self.last_summary: PairedSummary | None = None
        self.last_seconds: float | None = None
        self._plot = BandPlot()

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
    # ipywidgets 8 widgets have _repr_mimebundle_; ipywidgets 7 ones display themselves through
    # _ipython_display_ instead, so there the bundle is written out: the same widget-view data.
    def _repr_mimebundle_(self, **kwargs):
        if hasattr(self.widget, "_repr_mimebundle_"):
            bundle = self.widget._repr_mimebundle_(**kwargs) or {}
        else:
            bundle = {WIDGET_MIME: {"version_major": 2, "version_minor": 0,
                                    "model_id": self.widget.model_id}}
        bundle["text/plain"] = TEXT_PLAIN
        return bundle

    def settings(self) -> tuple[RunConfig, int]:
        """The run the controls ask for, or a ValueError with one sentence saying what is wrong."""
        counts = {}
        for name, (low, high) in EXPLORER_LIMITS.items():
            value = getattr(self, name).value
            if not (math.isfinite(value) and float(value).is_integer() and low <= value <= high):
                raise ValueError(f"The {NAMES[name]} must be a whole number from {low} to "
                                 f"{high:,}, not {_shown(value)}.")
            counts[name] = int(value)
        lr = self.lr.value
        if not (math.isfinite(lr) and 0 < lr <= MAX_LR):
            raise ValueError(f"The learning rate must be above 0 and at most {MAX_LR:g}, "
                             f"not {lr:g}.")
        # Exact whole numbers in the message, so the number shown is always above the limit.
        work = counts["seeds"] * counts["steps"] * counts["vocab"] * counts["dim"]
        if work > MAX_WORK:
            raise ValueError(
                f"Seeds × steps × vocabulary × dimension is {work:,}, over the explorer's "
                f"limit of {MAX_WORK:,}: use fewer seeds or steps, or a smaller vocabulary or "
                "dimension."
            )
        config = RunConfig(task=self.task.value, loss=self.loss.value, init=self.init.value,
                           vocab=counts["vocab"], dim=counts["dim"], steps=counts["steps"],
                           lr=float(lr))
        # Rounded up to whole MB, then compared as shown: "501 MB, over 500 MB", never "500, over
        # 500".
        needed_mb = math.ceil(estimated_bytes(config, counts["seeds"]) / 1e6)
        if needed_mb > MAX_BYTES / 1e6:
            raise ValueError(
                f"This run would need about {needed_mb:,} MB, over the explorer's "
                f"{MAX_BYTES / 1e6:,.0f} MB: use fewer seeds or steps, or a smaller vocabulary "
                "or dimension."
            )
        return config, counts["seeds"]

    def train(self) -> bool:
        """Train with the current settings and show the result; True if it worked.

        Bad settings, or a run that fails, show one sentence in `.message` and leave the plot
        and summary as they were.
        """
        try:
            config, seeds = self.settings()
        except ValueError as error:
            self._say(str(error), problem=True)
            return False
        self.button.disabled = True
        self.progress.max, self.progress.value = config.steps, 0
        self.progress.description = "training"
        self._say(f"Training {seeds:,} seeds × {config.steps:,} steps …")
        self.last_run = self.last_summary = None  # one run in memory at a time (see the class)
        start = time.perf_counter()
        try:
            with threads_for("toy"):
                run = train_many(config, seeds, progress=self._on_progress)
            threshold = default_threshold(config.loss, config.vocab)
            summary = compare_curves(run.losses["tied"], run.losses["untied"], threshold)
            png = self._plot.render_png(run, summary)
        except Exception as error:  # the widget shows a sentence, never a traceback
            reason = str(error).rstrip(".") or type(error).__name__
            self._say(f"Training failed ({reason}); try smaller settings.", problem=True)
            return False
        finally:
            self.button.disabled = False
            self.progress.value, self.progress.description = 0, IDLE
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


def _shown(value) -> str:
    """A number as the reader typed it: 12 as "12", 2.7 as "2.7", 1e9 as "1,000,000,000"."""
    if math.isfinite(value) and float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:g}"


def render_png(run: ManyRun, summary: PairedSummary) -> bytes:
    """The bands of both variants (median over seeds and the 10–90 % band) as a small PNG.

    The explorer keeps one `BandPlot` and redraws it; this makes a new one for one picture.
    """
    return BandPlot().render_png(run, summary)


class BandPlot:
    """The explorer's figure: made once, then only its data and texts change at each click.

    A bare `Figure` with the Agg renderer, fixed margins and no layout engine, drawn through at
    most `PLOTTED_STEPS` steps: a click should spend its time training, not drawing. Making the
    figure (its axes, ticks and legend) is about a third of the time of a new picture
    (benchmarks/explorer.py: 0.05 s to redraw, 0.08 s anew), so it is made once.
    """

    def __init__(self):
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.collections import PolyCollection
        from matplotlib.figure import Figure
        from matplotlib.ticker import FormatStrFormatter, LogLocator, NullLocator

        self.figure = Figure(figsize=(7.2, 3.6), dpi=80)
        FigureCanvasAgg(self.figure)
        ax = self.axes = self.figure.add_axes((0.135, 0.14, 0.845, 0.70))  # fixed margins
        self.bands, self.medians = {}, {}
        for variant in VARIANTS:
            self.bands[variant] = ax.add_collection(
                PolyCollection([], facecolors=COLORS[variant], alpha=0.25, linewidths=0))
            (self.medians[variant],) = ax.plot([], [], color=COLORS[variant], lw=1.8,
                                               label=f"{LABELS[variant]}: median, 10%–90% band")
        self.threshold = ax.axhline(1.0, color="0.4", lw=0.8, ls="--", label="threshold")
        # A log axis with ticks at 1, 2 and 5 times each power of ten, as plain numbers, and no
        # minor ticks: matplotlib's default labels every minor tick in math text, which is slow.
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
        ax.yaxis.set_minor_locator(NullLocator())
        ax.set_xlabel("training step")
        ax.set_ylabel("loss (log scale)")
        self.legend = ax.legend(fontsize="small", loc="upper right")  # "best" searches every point
        self.title = ax.set_title("", fontsize="medium", y=1.0, pad=6)

    def render_png(self, run: ManyRun, summary: PairedSummary) -> bytes:
        """Draw `run`'s bands with `summary`'s threshold and result, as PNG bytes."""
        config = run.config
        steps = np.unique(np.linspace(0, config.steps - 1, PLOTTED_STEPS).round().astype(int))
        shown = [summary.threshold]
        for variant in VARIANTS:
            curves = run.losses[variant][:, steps]  # seeds × plotted steps, a small copy
            low, mid, high = np.quantile(curves, [0.1, 0.5, 0.9], axis=0)
            # the band: along the low edge, then back along the high one
            self.bands[variant].set_verts([np.column_stack([np.r_[steps, steps[::-1]],
                                                            np.r_[low, high[::-1]]])])
            self.medians[variant].set_data(steps, mid)
            shown += [low.min(), high.max()]
        self.threshold.set_ydata([summary.threshold] * 2)
        self.legend.get_texts()[-1].set_text(f"threshold {summary.threshold:.3g}")
        self.axes.set_xlim(*_padded(0, config.steps - 1))
        logs = np.log(_positive(shown))
        self.axes.set_ylim(*np.exp(_padded(logs.min(), logs.max())))
        low, high = summary.ci95
        self.title.set_text(
            f"Tied reached loss {summary.threshold:.3g} first in "
            f"{summary.fraction_tied_faster:.0%} of {summary.seeds} seeds "
            f"(95% CI {low:.0%}–{high:.0%})\n{config.task}, {config.loss}, {config.init} "
            f"init, vocab {config.vocab}, dim {config.dim}, lr {config.lr:g}, "
            f"{config.steps} steps")
        buffer = io.BytesIO()
        self.figure.savefig(buffer, format="png")
        return buffer.getvalue()


def _padded(low: float, high: float) -> tuple[float, float]:
    """Axis limits 5 % beyond the data on each side, as matplotlib's own autoscaling sets them
    (one unit each side when all values are equal)."""
    pad = 0.05 * (high - low) if high > low else 1.0
    return low - pad, high + pad


def _positive(values) -> np.ndarray:
    """The finite positive values among `values` (a log axis shows only those), or [1]."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values) & (values > 0)]
    return values if values.size else np.ones(1)

