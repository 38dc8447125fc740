"""`python -m tying_utils --help` and `… COMMAND --help` answer without importing PyTorch, so
they are quick (issue 17: under half the time of `import torch`; benchmarks/cli_help.py times
it)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

COMMANDS = ["compare", "lm", "sweep", "audit", "info", "ranks"]


@pytest.mark.parametrize("args", [["--help"], *[[c, "--help"] for c in COMMANDS]],
                         ids=lambda a: " ".join(a))
def test_help_does_not_import_torch(args):
    # -X importtime lists every module imported, one line each, on stderr
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "tying_utils", *args],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "usage: python -m tying_utils" in result.stdout
    imported = re.findall(r"\|\s+([\w.]+)\s*$", result.stderr, re.M)
    assert "tying_utils" in imported
    assert not [m for m in imported if m == "torch" or m.startswith("torch.")], \
        "--help imported torch"


def test_the_cheap_option_lists_match_the_modules_that_implement_them():
    """options.py repeats no fact: the names it offers are those the implementations accept."""
    from tying_utils import options
    from tying_utils.lm_training import LMConfig
    from tying_utils.recurrent_lm import CELLS
    from tying_utils.transformer import CONVENTIONS

    assert tuple(CONVENTIONS) == options.CONVENTION_NAMES
    assert {cell: gates for cell, (_, gates) in CELLS.items()} == options.CELL_GATES
    for arch in options.ARCHS:
        config = LMConfig(arch=arch)
        assert all(getattr(config, k) == v for k, v in vars(options.lm_defaults(arch)).items())


def test_no_library_module_imports_the_command_line():
    """Data flows one way, library → command line: only `__main__.py` imports the cli package,
    and the cli package's command modules each offer `add_parser` and `run`."""
    import ast
    from pathlib import Path

    import tying_utils.cli as cli

    package = Path(cli.__file__).parents[1]
    importers = []
    for path in sorted(package.rglob("*.py")):
        if path.parent.name == "cli" or path.name == "__main__.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):  # `from .cli import x`, `from . import cli`
                base = "." * node.level + (node.module or "")
                names = [base, *(f"{base}{'.' if node.module else ''}{alias.name}"
                                 for alias in node.names)]
            else:
                continue
            if any(re.fullmatch(r"(tying_utils|\.\.?)\.?cli(\..*)?", name) for name in names):
                importers.append(path.relative_to(package).as_posix())
    assert not importers, f"library modules import the command line: {importers}"
    assert all(callable(command.add_parser) and callable(command.run) for command in cli.COMMANDS)
