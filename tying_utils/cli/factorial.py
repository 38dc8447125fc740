"""`python -m tying_utils sweep --archs …`: notebook 06's (transformer) factorial from the command
line, run, resumed, sharded and merged (factorial.py runs it, factorial_analysis.py reads it).

The `sweep` command (cli/sweep.py) parses the options, a group of its own, and hands them here
when `--archs` or `--merge` is given. It imports PyTorch (through factorial.py), so `sweep`
imports it only when it runs.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

from .. import runtime
from ..factorial import FactorialConfig, merge_results, run_factorial
from ..factorial_analysis import factorial_table
from ..lm_training import default_device
from .arguments import check_device
from .outputs import check_outputs, json_bytes, machine_record, write_outputs
from .usage import UsageError

__all__ = ["factorial_config", "factorial_command", "run_factorial_command"]


def factorial_config(args) -> FactorialConfig:
    """The experiment a `sweep --archs …` command line describes."""
    if len(args.widths) != 1:
        raise UsageError(f"the factorial trains at one width: give --widths once, got "
                         f"{' '.join(map(str, args.widths))}.")
    for name in ("archs", "optimizers", "vocab_caps", "other_corpora"):
        values = getattr(args, name)
        if len(set(values)) != len(values):
            raise UsageError(f"--{name.replace('_', '-')} lists a value twice: "
                             f"{' '.join(map(str, values))}.")
    if args.corpus in args.other_corpora:
        raise UsageError(f"--other-corpora repeats the main corpus {args.corpus!r}.")
    try:
        return FactorialConfig(
            archs=tuple(args.archs or ()), optimizers=tuple(args.optimizers),
            vocab_caps=tuple(args.vocab_caps), corpus=args.corpus,
            other_corpora=tuple(args.other_corpora), width=args.widths[0], epochs=args.epochs,
            max_train_tokens=args.max_train_tokens, evals_per_epoch=args.evals_per_epoch,
            valid_subset=args.valid_subset, seeds=tuple(range(args.seeds)), init=args.init)
    except ValueError as error:
        raise UsageError(str(error)) from None


def factorial_command(args) -> list[str]:
    """The command line that reproduces this factorial, every setting spelled out (not the
    shard, the runs folder or the threads: they change where and how fast, not what)."""
    words = ["sweep", "--archs", *args.archs, "--optimizers", *args.optimizers,
             "--vocab-caps", *map(str, args.vocab_caps), "--corpus", args.corpus,
             "--other-corpora", *args.other_corpora, "--widths", str(args.widths[0]),
             "--seeds", str(args.seeds), "--epochs", str(args.epochs),
             "--evals-per-epoch", str(args.evals_per_epoch),
             "--valid-subset", str(args.valid_subset),
             "--max-train-tokens", str(args.max_train_tokens), "--init", args.init]
    if args.json is not None:
        words += ["--json", str(args.json)]
    return words


def run_factorial_command(args) -> int:
    if args.merge is not None:
        return _merge(args)
    config = factorial_config(args)
    check_device(args.device)
    if args.json is None and args.runs_dir is None:
        raise UsageError("the factorial needs --json (its results) or --runs-dir (its runs).")
    check_outputs({"--json": args.json})
    folder = args.runs_dir or args.json.with_name(args.json.name + ".runs")
    if args.threads is not None:
        runtime.set_threads(args.threads)
    try:
        result = run_factorial(config, folder, args.shard, device=args.device,
                               log=(lambda _: None) if args.no_progress else print)
    except ValueError as error:
        raise UsageError(str(error)) from None
    argv = factorial_command(args)
    device = str(args.device or default_device())
    result = {"command": "python -m tying_utils " + shlex.join(argv), "argv": argv, **result,
              **machine_record(device)}
    if args.shard == (1, 1):
        del result["shard"]
        print(factorial_table(result))
    if args.json is not None:
        write_outputs({args.json: json_bytes(result)})
        print(f"wrote {args.json}")
    return 0


def _merge(args) -> int:
    if args.json is None:
        raise UsageError("--merge needs --json: the file the merged shards go to.")
    shards = []
    for path in args.merge:
        try:
            shards.append(json.loads(Path(path).read_text(encoding="utf-8")))
        except (OSError, ValueError) as error:
            raise UsageError(f"cannot read the shard {str(path)!r}: {error}.") from None
    if any("shard" not in s for s in shards):
        raise UsageError("--merge takes the JSON files that --shard I/N runs wrote.")
    try:
        merged = merge_results(shards)
    except ValueError as error:
        raise UsageError(str(error)) from None
    first = shards[0]
    argv = list(first["argv"])
    if "--json" in argv:
        argv[argv.index("--json") + 1] = str(args.json)
    else:
        argv += ["--json", str(args.json)]
    result = {"command": "python -m tying_utils " + shlex.join(argv), "argv": argv, **merged,
              **{k: first[k] for k in ("device", "cpu", "torch", "python")}}
    shard_files = {f"shard {i}": Path(p) for i, p in enumerate(args.merge, 1)}
    check_outputs({"--json": args.json}, shard_files)
    print(factorial_table(result))
    write_outputs({args.json: json_bytes(result)})
    print(f"wrote {args.json}")
    return 0
