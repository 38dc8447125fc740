"""`python -m tying_utils ranks [CASE] [--fixed] [--steps N] [--json PATH]`: notebook 08's cases
(ties_across_ranks) from the command line.

Without CASE it lists the cases. With CASE it starts the 2 gloo processes itself (through
`tying_utils.distributed.launch`, with its hard timeout), runs the broken variant (or the fixed
one with `--fixed`) and prints the verdict against the single-process tied reference. Exit status
0: the run matched the reference within 1e-6; 1: it raised or ended away from it; 2: bad input.
torch is imported only when a case runs, so `--help` stays fast.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..distributed_cases import CASES
from .arguments import whole
from .outputs import check_outputs, write_outputs

__all__ = ["TOLERANCE", "add_parser", "verdict", "run"]

TOLERANCE = 1e-6


def add_parser(commands) -> None:
    """Add the `ranks` command to the `commands` subparsers of `cli.main`."""
    steps = whole(1, 100)
    p = commands.add_parser(
        "ranks", help="run a case of notebook 08 (a tie under torch.distributed) in 2 processes",
        description="List the cases of notebook 08, or run one in 2 gloo processes on this CPU "
        "and compare it with a tied model trained in one process. Exit status 0: it matched the "
        "reference within 1e-6; 1: it raised or ended away from it; 2: bad input.",
    )
    p.add_argument("case", nargs="?", choices=list(CASES), metavar="CASE",
                   help=f"one of {', '.join(CASES)}; leave out to list them")
    p.add_argument("--fixed", action="store_true", help="run the fixed variant (default: broken)")
    p.add_argument("--steps", type=steps, default=3, metavar="N",
                   help=f"SGD steps ({steps.range}, default 3)")
    p.add_argument("--json", type=Path, default=None, metavar="PATH",
                   help="also write the result as JSON")
    p.set_defaults(run=run)


def verdict(result: dict) -> tuple[bool, str]:
    """Whether a result of `launch` matches the reference, and one line that says how."""
    variant = "fixed" if result["fixed"] else "broken"
    where = f"{result['case']} ({variant}, {result['steps']} steps)"
    if result["outcome"] == "error":
        return False, f"{where}: torch raised {result['error']}"
    drift, off = result["drift"], result["off_reference"]
    if off < TOLERANCE and drift == 0:
        return True, (f"{where}: matches the single-process tied reference within {TOLERANCE:g} "
                      f"(largest difference {off:.2g}); the tied matrix's copies are equal")
    copies = ("the tied matrix's copies are equal" if drift == 0
              else f"the tied matrix's copies differ by up to {drift:.3g}")
    return False, (f"{where}: finished without an error, off the single-process reference by "
                   f"up to {off:.3g}; {copies}")


def run(args) -> int:
    if args.case is None:
        if args.fixed or args.json is not None:
            raise ValueError("--fixed and --json need a CASE; run `ranks` alone to list them.")
        width = max(map(len, CASES))
        for name, case in CASES.items():
            print(f"{name:{width}}  broken: {case.broken}")
            print(f"{'':{width}}  fixed:  {case.fixed}")
        return 0
    check_outputs({"--json": args.json})
    from ..distributed import launch

    try:
        [result] = launch([(args.case, args.fixed)], steps=args.steps)
    except (TimeoutError, RuntimeError) as error:
        print(f"error: {error}")
        return 1
    ok, line = verdict(result)
    print(line)
    if args.json is not None:
        write_outputs({args.json: (json.dumps(result, indent=2) + "\n").encode()})
    return 0 if ok else 1
