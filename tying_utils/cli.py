"""The command line: `python -m tying_utils compare …`, `python -m tying_utils lm …`.

`compare` is introduced in notebook 04 (loss_curves) and makes the README's headline figure;
`lm` goes with notebook 05 (language_model). `__main__.py` only calls `main`; no library module
imports this one, so data flows one way: library → command line.

`python -m tying_utils COMMAND --help` lists the options. A bad argument ends with one line that
says what was wrong, and exit status 2, without a traceback.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

import torch

from . import runtime
from .corpus import load_corpus, prepare
from .lm import CELLS
from .lm_training import LMConfig, compare_variants, lm_results_json, lm_table
from .stats import compare_curves, default_threshold, final_loss, steps_to_threshold
from .tasks import TASKS
from .train import INITS, LIMITS, LOSSES, RunConfig, train_many


class UsageError(Exception):
    """A bad command-line argument: the message is shown as it is, and the exit status is 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line instead of usage + message
        raise UsageError(f"{message} (see {self.prog} --help)")


def main(argv=None) -> int:
    parser = _Parser(prog="python -m tying_utils", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _add_compare(commands)
    _add_lm(commands)
    _add_info(commands)
    try:
        args = parser.parse_args(argv)
        return args.run(args)
    except (UsageError, ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


# --- compare ------------------------------------------------------------------------------------

def _add_compare(commands) -> None:
    p = commands.add_parser(
        "compare",
        help="train tied and untied models over many seeds and compare their loss curves",
        description="Train tied and untied embedding→head models over many paired seeds and "
        "compare how fast their losses fall. The defaults are the blog's setting.",
    )
    p.add_argument("--task", choices=TASKS, default="identity")
    p.add_argument("--loss", choices=LOSSES, default="mse",
                   help="mse on the softmax (the blog) or ce, cross-entropy")
    p.add_argument("--init", choices=INITS, default="seed",
                   help="seed: each module's own init (the blog); matched: untied E starts as W")
    p.add_argument("--seeds", type=int, default=200, help="seeds 0..N-1 (default 200)")
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--vocab", type=int, default=10)
    p.add_argument("--dim", type=int, default=3)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--threshold", type=float, default=None,
                   help="loss level for 'steps to threshold' (default: a tenth of the "
                   "uniform-guess loss, 0.009 for the blog's setting)")
    p.add_argument("--json", type=Path, default=None, metavar="PATH", help="write the results")
    p.add_argument("--plot", type=Path, default=None, metavar="PATH.png",
                   help="save the figure: bands over seeds and paired steps to threshold")
    p.set_defaults(run=_run_compare)


def _run_compare(args) -> int:
    if not 1 <= args.seeds <= LIMITS["seeds"]:
        raise UsageError(f"--seeds must be from 1 to {LIMITS['seeds']}, got {args.seeds}.")
    if args.threshold is not None and not (math.isfinite(args.threshold) and args.threshold > 0):
        raise UsageError(f"--threshold must be a positive number, got {args.threshold}.")
    if args.plot is not None and args.plot.suffix.lower() != ".png":
        raise UsageError(f"--plot must name a .png file, got {str(args.plot)!r}.")
    for option, path in (("--json", args.json), ("--plot", args.plot)):
        if path is not None:
            check_writable(option, path)
    try:
        config = RunConfig(task=args.task, loss=args.loss, init=args.init, vocab=args.vocab,
                           dim=args.dim, steps=args.steps, lr=args.lr)
    except ValueError as error:
        raise UsageError(str(error)) from None
    threshold = args.threshold or default_threshold(config.loss, config.vocab)

    run = train_many(config, args.seeds)
    summary = compare_curves(run.losses["tied"], run.losses["untied"], threshold)
    print(_summary_table(config, args.seeds, summary))
    if args.json is not None:
        args.json.write_text(json.dumps(_results_json(run, summary), indent=2) + "\n")
        print(f"wrote {args.json}")
    if args.plot is not None:
        _save_plot(run, summary, args.plot)
        print(f"wrote {args.plot}")
    return 0


def _summary_table(config: RunConfig, n_seeds: int, summary) -> str:
    def steps(median, interval):
        low, high = (_fmt_steps(v) for v in interval)
        return f"{_fmt_steps(median)} [{low}, {high}]"

    rows = [
        ("median steps to threshold [95% CI]",
         steps(summary.median_steps_tied, summary.median_steps_tied_ci95),
         steps(summary.median_steps_untied, summary.median_steps_untied_ci95)),
        ("seeds that never reached it", str(summary.never_tied), str(summary.never_untied)),
        ("median final loss", f"{summary.median_final_tied:.3g}",
         f"{summary.median_final_untied:.3g}"),
    ]
    low, high = summary.ci95
    lines = [
        f"task={config.task} loss={config.loss} init={config.init} vocab={config.vocab} "
        f"dim={config.dim} steps={config.steps} lr={config.lr:g} seeds={n_seeds} "
        f"threshold={summary.threshold:.3g}",
        f"{'':36}{'tied':>22}{'untied':>22}",
        *(f"{name:36}{tied:>22}{untied:>22}" for name, tied, untied in rows),
        f"tied reached the threshold first in {summary.fraction_tied_faster:.1%} of seeds "
        f"(95% CI {low:.1%}–{high:.1%}); same step {summary.fraction_equal:.1%}; "
        f"untied first {summary.fraction_untied_faster:.1%}",
    ]
    return "\n".join(lines)


def _results_json(run, summary) -> dict:
    threshold = summary.threshold
    per_seed = {
        variant: {
            "steps_to_threshold": [_none_if_inf(v) for v in
                                   steps_to_threshold(run.losses[variant], threshold)],
            "final_loss": [float(v) for v in final_loss(run.losses[variant])],
        }
        for variant in ("tied", "untied")
    }
    summary_dict = {key: _jsonable(value) for key, value in summary.as_dict().items()}
    config = {**vars(run.config), "batch": list(run.config.batch), "seeds": len(run.seeds),
              "threshold": threshold}
    return {"config": config, **per_seed, "summary": summary_dict}


def _save_plot(run, summary, path: Path) -> None:
    from matplotlib.figure import Figure

    from .plots import plot_bands, plot_steps

    fig = Figure(figsize=(12, 4.4), layout="constrained")
    band_ax, steps_ax = fig.subplots(1, 2, width_ratios=[1.6, 1])
    config = run.config
    plot_bands(run.losses, ax=band_ax, threshold=summary.threshold,
               title=f"{config.task} task, {config.loss} loss, {config.init} init: "
               f"{len(run.seeds)} paired seeds")
    plot_steps(run.losses, summary.threshold, ax=steps_ax)
    fig.suptitle(summary.sentence(), fontsize="medium")
    fig.savefig(path, dpi=110)


def check_writable(option: str, path: Path) -> None:
    """Fail early, before training, when the file the option names cannot be written."""
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise UsageError(f"{option} must name a file, but {str(path)!r} is a directory.")
    if not parent.is_dir():
        raise UsageError(f"{option}: the folder {str(parent)!r} does not exist.")
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise UsageError(f"{option}: cannot write {str(path)!r} (permission denied).")


def _fmt_steps(value: float) -> str:
    return "never" if math.isinf(value) else f"{value:.0f}"


def _none_if_inf(value: float):
    return None if math.isinf(value) else int(value)


def _jsonable(value):
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and math.isinf(value):
        return None
    return value


# --- lm -----------------------------------------------------------------------------

def _add_lm(commands) -> None:
    defaults = LMConfig()
    p = commands.add_parser(
        "lm",
        help="train tied, untied and size-matched untied language models and compare perplexity",
        description="Train a small recurrent language model tied, untied, and untied with the "
        "tied model's parameter count, over several seeds, and compare their perplexities "
        "(Press & Wolf 2017).",
    )
    def option(name, kind, default, text, **extra):
        p.add_argument(name, type=kind, default=default, help=f"{text} (default %(default)s)",
                       **extra)

    option("--corpus", str, "pydoc", "'pydoc' (Python's own help texts), a UTF-8 text file, or "
           "a folder with train.txt, valid.txt, test.txt", metavar="pydoc|PATH")
    option("--seeds", int, 3, "train seeds 0..N-1")
    option("--epochs", int, defaults.epochs, "passes over the training split")
    option("--emb", int, defaults.emb, "embedding size")
    p.add_argument("--hidden", type=int, default=None,
                   help="hidden size (default: the embedding size; tying needs them equal)")
    option("--vocab-cap", int, 2000, "vocabulary size, <unk> included")
    option("--cell", str, defaults.cell, "recurrent cell", choices=CELLS)
    option("--layers", int, defaults.layers, "recurrent layers")
    option("--dropout", float, defaults.dropout, "dropout rate")
    option("--bptt", int, defaults.bptt, "tokens per truncated-backpropagation chunk")
    option("--batch-size", int, defaults.batch_size, "rows of text per batch")
    option("--lr", float, defaults.lr, "SGD learning rate")
    option("--clip", float, defaults.clip, "gradient norm clip")
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    p.add_argument("--threads", type=int, default=None,
                   help="CPU threads for PyTorch (default: the package's thread policy, which "
                   "`python -m tying_utils info` describes; 1 is often faster "
                   "for these small models on a busy machine)")
    p.add_argument("--json", type=Path, default=None, metavar="PATH", help="write the results")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(run=_run_lm)


def _run_lm(args) -> int:
    if args.seeds < 1:
        raise ValueError(f"--seeds must be at least 1, got {args.seeds}.")
    if args.epochs < 1:
        raise ValueError(f"--epochs must be at least 1, got {args.epochs}.")
    hidden = args.emb if args.hidden is None else args.hidden
    if hidden != args.emb:
        raise ValueError(f"tying needs --hidden to equal --emb, got --hidden {hidden} and "
                         f"--emb {args.emb}.")
    if args.vocab_cap < 2:
        raise ValueError(f"--vocab-cap must be at least 2 (<unk> and one word), got "
                         f"{args.vocab_cap}.")
    if args.device not in (None, "cpu", "cuda"):
        raise ValueError(f"--device must be cpu or cuda, got {args.device!r}.")
    if args.device == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda was asked for, but PyTorch sees no GPU here.")
    if args.threads is not None and args.threads < 1:
        raise ValueError(f"--threads must be at least 1, got {args.threads}.")
    if args.json is not None:
        check_writable("--json", args.json)
    if args.threads is not None:
        runtime.set_threads(args.threads)
    config = LMConfig(emb=args.emb, hidden=hidden, cell=args.cell, layers=args.layers,
                      dropout=args.dropout, bptt=args.bptt, batch_size=args.batch_size,
                      lr=args.lr, clip=args.clip, epochs=args.epochs)
    data = prepare(load_corpus(args.corpus), args.vocab_cap)
    print(data.corpus.describe())
    runs = compare_variants(data, config, args.seeds, progress=not args.no_progress,
                            device=args.device)
    print(lm_table(runs, data, config))
    if args.json is not None:
        args.json.write_text(json.dumps(lm_results_json(runs, data, config, args), indent=2)
                             + "\n")
        print(f"wrote {args.json}")
    return 0


# --- info ---------------------------------------------------------------------------------------

def _add_info(commands) -> None:
    p = commands.add_parser(
        "info", help="print the versions, the device and the thread policy this machine gets",
        description="Print the versions of Python, PyTorch and tying_utils, whether a GPU is "
        "seen, and how many CPU threads the package's work uses here, and why.",
    )
    p.set_defaults(run=_run_info)


def _run_info(args) -> int:
    import platform

    from . import __version__

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none seen"
    print(f"tying_utils {__version__}, Python {platform.python_version()}, "
          f"torch {torch.__version__}, GPU: {gpu}")
    print(runtime.describe())
    return 0
