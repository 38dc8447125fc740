"""`python -m tying_utils compare`: output, JSON, plot, and every bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tying_utils.cli import main

FAST = ["--seeds", "6", "--steps", "300"]


def test_summary_table_and_json(tmp_path, capsys):
    path = tmp_path / "result.json"
    assert main(["compare", *FAST, "--json", str(path)]) == 0
    printed = capsys.readouterr().out
    assert "median steps to threshold" in printed and "tied reached the threshold first" in printed
    result = json.loads(path.read_text())
    assert result["config"]["task"] == "identity" and result["config"]["seeds"] == 6
    for variant in ("tied", "untied"):
        steps = result[variant]["steps_to_threshold"]
        assert len(steps) == 6 and len(result[variant]["final_loss"]) == 6
        assert all(s is None or (isinstance(s, int) and 0 <= s < 300) for s in steps)
    summary = result["summary"]
    assert 0 <= summary["fraction_tied_faster"] <= 1
    low, high = summary["ci95"]
    assert low <= summary["fraction_tied_faster"] <= high
    assert summary["threshold"] == pytest.approx(0.009)
    for key in ("median_steps_tied", "median_steps_untied"):
        assert summary[key] is None or isinstance(summary[key], float)


def test_seeds_that_never_reach_the_threshold_are_null(tmp_path):
    path = tmp_path / "r.json"
    assert main(["compare", "--seeds", "3", "--steps", "20", "--threshold", "1e-6",
                 "--json", str(path)]) == 0
    result = json.loads(path.read_text())
    assert result["tied"]["steps_to_threshold"] == [None, None, None]
    assert result["summary"]["median_steps_untied"] is None
    assert result["summary"]["fraction_tied_faster"] == 0


def test_json_matches_the_trainer(tmp_path):
    from tying_utils import RunConfig, steps_to_threshold, train_many

    path = tmp_path / "r.json"
    main(["compare", "--task", "shift", "--loss", "ce", "--init", "matched", "--seeds", "4",
          "--steps", "200", "--vocab", "7", "--dim", "4", "--lr", "0.01", "--threshold", "0.5",
          "--json", str(path)])
    result = json.loads(path.read_text())
    run = train_many(RunConfig(task="shift", loss="ce", init="matched", steps=200, vocab=7,
                               dim=4, lr=0.01), 4)
    expected = [None if s == float("inf") else int(s)
                for s in steps_to_threshold(run.losses["tied"], 0.5)]
    assert result["tied"]["steps_to_threshold"] == expected
    assert result["config"]["lr"] == 0.01 and result["config"]["init"] == "matched"


def test_plot_is_a_png(tmp_path):
    path = tmp_path / "bands.png"
    assert main(["compare", *FAST, "--plot", str(path)]) == 0
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


BAD = [
    (["--seeds", "0"], "--seeds must be from 1 to"),
    (["--seeds", "-4"], "--seeds must be from 1 to"),
    (["--seeds", "many"], "argument --seeds: invalid int value"),
    (["--dim", "-2"], "dim must be a whole number from 1 to"),
    (["--dim", "0"], "dim must be a whole number from 1 to"),
    (["--vocab", "1"], "vocab must be a whole number from 2 to"),
    (["--steps", "0"], "steps must be a whole number"),
    (["--lr", "0"], "lr must be a number in"),
    (["--lr", "nan"], "lr must be a number in"),
    (["--task", "copy"], "argument --task: invalid choice: 'copy'"),
    (["--loss", "l1"], "argument --loss: invalid choice"),
    (["--init", "zeros"], "argument --init: invalid choice"),
    (["--threshold", "-1"], "--threshold must be a positive number"),
    (["--threshold", "inf"], "--threshold must be a positive number"),
    (["--json", "/nonexistent-folder/x.json"], "the folder '/nonexistent-folder' does not exist"),
    (["--plot", "figure.svg"], "--plot must name a .png file"),
    (["--seeds", "20000", "--steps", "100000"], "GB, over the"),
    (["--frobnicate"], "unrecognized arguments: --frobnicate"),
]


@pytest.mark.parametrize(("args", "message"), BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_input_is_one_line_and_exit_2(args, message, capsys):
    assert main(["compare", *args]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err


def test_unwritable_path(tmp_path, capsys):
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        if os.access(folder, os.W_OK):  # root can write anywhere: use a directory as the file
            args = ["--json", str(tmp_path)]
            message = "is a directory"
        else:
            args = ["--json", str(folder / "x.json")]
            message = "permission denied"
        assert main(["compare", *args]) == 2
        assert message in capsys.readouterr().err
    finally:
        folder.chmod(0o700)


def test_command_line_exits_2_without_traceback():
    done = subprocess.run([sys.executable, "-m", "tying_utils", "compare", "--seeds", "0"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip() == "error: --seeds must be from 1 to 20000, got 0."


def test_help_lists_every_option():
    done = subprocess.run([sys.executable, "-m", "tying_utils", "compare", "--help"],
                          capture_output=True, text=True, timeout=120)
    for option in ("--task", "--loss", "--init", "--seeds", "--steps", "--vocab", "--dim",
                   "--lr", "--threshold", "--json", "--plot"):
        assert option in done.stdout
