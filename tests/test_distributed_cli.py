"""`python -m tying_utils ranks [CASE] [--fixed] [--steps N] [--json PATH]`: the list, the
verdicts and their exit statuses, and bad input (exit 2, one line, no traceback)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tying_utils.cli import main
from tying_utils.distributed_cases import CASES


def test_without_a_case_it_lists_every_case(capsys):
    assert main(["ranks"]) == 0
    out = capsys.readouterr().out
    for name, case in CASES.items():
        assert f"{name} " in out and case.broken in out and case.fixed in out


@pytest.mark.parametrize("argv, phrase", [
    (["ranks", "ddpx"], "argument CASE: invalid choice: 'ddpx'"),
    (["ranks", "tp", "--steps", "0"], "must be a whole number from 1 to 100, got '0'"),
    (["ranks", "tp", "--steps", "ten"], "must be a whole number from 1 to 100, got 'ten'"),
    (["ranks", "--fixed"], "--fixed and --json need a CASE"),
])
def test_bad_input_exits_2_with_one_line(capsys, argv, phrase):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert phrase in err and err.count("\n") == 1 and "Traceback" not in err


def test_an_unwritable_json_path_fails_before_any_process_starts(capsys, tmp_path):
    assert main(["ranks", "tp", "--json", str(tmp_path / "missing" / "x.json")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_a_silent_break_exits_1_and_the_fix_exits_0_with_its_json(tmp_path):
    broken = subprocess.run([sys.executable, "-m", "tying_utils", "ranks", "pipeline"],
                            capture_output=True, text=True, timeout=180)
    assert broken.returncode == 1, broken.stderr
    assert "finished without an error" in broken.stdout
    assert "copies differ by up to" in broken.stdout
    out = tmp_path / "fixed.json"
    fixed = subprocess.run([sys.executable, "-m", "tying_utils", "ranks", "pipeline", "--fixed",
                            "--steps", "2", "--json", str(out)],
                           capture_output=True, text=True, timeout=180)
    assert fixed.returncode == 0, fixed.stderr
    assert "matches the single-process tied reference within 1e-06" in fixed.stdout
    result = json.loads(out.read_text())
    assert result["case"] == "pipeline" and result["fixed"] is True and result["steps"] == 2
    assert result["off_reference"] < 1e-6


def test_a_loud_break_names_the_error(capsys):
    assert main(["ranks", "fsdp2", "--steps", "1"]) == 1
    assert "torch raised ValueError: Parameter 'head.weight' is shared" in capsys.readouterr().out
