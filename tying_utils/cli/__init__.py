"""The command line: `python -m tying_utils compare | lm | sweep | audit | info …`.

`compare` is introduced in notebook 04 (loss_curves) and makes the README's headline figure; `lm`
goes with notebook 05 (language_model), `sweep` with notebook 06 (transformer; `sweep --archs` runs
its factorial), `audit` with notebook 07 (tie_lifecycle), `ranks` with notebook 08
(ties_across_ranks); `info` prints the versions and the thread policy. One module per command
(`compare.py`, `lm.py`, `sweep.py`, `audit.py`, `ranks.py`, `info.py`), each with
`add_parser(commands)` and `run(args)`, and `factorial.py`, to which `sweep --archs` hands its run;
what they share is in `usage.py` (`UsageError`, the one-line `Parser`), `arguments.py` (option types
and shared options) and `outputs.py` (output files). `__main__.py` only calls `main`; no library
module imports this package, so data flows one way: library → command line.

`python -m tying_utils COMMAND --help` lists the options and the range each one allows. A bad
argument ends with one line that says what was wrong, and exit status 2, without a traceback.

Everything that can be checked before the work starts is checked then: each option's range as it
is parsed (`whole`, `number`), what the run needs together (`check_lm_limits`: the memory a
language model run would take), and every output file (`check_outputs`). Output files are written
at the very end, all or none (`write_outputs`): each goes to a temporary file in its own folder,
and only when all of them are complete are they renamed over the old ones, so a full disk or a
failed figure leaves every earlier result file as it was.

Only what the parsers need is imported here, and nothing that imports PyTorch: `--help` answers
at once. Each command imports the modules that do its work when it runs.
"""

from __future__ import annotations

import sys

from ..lm_memory import LM_MEMORY_LIMIT
from . import audit, compare, info, lm, ranks, sweep
from .arguments import (
    LM_RANGES,
    TRANSFORMER_RANGES,
    number,
    per_arch_option,
    transformer_options,
    transformer_settings,
    whole,
)
from .lm import check_lm_limits, lm_memory_parts, transformer_memory_parts
from .outputs import check_outputs, check_writable, json_bytes, write_outputs
from .sweep import (
    SWEEP_WIDTHS,
    sweep_arguments,
    sweep_command,
    sweep_config,
    sweep_table,
)
from .usage import Parser, UsageError

__all__ = ["main", "UsageError", "Parser", "COMMANDS",
           # the names cli.py offered when the command line was one module, for code written
           # against it
           "LM_MEMORY_LIMIT", "LM_RANGES", "TRANSFORMER_RANGES", "number", "whole",
           "per_arch_option", "transformer_options", "transformer_settings", "check_lm_limits",
           "lm_memory_parts", "transformer_memory_parts", "check_outputs", "check_writable",
           "json_bytes", "write_outputs", "SWEEP_WIDTHS", "sweep_arguments", "sweep_command",
           "sweep_config", "sweep_table"]

# The commands in the order --help lists them.
COMMANDS = (compare, lm, info, audit, sweep, ranks)


def main(argv=None) -> int:
    """Run one command line (`argv`, default sys.argv[1:]) and return its exit status."""
    parser = Parser(prog="python -m tying_utils", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for command in COMMANDS:
        command.add_parser(commands)
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
