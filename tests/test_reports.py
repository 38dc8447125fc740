"""tying_utils/reports.py: the result tables' shared pieces, and that the module stays light.

What the tables look like as a whole is held elsewhere: the READMEs' tables by
tests/test_notebooks.py (tools/sync_notebooks.py --check), the commands' printouts by
tests/test_cli_compare.py, test_cli_lm.py and test_cli_sweep.py.
"""

from __future__ import annotations

import ast
import json
import math
import sys
from pathlib import Path

from tying_utils import reports

SOURCE = Path(reports.__file__)
ROOT = SOURCE.parents[1]


def test_imports_only_the_standard_library_at_the_top():
    """The command line imports it before parsing, so `--help` must not pay for PyTorch or
    numpy; budget.py, the one package module it reads, is imported inside its function."""
    tree = ast.parse(SOURCE.read_text(encoding="utf-8"))
    top = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            top |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            top.add("." if node.level else node.module.split(".")[0])
    assert top <= set(sys.stdlib_module_names) | {"__future__"}, top


def test_steps_never_and_whole_numbers():
    assert reports.steps_text(None) == reports.steps_text(math.inf) == "never"
    assert reports.steps_text(620.4) == "620"
    assert reports.steps_interval(620.0, (611.0, math.inf)) == "620 [611, never]"


def test_mean_and_sample_sd():
    assert reports.mean_sd([1, 2, 3]) == "2.0 ± 1.0"
    assert reports.mean_sd([68.74]) == "68.7 ± 0.0"


def test_intervals_signed_and_rounded_to_their_precision():
    interval = {"mean": -2.94, "ci95": [-4.71, -1.08]}
    assert reports.signed_interval(interval) == "-2.9 [-4.7, -1.1]"
    assert reports.minus(reports.signed_interval(interval)) == "−2.9 [−4.7, −1.1]"
    assert reports.interval_text(interval) == "-3 [-5, -1]"
    assert reports.interval_text({"mean": 10.7, "ci95": [9.8, 11.6]}) == "+10.7 [+9.8, +11.6]"
    assert reports.interval_text({"mean": 1210.9, "ci95": [-12987.1, 15408.9]},
                                 scale=1000) == "+1 [-13, +15]"


def test_notes_wrap_in_english_and_not_in_chinese():
    text = "word " * 60
    assert all(len(line) <= 96 for line in reports.note_lines(text, "en"))
    assert reports.note_lines("绑定" * 80, "zh") == ["绑定" * 80]


def test_dim_of_reads_the_width_under_its_new_and_its_old_name():
    """Results written before the rename say "emb" (docs/results/lm*.json), newer ones "dim"."""
    assert reports.dim_of({"dim": 32, "hidden": 32}) == 32
    assert reports.dim_of({"emb": 64, "hidden": 64}) == 64
    committed = json.loads((ROOT / "docs" / "results" / "lm.json").read_text(encoding="utf-8"))
    assert reports.dim_of(committed["config"]) == committed["config"]["emb"]
