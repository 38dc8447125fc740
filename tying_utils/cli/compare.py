"""`python -m tying_utils compare`: notebook 04's (loss_curves) many-seed experiment from the
command line, and the README's headline figure.

Trains tied and untied embedding→head models over many paired seeds (train.py's `train_many`),
prints the paired comparison (reports.py's `compare_summary`) and writes, on request, the results
as JSON and the figure as PNG (bands over seeds, paired steps to threshold).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from ..options import INIT_ALIASES, INITS, LOSSES, TASKS, TOY_RANGES
from ..reports import compare_summary
from .arguments import add_option, number, whole
from .outputs import check_outputs, check_png, json_bytes, png_bytes, write_outputs
from .usage import UsageError

__all__ = ["add_parser", "run", "results_json"]


def add_parser(commands) -> None:
    """Add the `compare` command to the `commands` subparsers of `cli.main`."""
    p = commands.add_parser(
        "compare",
        help="train tied and untied models over many seeds and compare their loss curves",
        description="Train tied and untied embedding→head models over many paired seeds and "
        "compare how fast their losses fall. The defaults are the blog's setting.",
    )
    p.add_argument("--task", choices=TASKS, default="identity")
    p.add_argument("--loss", choices=LOSSES, default="mse",
                   help="mse on the softmax (the blog) or ce, cross-entropy")
    p.add_argument("--untied-start", choices=INITS, default="default",
                   help="how the untied model's embedding starts: default, its own "
                   "initialisation (the blog's); matched, a copy of the head (called --init, "
                   "with seed for default, before; both still work)")
    p.add_argument("--init", dest="untied_start", choices=(*INITS, *INIT_ALIASES),
                   help=argparse.SUPPRESS)  # the old spellings: --init, and its value seed
    add_option(p, "--seeds", whole(*TOY_RANGES["seeds"]), 200, "seeds 0..N-1")
    add_option(p, "--steps", whole(*TOY_RANGES["steps"]), 2000, "Adam steps")
    add_option(p, "--vocab", whole(*TOY_RANGES["vocab"]), 10, "tokens in the vocabulary")
    add_option(p, "--dim", whole(*TOY_RANGES["dim"]), 3, "embedding dimension")
    add_option(p, "--lr", number(0, 10), 1e-3, "Adam learning rate")
    p.add_argument("--threshold", type=number(0, math.inf), default=None,
                   help="loss level for 'steps to threshold', below the loss of a uniform guess "
                   "(default: a tenth of the uniform-guess loss, 0.009 for the blog's setting)")
    p.add_argument("--json", type=Path, default=None, metavar="PATH", help="write the results")
    p.add_argument("--plot", type=Path, default=None, metavar="PATH.png",
                   help="save the figure: bands over seeds and paired steps to threshold")
    p.set_defaults(run=run)


def run(args) -> int:
    from ..stats import compare_curves, default_threshold, steps_to_threshold, uniform_guess_loss
    from ..train import RunConfig, train_many

    check_png("--plot", args.plot)
    try:
        config = RunConfig(task=args.task, loss=args.loss, init=args.untied_start,
                           vocab=args.vocab, dim=args.dim, steps=args.steps, lr=args.lr)
    except ValueError as error:
        raise UsageError(str(error)) from None
    uniform = uniform_guess_loss(config.loss, config.vocab)
    if args.threshold is not None and args.threshold >= uniform:
        raise UsageError(
            f"--threshold {args.threshold:g} is not below {uniform:.3g}, the {config.loss} loss "
            f"of a uniform guess over {config.vocab} tokens, so it would count models that have "
            f"not learned anything yet: give a lower one (the default is a tenth of it).")
    threshold = args.threshold or default_threshold(config.loss, config.vocab)
    check_outputs({"--json": args.json, "--plot": args.plot})

    trained = train_many(config, args.seeds)
    starts = [trained.losses[variant][:, 0] for variant in ("tied", "untied")]
    if all((start < threshold).all() for start in starts):
        lowest = min(float(start.min()) for start in starts)
        raise UsageError(
            f"every seed of both variants starts below the threshold {threshold:.3g} (the "
            f"lowest starting loss is {lowest:.3g}), so steps to threshold would compare nothing: "
            f"give a --threshold below {lowest:.3g}; no file was written.")
    summary = compare_curves(trained.losses["tied"], trained.losses["untied"], threshold)
    never = [steps_to_threshold(trained.losses[variant], threshold) == math.inf
             for variant in ("tied", "untied")]
    print(compare_summary(config, args.seeds, summary, int((never[0] & never[1]).sum())))
    if never[0].all() and never[1].all():
        print(f"note: no seed of either variant reached {threshold:.3g} in {config.steps} "
              f"steps, so steps to threshold cannot tell the variants apart: give more --steps "
              f"or a higher --threshold.")
    outputs = {}  # everything is rendered before anything is written
    if args.json is not None:
        outputs[args.json] = json_bytes(results_json(trained, summary))
    if args.plot is not None:
        outputs[args.plot] = _plot_png(trained, summary)
    write_outputs(outputs)
    for path in outputs:
        print(f"wrote {path}")
    return 0


def results_json(run, summary) -> dict:
    """What --json holds: the configuration, each seed's steps to threshold and final loss per
    variant, and the paired summary (a seed that never reached the threshold: null)."""
    from ..stats import final_loss, steps_to_threshold

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


def _plot_png(run, summary) -> bytes:
    """The figure as PNG bytes: bands over seeds, and paired steps to threshold."""
    from matplotlib.figure import Figure

    from ..plots import plot_bands, plot_steps

    fig = Figure(figsize=(12, 4.4), layout="constrained")
    band_ax, steps_ax = fig.subplots(1, 2, width_ratios=[1.6, 1])
    config = run.config
    plot_bands(run.losses, ax=band_ax, threshold=summary.threshold,
               title=f"{config.task} task, {config.loss} loss, {config.init} init: "
               f"{len(run.seeds)} paired seeds")
    plot_steps(run.losses, summary.threshold, ax=steps_ax)
    fig.suptitle(summary.sentence(), fontsize="medium")
    return png_bytes(fig)


def _none_if_inf(value: float):
    return None if math.isinf(value) else int(value)


def _jsonable(value):
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and math.isinf(value):
        return None
    return value
