"""`python -m tying_utils sweep`: notebook 06's (transformer) question from the command line,
when does tying pay as the width grows?

Trains tied, untied and size-matched untied Transformers at several widths over paired seeds
(lm_training.py's `run_sweep`), prints one row per width (`sweep_table`) and writes, on request,
the JSON (the command that reproduces it, every run, the machine) and the figure. With `--archs`
or `--merge` the same command runs notebook 06's factorial instead (cli/factorial.py); its
options are a group of this command's.
"""

from __future__ import annotations

import argparse
import dataclasses
import shlex
from pathlib import Path
from typing import TYPE_CHECKING

from ..options import CONVENTION_NAMES, lm_defaults
from ..reports import sweep_table as render_sweep_table
from .arguments import (
    LM_RANGES,
    TRANSFORMER_RANGES,
    add_option,
    check_device,
    corpus_inputs,
    corpus_option,
    whole,
)
from .lm import check_lm_limits
from .outputs import check_outputs, check_png, json_bytes, machine_record, png_bytes, write_outputs
from .usage import Parser, UsageError

if TYPE_CHECKING:
    from ..lm_training import LMConfig

__all__ = ["SWEEP_WIDTHS", "add_parser", "run", "sweep_arguments", "sweep_config",
           "sweep_command", "sweep_table"]

SWEEP_WIDTHS = (16, 24, 32, 48, 64, 96, 128)


def add_parser(commands) -> None:
    """Add the `sweep` command (and the factorial's options) to the subparsers of `cli.main`."""
    p = commands.add_parser(
        "sweep",
        help="when does tying pay? tied vs untied Transformers over a range of widths",
        description="Train tied, untied and size-matched untied Transformer language models at "
        "several widths, over paired seeds, and report the paired difference in test "
        "perplexity against the input embedding's share of the untied model (notebook 06). "
        "The JSON records the command, the configuration, every run's perplexities and the "
        "seconds it took.",
    )
    defaults = lm_defaults("transformer")
    corpus_option(p)
    add_option(p, "--vocab-cap", LM_RANGES["vocab_cap"], 1000, "vocabulary size, <unk> included")
    p.add_argument("--widths", type=TRANSFORMER_RANGES["width"], nargs="+",
                   default=list(SWEEP_WIDTHS), metavar="D",
                   help=f"the widths d to train, each a multiple of --heads "
                   f"({TRANSFORMER_RANGES['width'].range}; default "
                   f"{' '.join(map(str, SWEEP_WIDTHS))})")
    add_option(p, "--seeds", LM_RANGES["seeds"], 5, "train seeds 0..N-1 (paired: each seed "
               "trains every variant)")
    add_option(p, "--epochs", LM_RANGES["epochs"], 4, "passes over the training split")
    add_option(p, "--layers", LM_RANGES["layers"], defaults.layers, "Transformer blocks")
    add_option(p, "--heads", TRANSFORMER_RANGES["heads"], defaults.heads, "attention heads")
    p.add_argument("--init", choices=CONVENTION_NAMES, default="vaswani",
                   help="how the token matrix is drawn and scaled (default %(default)s: both "
                   "matrices drawn alike, inputs and logits of unit size; notebook 06 compares "
                   "the conventions)")
    add_option(p, "--dropout", LM_RANGES["dropout"], defaults.dropout, "dropout rate")
    add_option(p, "--bptt", LM_RANGES["bptt"], defaults.bptt, "tokens per chunk, the context")
    add_option(p, "--batch-size", LM_RANGES["batch_size"], defaults.batch_size,
               "rows of text per batch")
    add_option(p, "--lr", LM_RANGES["lr"], defaults.lr, "Adam's learning rate")
    add_option(p, "--clip", LM_RANGES["clip"], defaults.clip, "gradient norm clip")
    _add_factorial_options(p)
    p.add_argument("--device", default=None, choices=("cpu", "cuda"),
                   help="cpu or cuda (default: cuda when available; the committed sweep ran on "
                   "the CPU, which is what its numbers reproduce on)")
    p.add_argument("--threads", type=LM_RANGES["threads"], default=None,
                   help=f"CPU threads for PyTorch ({LM_RANGES['threads'].range}; default: the "
                   "package's thread policy; the JSON records the number used)")
    p.add_argument("--json", type=Path, default=None, metavar="PATH", help="write the results")
    p.add_argument("--plot", type=Path, default=None, metavar="PATH.png",
                   help="save the figure: the paired differences against the embedding's share")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(run=run)


def _add_factorial_options(p) -> None:
    """The factorial's group of options (cli/factorial.py runs it)."""
    factorial = p.add_argument_group(
        "the factorial (notebook 06: docs/results/factorial.json)",
        "Give --archs to cross architecture x optimizer x vocabulary cap at one width (--widths "
        "D) instead of sweeping widths: each architecture keeps its own layers, dropout, context, "
        "batch and clip (the lm defaults), and each architecture x optimizer trains at the rate "
        "of a small grid that does best on validation data.")
    factorial.add_argument("--archs", nargs="+", choices=("lstm", "transformer"), default=None,
                           help="the architectures to cross (this turns the factorial on)")
    factorial.add_argument("--optimizers", nargs="+", choices=("sgd", "adam"),
                           default=["sgd", "adam"], help="the optimizers (default sgd adam)")
    factorial.add_argument("--vocab-caps", nargs="+", type=LM_RANGES["vocab_cap"],
                           default=[1000, 4000], metavar="V",
                           help="the vocabulary caps, <unk> included (default 1000 4000)")
    factorial.add_argument("--other-corpora", nargs="*", default=["jargon"], metavar="CORPUS",
                           help="corpora that repeat every arch x optimizer at the first cap "
                           "(default jargon: the Jargon File shipped with the package)")
    factorial.add_argument("--evals-per-epoch", type=whole(1, 1000), default=10,
                           help="validation-subset evaluations per epoch, the convergence "
                           "curve (1 to 1000; default 10)")
    factorial.add_argument("--valid-subset", type=whole(10, 10_000_000), default=5000,
                           help="tokens of the validation split the curve reads (default 5000)")
    factorial.add_argument("--max-train-tokens", type=whole(10, 1_000_000_000), default=80_000,
                           help="each corpus's training split cut to this (default 80000)")
    factorial.add_argument("--shard", type=_shard, default=(1, 1), metavar="I/N",
                           help="train only every N-th run from the I-th (merge with --merge)")
    factorial.add_argument("--runs-dir", type=Path, default=None, metavar="DIR",
                           help="where finished runs are kept, so an interrupted factorial "
                           "continues where it stopped (default: DIR named after --json)")
    factorial.add_argument("--merge", nargs="+", type=Path, default=None, metavar="SHARD.json",
                           help="join the JSON files of shards 1/N..N/N into --json")


def _shard(text: str) -> tuple[int, int]:
    index, _, count = text.partition("/")
    if not (index.isdigit() and count.isdigit() and 1 <= int(index) <= int(count)):
        raise argparse.ArgumentTypeError(f"must be I/N with 1 <= I <= N, got {text!r}")
    return int(index), int(count)


def sweep_arguments(argv: list[str]) -> argparse.Namespace:
    """Parse a `sweep` command line (["sweep", ...]) as the command does: the test that holds
    the committed sweep to its command uses this."""
    parser = Parser(prog="python -m tying_utils")
    add_parser(parser.add_subparsers(dest="command", required=True, parser_class=Parser))
    return parser.parse_args(argv)


def sweep_config(args) -> LMConfig:
    """The Transformer setup every width of the sweep shares (dim = hidden = the first width)."""
    from ..lm_training import LMConfig

    try:
        configs = [LMConfig(arch="transformer", dim=width, hidden=width, layers=args.layers,
                            heads=args.heads, init=args.init, dropout=args.dropout,
                            bptt=args.bptt, batch_size=args.batch_size, lr=args.lr,
                            clip=args.clip, epochs=args.epochs) for width in args.widths]
    except ValueError as error:
        raise UsageError(f"--widths: {error}" if "width" in str(error) else str(error)) from None
    if len(set(args.widths)) != len(args.widths):
        raise UsageError(f"--widths lists a width twice: {' '.join(map(str, args.widths))}.")
    return configs[0]


def sweep_command(args) -> list[str]:
    """The command line that reproduces this sweep, every setting spelled out."""
    words = ["sweep", "--corpus", args.corpus, "--vocab-cap", str(args.vocab_cap),
             "--widths", *map(str, args.widths), "--seeds", str(args.seeds),
             "--epochs", str(args.epochs), "--layers", str(args.layers),
             "--heads", str(args.heads), "--init", args.init, "--dropout", f"{args.dropout:g}",
             "--bptt", str(args.bptt), "--batch-size", str(args.batch_size),
             "--lr", f"{args.lr:g}", "--clip", f"{args.clip:g}"]
    if args.threads is not None:
        words += ["--threads", str(args.threads)]
    if args.device is not None:
        words += ["--device", args.device]
    for flag, path in (("--json", args.json), ("--plot", args.plot)):
        if path is not None:
            words += [flag, str(path)]
    return words


def run(args) -> int:
    from .. import runtime
    from ..corpus import load_corpus, prepare
    from ..lm_training import default_device, run_sweep

    if args.archs is not None or args.merge is not None:
        from .factorial import run_factorial_command

        return run_factorial_command(args)

    check_png("--plot", args.plot)
    check_device(args.device)
    check_outputs({"--json": args.json, "--plot": args.plot}, corpus_inputs(args.corpus))
    config = sweep_config(args)
    if args.threads is not None:
        runtime.set_threads(args.threads)
    data = prepare(load_corpus(args.corpus), args.vocab_cap)
    widest = max(args.widths)
    try:  # the widest model needs the most memory
        check_lm_limits(args, dataclasses.replace(config, dim=widest, hidden=widest), data)
    except UsageError as error:
        raise UsageError(str(error).replace("--dim", "--widths")) from None
    print(data.corpus.describe())
    threads = runtime.choose_threads("lm")[0]
    result = run_sweep(data, config, args.widths, args.seeds, progress=not args.no_progress,
                       device=args.device)
    device = str(args.device or default_device())
    result = {"command": "python -m tying_utils " + shlex.join(sweep_command(args)),
              "argv": sweep_command(args), **result,
              "threads": threads if device == "cpu" else None, **machine_record(device)}
    print(sweep_table(result))
    outputs = {}
    if args.json is not None:
        outputs[args.json] = json_bytes(result)
    if args.plot is not None:
        outputs[args.plot] = _sweep_png(result)
    write_outputs(outputs)
    for path in outputs:
        print(f"wrote {path}")
    return 0


def sweep_table(result: dict) -> str:
    """The sweep as the command prints it: one row per width (reports.sweep_table), then what
    it found (lm_training.sweep_sentence)."""
    from ..lm_training import sweep_sentence

    return render_sweep_table(result, sweep_sentence(result))


def _sweep_png(result: dict) -> bytes:
    import textwrap

    from matplotlib.figure import Figure

    from ..lm_training import plot_sweep, sweep_sentence

    fig = Figure(figsize=(8, 4.8), layout="constrained")
    ax = fig.subplots()
    plot_sweep(result, ax=ax, name="tied_minus_untied")
    plot_sweep(result, ax=ax, name="tied_minus_size_matched", widths=False)
    ax.set_title(textwrap.fill(sweep_sentence(result), 110, break_on_hyphens=False),
                 fontsize="small")
    return png_bytes(fig)
