"""The command line: `python -m tying_utils compare | lm | sweep | audit | info …`.

`compare` is introduced in notebook 04 (loss_curves) and makes the README's headline figure;
`lm` goes with notebook 05 (language_model), `sweep` with notebook 06 (transformer), `audit` with
notebook 07 (tie_lifecycle); `info` prints the versions and the thread policy. `__main__.py` only
calls `main`; no library module imports this one, so data flows one way: library → command line.

`python -m tying_utils COMMAND --help` lists the options and the range each one allows. A bad
argument ends with one line that says what was wrong, and exit status 2, without a traceback.

Everything that can be checked before the work starts is checked then: each option's range as it
is parsed (`whole`, `number`), what the run needs together (`check_lm_limits`: the memory a
language model run would take), and every output file (`check_outputs`). Output files are written
at the very end, all or none (`write_outputs`): each goes to a temporary file in its own folder,
and only when all of them are complete are they renamed over the old ones, so a full disk or a
failed figure leaves every earlier result file as it was.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import stat
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from . import cli_ranks, reports

# Only what the parsers need, and nothing that imports PyTorch: `--help` answers at once. Each
# command imports the modules that do its work when it runs.
from .architectures import ARCHITECTURES
from .lm_memory import LM_MEMORY_LIMIT, MEMORY_ADVICE, memory_problem
from .options import (
    ARCHS,
    CELL_GATES,
    CONVENTION_NAMES,
    EVAL_BATCH,
    INITS,
    LIMITS,
    LM_REAL_RANGES,
    LOSSES,
    TASKS,
    lm_defaults,
)
from .options import LM_RANGES as LM_WHOLE_RANGES
from .reports import compare_summary

if TYPE_CHECKING:
    from .lm_training import LMConfig


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
    _add_audit(commands)
    _add_sweep(commands)
    cli_ranks.add_parser(commands)
    try:
        args = parser.parse_args(argv)
        return args.run(args)
    except (UsageError, ValueError, OSError) as error:
        # One line, even when an argument that is echoed back holds a line break.
        message = str(error).replace("\r", "\\r").replace("\n", "\\n")
        print(f"error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted.", file=sys.stderr)
        return 130


# --- option ranges --------------------------------------------------------------------------------

def whole(low: int, high: int):
    """An argparse `type`: a whole number from `low` to `high`; `.range` says so in --help."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or not low <= value <= high:
            raise argparse.ArgumentTypeError(
                f"must be a whole number from {low} to {high}, got {text!r}")
        return value

    parse.range = f"{low}–{high}"
    return parse


def number(low: float, high: float, low_allowed: bool = False, high_allowed: bool = True):
    """An argparse `type`: a finite number between `low` and `high`; whether each end itself is
    allowed is `low_allowed` / `high_allowed`. `.range` says the range in words for --help."""
    above = f"at least {low:g}" if low_allowed else f"more than {low:g}"
    below = "" if math.isinf(high) else (
        f" and at most {high:g}" if high_allowed else f" and below {high:g}")

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        fits = (math.isfinite(value) and (value >= low if low_allowed else value > low)
                and (value <= high if high_allowed else value < high))
        if not fits:
            raise argparse.ArgumentTypeError(f"must be a number {above}{below}, got {text!r}")
        return value

    parse.range = above + below
    return parse


# --- output files ---------------------------------------------------------------------------------

def check_outputs(outputs: dict[str, Path | None], inputs: dict[str, Path] | None = None) -> None:
    """Fail before any work when an output could not be written or would destroy something.

    `outputs` maps each option (`--json`, `--plot`) to the path it names, or None; `inputs` maps
    a description ("the corpus") to a file or folder the command reads. Each output must be a
    file (not a folder or a device) in an existing folder we may write to; no two outputs may be
    one file, and no output may be an input file or lie inside an input folder.
    """
    taken: dict[str, str] = {}  # real path -> the option that names it
    for option, path in outputs.items():
        if path is None:
            continue
        check_writable(option, path)
        real = os.path.realpath(path)
        for other_real, other in taken.items():
            if real == other_real:
                raise UsageError(f"{other} and {option} both name {str(path)!r}: give each "
                                 f"output its own file.")
        for what, source in (inputs or {}).items():
            source_real = os.path.realpath(source)
            if real == source_real or _same_file(real, source_real):
                raise UsageError(f"{option} {str(path)!r} is {what}: writing it would destroy "
                                 f"the input, so choose another file.")
            if os.path.isdir(source_real) and Path(source_real) in Path(real).parents:
                raise UsageError(f"{option} {str(path)!r} lies inside {what} (the folder "
                                 f"{str(source)!r}): choose a file outside it.")
        taken[real] = option


def check_writable(option: str, path: Path) -> None:
    """Fail early, before any work, when the file the option names cannot be written."""
    shown = str(path)
    try:
        real = Path(os.path.realpath(path))  # a link is followed: its target gets the new file
        if real.is_dir():
            raise UsageError(f"{option} must name a file, but {shown!r} is a folder.")
        if real.exists() and not real.is_file():
            raise UsageError(f"{option} must name a regular file, but {shown!r} is a device, "
                             f"a pipe or a socket.")
        folder = real.parent
        shown_folder = str(path.parent) if str(path.parent) else "."
        if not folder.exists():
            raise UsageError(f"{option}: the folder {shown_folder!r} does not exist.")
        if not folder.is_dir():
            raise UsageError(f"{option}: {shown_folder!r} is not a folder.")
        # The new file is written next to the old one and renamed: the folder must be writable.
        if not os.access(folder, os.W_OK | os.X_OK) or (
                real.exists() and not os.access(real, os.W_OK)):
            raise UsageError(f"{option}: cannot write {shown!r} (permission denied).")
    except OSError as error:  # e.g. a name too long for the file system
        raise UsageError(f"{option}: cannot use {shown!r} ({error.strerror or error}).") from None


def write_outputs(contents: dict[Path, bytes]) -> None:
    """Write every file, all or none: first each one's bytes to a temporary file in its own
    folder, then, only when all are complete, rename each over its target (`os.replace`, atomic
    on one file system). When a write fails (a full disk, a file-size limit), the temporary files
    are deleted and every old file is left exactly as it was."""
    mask = os.umask(0)
    os.umask(mask)
    temporary: dict[Path, Path] = {}  # target -> its complete temporary file
    path = None
    try:
        for path, data in contents.items():
            target = Path(os.path.realpath(path))
            mode = stat.S_IMODE(target.stat().st_mode) if target.exists() else 0o666 & ~mask
            handle, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp",
                                            dir=target.parent)
            temporary[target] = Path(name)
            with os.fdopen(handle, "wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            os.chmod(name, mode)
    except OSError as error:
        for name in temporary.values():
            name.unlink(missing_ok=True)
        raise UsageError(f"could not write {str(path)!r} ({error.strerror or error}); the "
                         f"output files were left as they were.") from None
    for target, name in temporary.items():
        os.replace(name, target)  # within one folder that was checked before the work


def _same_file(first: str, second: str) -> bool:
    try:
        return os.path.samefile(first, second)
    except OSError:  # one of them does not exist yet
        return False


def json_bytes(result: dict) -> bytes:
    """`result` as JSON text: NaN and ±inf (a run that diverged) become null, so the file is
    valid JSON that every reader accepts."""
    return (json.dumps(_finite_or_none(result), indent=2, allow_nan=False) + "\n").encode()


def _finite_or_none(value):
    if isinstance(value, dict):
        return {key: _finite_or_none(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite_or_none(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


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
    p.add_argument("--untied-start", choices=INITS, default="default",
                   help="how the untied model's embedding starts: default, its own "
                   "initialisation (the blog's); matched, a copy of the head (called --init, "
                   "with seed for default, before; both still work)")
    from .options import INIT_ALIASES  # the old spellings: --init, and its value seed

    p.add_argument("--init", dest="untied_start", choices=(*INITS, *INIT_ALIASES),
                   help=argparse.SUPPRESS)
    def option(name, kind, default, text):
        p.add_argument(name, type=kind, default=default,
                       help=f"{text} ({kind.range}; default %(default)s)")

    option("--seeds", whole(1, LIMITS["seeds"]), 200, "seeds 0..N-1")
    option("--steps", whole(1, LIMITS["steps"]), 2000, "Adam steps")
    option("--vocab", whole(2, LIMITS["vocab"]), 10, "tokens in the vocabulary")
    option("--dim", whole(1, LIMITS["dim"]), 3, "embedding dimension")
    option("--lr", number(0, 10), 1e-3, "Adam learning rate")
    p.add_argument("--threshold", type=number(0, math.inf), default=None,
                   help="loss level for 'steps to threshold', below the loss of a uniform guess "
                   "(default: a tenth of the uniform-guess loss, 0.009 for the blog's setting)")
    p.add_argument("--json", type=Path, default=None, metavar="PATH", help="write the results")
    p.add_argument("--plot", type=Path, default=None, metavar="PATH.png",
                   help="save the figure: bands over seeds and paired steps to threshold")
    p.set_defaults(run=_run_compare)


def _run_compare(args) -> int:
    from .stats import compare_curves, default_threshold, steps_to_threshold, uniform_guess_loss
    from .train import RunConfig, train_many

    if args.plot is not None and args.plot.suffix.lower() != ".png":
        raise UsageError(f"--plot must name a .png file, got {str(args.plot)!r}.")
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

    run = train_many(config, args.seeds)
    starts = [run.losses[variant][:, 0] for variant in ("tied", "untied")]
    if all((start < threshold).all() for start in starts):
        lowest = min(float(start.min()) for start in starts)
        raise UsageError(
            f"every seed of both variants starts below the threshold {threshold:.3g} (the "
            f"lowest starting loss is {lowest:.3g}), so steps to threshold would compare nothing: "
            f"give a --threshold below {lowest:.3g}; no file was written.")
    summary = compare_curves(run.losses["tied"], run.losses["untied"], threshold)
    never = [steps_to_threshold(run.losses[variant], threshold) == math.inf
             for variant in ("tied", "untied")]
    print(_summary_table(config, args.seeds, summary, int((never[0] & never[1]).sum())))
    if never[0].all() and never[1].all():
        print(f"note: no seed of either variant reached {threshold:.3g} in {config.steps} "
              f"steps, so steps to threshold cannot tell the variants apart: give more --steps "
              f"or a higher --threshold.")
    outputs = {}  # everything is rendered before anything is written
    if args.json is not None:
        outputs[args.json] = json_bytes(_results_json(run, summary))
    if args.plot is not None:
        outputs[args.plot] = _plot_png(run, summary)
    write_outputs(outputs)
    for path in outputs:
        print(f"wrote {path}")
    return 0


# The printed summary (and its old name here): reports.compare_summary.
_summary_table = compare_summary


def _results_json(run, summary) -> dict:
    from .stats import final_loss, steps_to_threshold

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

    from .plots import plot_bands, plot_steps

    fig = Figure(figsize=(12, 4.4), layout="constrained")
    band_ax, steps_ax = fig.subplots(1, 2, width_ratios=[1.6, 1])
    config = run.config
    plot_bands(run.losses, ax=band_ax, threshold=summary.threshold,
               title=f"{config.task} task, {config.loss} loss, {config.init} init: "
               f"{len(run.seeds)} paired seeds")
    plot_steps(run.losses, summary.threshold, ax=steps_ax)
    fig.suptitle(summary.sentence(), fontsize="medium")
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=110)
    return png.getvalue()


def _none_if_inf(value: float):
    return None if math.isinf(value) else int(value)


def _jsonable(value):
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and math.isinf(value):
        return None
    return value


# --- lm -----------------------------------------------------------------------------

# What one `lm` or `sweep` option may be (options.py's ranges, as parsers); `check_lm_limits`
# then checks the run as a whole.
LM_RANGES = {
    **{name: whole(low, high) for name, (low, high) in LM_WHOLE_RANGES.items()},
    **{name: number(low, high, low_allowed=ends[0] == "[", high_allowed=ends[1] == "]")
       for name, (low, high, ends) in LM_REAL_RANGES.items()},
}


def _add_lm(commands) -> None:
    defaults = lm_defaults("lstm")
    p = commands.add_parser(
        "lm",
        help="train tied, untied and size-matched untied language models and compare perplexity",
        description="Train a small language model (recurrent, or a Transformer with --arch "
        "transformer) tied, untied, and untied with the "
        "tied model's parameter count, over several seeds, and compare their perplexities "
        "(Press & Wolf 2017). A run that would need more than "
        f"{LM_MEMORY_LIMIT / 1e9:.0f} GB of memory is refused before training.",
    )
    def option(name, kind, default, text, **extra):
        limits = f"{kind.range}; " if hasattr(kind, "range") else ""
        p.add_argument(name, type=kind, default=default,
                       help=f"{text} ({limits}default %(default)s)", **extra)

    option("--corpus", str, "pydoc", "'pydoc' (CPython 3.11.7's help texts, shipped with the "
           "package), 'python-help' (this Python's own), a UTF-8 text file, or a folder with "
           "train.txt, valid.txt, test.txt", metavar="pydoc|python-help|PATH")
    option("--seeds", LM_RANGES["seeds"], 3, "train seeds 0..N-1")
    option("--epochs", LM_RANGES["epochs"], defaults.epochs, "passes over the training split")
    option("--emb", LM_RANGES["emb"], defaults.emb, "embedding size")
    p.add_argument("--hidden", type=LM_RANGES["emb"], default=None,
                   help=f"hidden size ({LM_RANGES['emb'].range}; default: the embedding size; "
                   "tying needs them equal)")
    option("--vocab-cap", LM_RANGES["vocab_cap"], 2000, "vocabulary size, <unk> included")
    option("--arch", str, "lstm", "the model: lstm, notebook 05's recurrent model, or "
           "transformer, notebook 06's decoder-only Transformer", choices=ARCHS)
    option("--cell", str, defaults.cell, "recurrent cell (lstm only)", choices=tuple(CELL_GATES))
    per_arch_option(p, "--layers", "layers", "recurrent layers or Transformer blocks")
    transformer_options(p)
    option("--dropout", LM_RANGES["dropout"], defaults.dropout, "dropout rate")
    option("--bptt", LM_RANGES["bptt"], defaults.bptt, "tokens per truncated-backpropagation "
           "chunk")
    option("--batch-size", LM_RANGES["batch_size"], defaults.batch_size, "rows of text per batch")
    per_arch_option(p, "--lr", "lr", "learning rate: SGD's for lstm, Adam's for transformer")
    per_arch_option(p, "--clip", "clip", "gradient norm clip")
    p.add_argument("--device", default=None, choices=("cpu", "cuda"),
                   help="cpu or cuda (default: cuda when available)")
    p.add_argument("--threads", type=LM_RANGES["threads"], default=None,
                   help=f"CPU threads for PyTorch ({LM_RANGES['threads'].range}; default: the "
                   "package's thread policy, which `python -m tying_utils info` describes; 1 is "
                   "often faster for these small models on a busy machine)")
    p.add_argument("--json", type=Path, default=None, metavar="PATH", help="write the results")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(run=_run_lm)


def _run_lm(args) -> int:
    import torch

    from . import runtime
    from .corpus import load_corpus, prepare
    from .lm_training import LMConfig, compare_variants, lm_results_json, lm_table

    hidden = args.emb if args.hidden is None else args.hidden
    if hidden != args.emb:
        raise UsageError(f"tying needs --hidden to equal --emb, got --hidden {hidden} and "
                         f"--emb {args.emb}.")
    if args.device == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda was asked for, but PyTorch sees no GPU here.")
    inputs = ({} if args.corpus in ("pydoc", "python-help")
              else {"the corpus": Path(args.corpus)})
    check_outputs({"--json": args.json}, inputs)
    try:
        config = LMConfig(emb=args.emb, hidden=hidden, cell=args.cell, layers=args.layers,
                          dropout=args.dropout, bptt=args.bptt, batch_size=args.batch_size,
                          lr=args.lr, clip=args.clip, epochs=args.epochs, arch=args.arch,
                          **transformer_settings(args))
    except ValueError as error:
        raise UsageError(str(error)) from None
    if args.threads is not None:
        runtime.set_threads(args.threads)
    data = prepare(load_corpus(args.corpus), args.vocab_cap)
    check_lm_limits(args, config, data)
    print(data.corpus.describe())
    if len(data.vocab) < args.vocab_cap:
        print(f"note: the training split has {len(data.vocab) - 1:,} distinct words, so the "
              f"vocabulary has {len(data.vocab):,} entries with <unk>, fewer than --vocab-cap "
              f"{args.vocab_cap:,}.")
    diverged = UsageError("training diverged: a perplexity grew too large for a floating-point "
                          "number; give a smaller --lr or --clip (no file was written).")
    try:
        runs = compare_variants(data, config, args.seeds, progress=not args.no_progress,
                                device=args.device)
    except OverflowError:  # exp() of a mean cross-entropy above ~709
        raise diverged from None
    final = [value for group in runs.values() for run in group
             for value in (run.valid_ppl[-1], run.test_ppl, run.train_ppl[-1])]
    if not all(math.isfinite(value) for value in final):
        raise diverged
    print(lm_table(runs, data, config))
    if args.json is not None:
        write_outputs({args.json: json_bytes(lm_results_json(runs, data, config, args))})
        print(f"wrote {args.json}")
    return 0


def check_lm_limits(args, config: LMConfig, data) -> None:
    """Check an `lm` run as a whole before it trains (each option's own range was checked as it
    was parsed, `LM_RANGES`): every split of the corpus must fill the rows it is read in, and
    the memory the run needs (`lm_memory_parts`) must stay under `LM_MEMORY_LIMIT`."""
    name = data.corpus.name
    rows = max(config.batch_size, EVAL_BATCH)
    tokens = len(data.train)
    if tokens < 2 * rows:
        smaller = (f"a --batch-size below {config.batch_size} or "
                   if config.batch_size > EVAL_BATCH else "")
        raise UsageError(f"the train split of {name!r} has {tokens:,} tokens, too few: it is "
                         f"read in {rows} rows of at least 2 tokens, so it needs {2 * rows:,}; "
                         f"give {smaller}a longer text.")
    for split in ("valid", "test"):
        tokens = len(getattr(data, split))
        if tokens < 2 * EVAL_BATCH:
            raise UsageError(f"the {split} split of {name!r} has {tokens:,} tokens, too few: "
                             f"perplexity is measured on {EVAL_BATCH} rows of at least 2 tokens, "
                             f"so it needs {2 * EVAL_BATCH}; give a longer text.")
    problem = memory_problem(lm_memory_parts(args, config, len(data.vocab)), LM_MEMORY_LIMIT)
    if problem is not None:
        raise UsageError(problem)


_MEMORY_ADVICE = MEMORY_ADVICE  # its old name


def lm_memory_parts(args, config: LMConfig, vocab: int) -> dict[str, int]:
    """Roughly how many bytes an `lm` run of `args.seeds` seeds needs, by part: the record of
    `config.arch` (architectures.py) gives its sizes to lm_memory.py, which says what each part
    counts."""
    return ARCHITECTURES[config.arch].memory_parts(config, vocab, args.seeds)


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

    import torch

    from . import __version__, runtime

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none seen"
    print(f"tying_utils {__version__}, Python {platform.python_version()}, "
          f"torch {torch.__version__}, GPU: {gpu}")
    print(runtime.describe())
    return 0


# --- audit --------------------------------------------------------------------------------------

def _add_audit(commands) -> None:
    p = commands.add_parser(
        "audit", help="check a checkpoint for ties, lost ties and tie_word_embeddings mismatches",
        description="Check a checkpoint without building its model: a torch.save state dict "
        "(.pt, .pth, .bin), a .safetensors file, or a Hugging Face model folder (config.json and "
        "its weights, sharded or not); or an exported .onnx or .gguf file (notebook 09). Exit "
        "status 0: no finding; 1: at least one finding; 2: the path is not a checkpoint.",
    )
    p.add_argument("path", type=Path, metavar="PATH",
                   help="a .pt/.pth/.bin, .safetensors, .onnx or .gguf file, or a Hugging Face "
                   "model folder")
    p.add_argument("--json", type=Path, default=None, metavar="OUT",
                   help="also write the report as JSON")
    p.set_defaults(run=_run_audit)


def _run_audit(args) -> int:
    from .audit import audit_checkpoint  # (notebook 07's module; imported only for this command)

    check_outputs({"--json": args.json}, {"the checkpoint": args.path})
    report = audit_checkpoint(args.path)
    print(report)
    if args.json is not None:
        write_outputs({args.json: json_bytes(report.as_dict())})
        print(f"wrote {args.json}")
    return 1 if report.findings else 0


# --- sweep --------------------------------------------------------------------------------------
# Notebook 06: the Transformer's options (shared by `lm --arch transformer` and `sweep`), its
# memory estimate (architectures.py's record), and the `sweep` command: when does tying pay as
# the width grows?

TRANSFORMER_RANGES = {name: LM_RANGES[name] for name in ("heads", "width")}
SWEEP_WIDTHS = (16, 24, 32, 48, 64, 96, 128)


def per_arch_option(p, flag: str, name: str, text: str) -> None:
    """An option whose default depends on --arch (each architecture's `defaults`); its range is
    `LM_RANGES`'."""
    kind = LM_RANGES[name]
    defaults = ", ".join(f"{record.defaults[name]:g} for {arch}"
                         for arch, record in ARCHITECTURES.items())
    p.add_argument(flag, type=kind, default=None, help=f"{text} ({kind.range}; default {defaults})")


def transformer_options(p) -> None:
    """--heads and --init: the Transformer's own settings."""
    p.add_argument("--heads", type=TRANSFORMER_RANGES["heads"], default=None,
                   help=f"attention heads, which must divide the width (transformer only; "
                   f"{TRANSFORMER_RANGES['heads'].range}; default 2)")
    p.add_argument("--init", choices=CONVENTION_NAMES, default=None,
                   help="how the token matrix is drawn and scaled, tied or not (transformer "
                   "only; default gpt2; notebook 06 compares them)")


def transformer_settings(args) -> dict:
    """LMConfig's `heads` and `init` from the options; given to an architecture that does not
    read them (an LSTM) they are a usage error."""
    given = [f"--{name}" for name in ("heads", "init") if getattr(args, name) is not None
             and name not in ARCHITECTURES[args.arch].own_options]
    if given:
        raise UsageError(f"{' and '.join(given)} belong to --arch transformer, not "
                         f"--arch {args.arch}.")
    return {"heads": 2 if args.heads is None else args.heads,
            "init": "gpt2" if args.init is None else args.init}


def transformer_memory_parts(args, config: LMConfig, vocab: int) -> dict[str, int]:
    """`lm_memory_parts` for a Transformer (lm_memory.py says what each part counts)."""
    return ARCHITECTURES["transformer"].memory_parts(config, vocab, args.seeds)


def _add_sweep(commands) -> None:
    p = commands.add_parser(
        "sweep",
        help="when does tying pay? tied vs untied Transformers over a range of widths",
        description="Train tied, untied and size-matched untied Transformer language models at "
        "several widths, over paired seeds, and report the paired difference in test "
        "perplexity against the input embedding's share of the untied model (notebook 06). "
        "The JSON records the command, the configuration, every run's perplexities and the "
        "seconds it took.",
    )

    def option(name, kind, default, text, **extra):
        limits = f"{kind.range}; " if hasattr(kind, "range") else ""
        p.add_argument(name, type=kind, default=default,
                       help=f"{text} ({limits}default %(default)s)", **extra)

    defaults = lm_defaults("transformer")
    option("--corpus", str, "pydoc", "'pydoc' (CPython 3.11.7's help texts, shipped with the "
           "package), 'python-help' (this Python's own), a UTF-8 text file, or a folder with "
           "train.txt, valid.txt, test.txt", metavar="pydoc|python-help|PATH")
    option("--vocab-cap", LM_RANGES["vocab_cap"], 1000, "vocabulary size, <unk> included")
    p.add_argument("--widths", type=TRANSFORMER_RANGES["width"], nargs="+",
                   default=list(SWEEP_WIDTHS), metavar="D",
                   help=f"the widths d to train, each a multiple of --heads "
                   f"({TRANSFORMER_RANGES['width'].range}; default "
                   f"{' '.join(map(str, SWEEP_WIDTHS))})")
    option("--seeds", LM_RANGES["seeds"], 5, "train seeds 0..N-1 (paired: each seed trains "
           "every variant)")
    option("--epochs", LM_RANGES["epochs"], 4, "passes over the training split")
    option("--layers", LM_RANGES["layers"], defaults.layers, "Transformer blocks")
    option("--heads", TRANSFORMER_RANGES["heads"], defaults.heads, "attention heads")
    p.add_argument("--init", choices=CONVENTION_NAMES, default="vaswani",
                   help="how the token matrix is drawn and scaled (default %(default)s: both "
                   "matrices drawn alike, inputs and logits of unit size; notebook 06 compares "
                   "the conventions)")
    option("--dropout", LM_RANGES["dropout"], defaults.dropout, "dropout rate")
    option("--bptt", LM_RANGES["bptt"], defaults.bptt, "tokens per chunk, the context")
    option("--batch-size", LM_RANGES["batch_size"], defaults.batch_size, "rows of text per batch")
    option("--lr", LM_RANGES["lr"], defaults.lr, "Adam's learning rate")
    option("--clip", LM_RANGES["clip"], defaults.clip, "gradient norm clip")
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
    p.set_defaults(run=_run_sweep)


def _shard(text: str) -> tuple[int, int]:
    index, _, count = text.partition("/")
    if not (index.isdigit() and count.isdigit() and 1 <= int(index) <= int(count)):
        raise argparse.ArgumentTypeError(f"must be I/N with 1 <= I <= N, got {text!r}")
    return int(index), int(count)


def sweep_arguments(argv: list[str]) -> argparse.Namespace:
    """Parse a `sweep` command line (["sweep", ...]) as the command does: the test that holds
    the committed sweep to its command uses this."""
    parser = _Parser(prog="python -m tying_utils")
    _add_sweep(parser.add_subparsers(dest="command", required=True, parser_class=_Parser))
    return parser.parse_args(argv)


def sweep_config(args) -> LMConfig:
    """The Transformer setup every width of the sweep shares (emb = hidden = the first width)."""
    from .lm_training import LMConfig

    try:
        configs = [LMConfig(arch="transformer", emb=width, hidden=width, layers=args.layers,
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


def _run_sweep(args) -> int:
    import dataclasses
    import platform
    import shlex

    import torch

    from . import runtime
    from .corpus import load_corpus, prepare
    from .lm_training import default_device, run_sweep

    if args.archs is not None or args.merge is not None:
        from .factorial_cli import run_factorial_command

        return run_factorial_command(args)

    if args.plot is not None and args.plot.suffix.lower() != ".png":
        raise UsageError(f"--plot must name a .png file, got {str(args.plot)!r}.")
    if args.device == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda was asked for, but PyTorch sees no GPU here.")
    inputs = ({} if args.corpus in ("pydoc", "python-help")
              else {"the corpus": Path(args.corpus)})
    check_outputs({"--json": args.json, "--plot": args.plot}, inputs)
    config = sweep_config(args)
    if args.threads is not None:
        runtime.set_threads(args.threads)
    data = prepare(load_corpus(args.corpus), args.vocab_cap)
    widest = max(args.widths)
    try:  # the widest model needs the most memory
        check_lm_limits(args, dataclasses.replace(config, emb=widest, hidden=widest), data)
    except UsageError as error:
        raise UsageError(str(error).replace("--emb", "--widths")) from None
    print(data.corpus.describe())
    threads = runtime.choose_threads("lm")[0]
    result = run_sweep(data, config, args.widths, args.seeds, progress=not args.no_progress,
                       device=args.device)
    device = str(args.device or default_device())
    result = {"command": "python -m tying_utils " + shlex.join(sweep_command(args)),
              "argv": sweep_command(args), **result,
              "threads": threads if device == "cpu" else None, "device": device,
              "cpu": _cpu_name(), "torch": torch.__version__,
              "python": platform.python_version()}
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


def _cpu_name() -> str:
    """The processor's model name (Linux: /proc/cpuinfo), else what `platform` knows."""
    import platform

    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def sweep_table(result: dict) -> str:
    """The sweep as the command prints it: one row per width (reports.sweep_table), then what
    it found (lm_training.sweep_sentence)."""
    from .lm_training import sweep_sentence

    return reports.sweep_table(result, sweep_sentence(result))


def _sweep_png(result: dict) -> bytes:
    import textwrap

    from matplotlib.figure import Figure

    from .lm_training import plot_sweep, sweep_sentence

    fig = Figure(figsize=(8, 4.8), layout="constrained")
    ax = fig.subplots()
    plot_sweep(result, ax=ax, name="tied_minus_untied")
    plot_sweep(result, ax=ax, name="tied_minus_size_matched", widths=False)
    ax.set_title(textwrap.fill(sweep_sentence(result), 110, break_on_hyphens=False),
                 fontsize="small")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    return buffer.getvalue()
