"""`python -m tying_utils lm`: notebook 05's (language_model) comparison from the command line,
and notebook 06's (transformer) with `--arch transformer`.

Trains a small language model tied, untied and size-matched untied over several seeds
(lm_training.py's `compare_variants`), prints their perplexities (`lm_table`) and writes, on
request, the results as JSON. Before it trains, `check_lm_limits` checks the run as a whole: every
split of the corpus fills the rows it is read in, and the memory the run needs (the architecture's
record, architectures.py, which lm_memory.py estimates from numbers) stays under
`LM_MEMORY_LIMIT`.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import TYPE_CHECKING

from ..architectures import ARCHITECTURES
from ..lm_memory import LM_MEMORY_LIMIT, memory_problem
from ..options import ARCHS, CELL_GATES, EVAL_BATCH, lm_defaults
from .arguments import (
    LM_RANGES,
    add_option,
    check_device,
    corpus_inputs,
    corpus_option,
    per_arch_option,
    transformer_options,
    transformer_settings,
)
from .outputs import check_outputs, json_bytes, write_outputs
from .usage import UsageError

if TYPE_CHECKING:
    from ..lm_training import LMConfig

__all__ = ["add_parser", "run", "check_lm_limits", "lm_memory_parts", "transformer_memory_parts"]


def add_parser(commands) -> None:
    """Add the `lm` command to the `commands` subparsers of `cli.main`."""
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
    corpus_option(p)
    add_option(p, "--seeds", LM_RANGES["seeds"], 3, "train seeds 0..N-1")
    add_option(p, "--epochs", LM_RANGES["epochs"], defaults.epochs,
               "passes over the training split")
    add_option(p, "--dim", LM_RANGES["dim"], defaults.dim,
               "embedding width d (called --emb before; both still work)")
    p.add_argument("--emb", dest="dim", type=LM_RANGES["dim"],
                   help=argparse.SUPPRESS)  # the old spelling of --dim
    p.add_argument("--hidden", type=LM_RANGES["dim"], default=None,
                   help=f"hidden size ({LM_RANGES['dim'].range}; default: the embedding width; "
                   "tying needs them equal)")
    add_option(p, "--vocab-cap", LM_RANGES["vocab_cap"], 2000, "vocabulary size, <unk> included")
    add_option(p, "--arch", str, "lstm", "the model: lstm, notebook 05's recurrent model, or "
               "transformer, notebook 06's decoder-only Transformer", choices=ARCHS)
    add_option(p, "--cell", str, defaults.cell, "recurrent cell (lstm only)",
               choices=tuple(CELL_GATES))
    per_arch_option(p, "--layers", "layers", "recurrent layers or Transformer blocks")
    transformer_options(p)
    add_option(p, "--dropout", LM_RANGES["dropout"], defaults.dropout, "dropout rate")
    add_option(p, "--bptt", LM_RANGES["bptt"], defaults.bptt, "tokens per truncated-"
               "backpropagation chunk")
    add_option(p, "--batch-size", LM_RANGES["batch_size"], defaults.batch_size,
               "rows of text per batch")
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
    p.set_defaults(run=run)


def run(args) -> int:
    from .. import runtime
    from ..corpus import load_corpus, prepare
    from ..lm_training import LMConfig, compare_variants, lm_results_json, lm_table

    hidden = args.dim if args.hidden is None else args.hidden
    if hidden != args.dim:
        raise UsageError(f"tying needs --hidden to equal --dim, got --hidden {hidden} and "
                         f"--dim {args.dim}.")
    check_device(args.device)
    check_outputs({"--json": args.json}, corpus_inputs(args.corpus))
    try:
        config = LMConfig(dim=args.dim, hidden=hidden, cell=args.cell, layers=args.layers,
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


def lm_memory_parts(args, config: LMConfig, vocab: int) -> dict[str, int]:
    """Roughly how many bytes an `lm` run of `args.seeds` seeds needs, by part: the record of
    `config.arch` (architectures.py) gives its sizes to lm_memory.py, which says what each part
    counts."""
    return ARCHITECTURES[config.arch].memory_parts(config, vocab, args.seeds)


def transformer_memory_parts(args, config: LMConfig, vocab: int) -> dict[str, int]:
    """`lm_memory_parts` for a Transformer (lm_memory.py says what each part counts)."""
    return ARCHITECTURES["transformer"].memory_parts(config, vocab, args.seeds)
