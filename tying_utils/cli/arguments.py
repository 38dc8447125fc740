"""The options the commands share, and the types that hold each to its range as it is parsed.

`compare` (notebook 04), `lm` (notebook 05), `sweep` (notebook 06) and `ranks` (notebook 08) build
their options from here: `whole` and `number` (an argparse `type` whose `.range` says the range in
--help), `LM_RANGES` (options.py's ranges for `lm` and `sweep`, as such types), `add_option` (an
option whose help ends with its range and default), the `--corpus` option, the options whose
default depends on `--arch` (`per_arch_option`), and the Transformer's own options, which `lm
--arch transformer` and `sweep` both take (`transformer_options`, `transformer_settings`).

Nothing here imports PyTorch, so `--help` answers at once; `check_device` imports it only when a
run asks for a GPU.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from ..architectures import ARCHITECTURES
from ..options import CONVENTION_NAMES, LM_REAL_RANGES
from ..options import LM_RANGES as LM_WHOLE_RANGES
from .usage import UsageError

__all__ = ["whole", "number", "LM_RANGES", "TRANSFORMER_RANGES", "add_option", "corpus_option",
           "corpus_inputs", "check_device", "per_arch_option", "transformer_options",
           "transformer_settings"]


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


# What one `lm` or `sweep` option may be (options.py's ranges, as parsers); `lm.check_lm_limits`
# then checks the run as a whole.
LM_RANGES = {
    **{name: whole(low, high) for name, (low, high) in LM_WHOLE_RANGES.items()},
    **{name: number(low, high, low_allowed=ends[0] == "[", high_allowed=ends[1] == "]")
       for name, (low, high, ends) in LM_REAL_RANGES.items()},
}
TRANSFORMER_RANGES = {name: LM_RANGES[name] for name in ("heads", "width")}


def add_option(p, name: str, kind, default, text: str, **extra) -> None:
    """An option whose help ends with its range (where `kind` has one) and its default."""
    limits = f"{kind.range}; " if hasattr(kind, "range") else ""
    p.add_argument(name, type=kind, default=default,
                   help=f"{text} ({limits}default %(default)s)", **extra)


def corpus_option(p) -> None:
    """--corpus: the text `lm` and `sweep` train on."""
    add_option(p, "--corpus", str, "pydoc", "'pydoc' (CPython 3.11.7's help texts, shipped with "
               "the package), 'python-help' (this Python's own), a UTF-8 text file, or a folder "
               "with train.txt, valid.txt, test.txt", metavar="pydoc|python-help|PATH")


def corpus_inputs(corpus: str) -> dict[str, Path]:
    """What --corpus reads, for `outputs.check_outputs`: nothing for a shipped corpus."""
    return {} if corpus in ("pydoc", "python-help") else {"the corpus": Path(corpus)}


def check_device(device: str | None) -> None:
    """--device cuda needs a GPU that PyTorch sees."""
    if device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise UsageError("--device cuda was asked for, but PyTorch sees no GPU here.")


def per_arch_option(p, flag: str, name: str, text: str) -> None:
    """An option whose default depends on --arch (each architecture's `defaults`); its range is
    `LM_RANGES`'."""
    kind = LM_RANGES[name]
    defaults = ", ".join(f"{record.defaults[name]:g} for {arch}"
                         for arch, record in ARCHITECTURES.items())
    p.add_argument(flag, type=kind, default=None, help=f"{text} ({kind.range}; default {defaults})")


def transformer_options(p) -> None:
    """--heads and --init: the Transformer's own settings, as `lm` offers them."""
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
