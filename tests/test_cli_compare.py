"""`python -m tying_utils compare`: output, JSON, plot, safe output files, and every bad input."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys

import pytest

from tying_utils.cli import main

FAST = ["--seeds", "6", "--steps", "300"]
OLD_JSON = b'{"old": "results"}\n'
OLD_PNG = b"\x89PNG\r\n\x1a\nold figure"


def command_line(*args, preexec_fn=None):
    """Run `python -m tying_utils ARGS` the way a user does, on one thread."""
    return subprocess.run([sys.executable, "-m", "tying_utils", *args], capture_output=True,
                          text=True, timeout=300, preexec_fn=preexec_fn,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})


def assert_one_line_error(stderr: str, message: str) -> None:
    assert stderr.startswith("error: ") and stderr.count("\n") == 1, stderr
    assert "Traceback" not in stderr and message in stderr, stderr


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
    assert not list(tmp_path.glob(".*.tmp"))  # no temporary file is left behind


def test_seeds_that_never_reach_the_threshold_are_null(tmp_path, capsys):
    path = tmp_path / "r.json"
    assert main(["compare", "--seeds", "3", "--steps", "20", "--threshold", "1e-6",
                 "--json", str(path)]) == 0
    result = json.loads(path.read_text())
    assert result["tied"]["steps_to_threshold"] == [None, None, None]
    assert result["summary"]["median_steps_untied"] is None
    assert result["summary"]["fraction_tied_faster"] == 0
    # "same step 100%" alone would read as a tie: the table says that neither reached it.
    printed = capsys.readouterr().out
    assert "same step 100.0% (3 where neither reached it)" in printed
    assert "note: no seed of either variant reached 1e-06 in 20 steps" in printed


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


def test_plot_is_a_png_and_an_old_file_keeps_its_permissions(tmp_path):
    path = tmp_path / "bands.png"
    path.write_bytes(OLD_PNG)
    path.chmod(0o640)
    assert main(["compare", *FAST, "--plot", str(path)]) == 0
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.read_bytes() != OLD_PNG
    assert path.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bands.png"]


def test_a_link_is_followed_and_stays_a_link(tmp_path):
    target = tmp_path / "real.json"
    target.write_bytes(OLD_JSON)
    link = tmp_path / "link.json"
    link.symlink_to(target)
    assert main(["compare", "--seeds", "2", "--steps", "5", "--json", str(link)]) == 0
    assert link.is_symlink() and json.loads(target.read_text())["config"]["seeds"] == 2


BAD = [
    (["--seeds", "0"], "argument --seeds: must be a whole number from 1 to 20000, got '0'"),
    (["--seeds", "-4"], "argument --seeds: must be a whole number from 1 to 20000"),
    (["--seeds", "many"], "argument --seeds: must be a whole number from 1 to 20000"),
    (["--seeds", "2.5"], "argument --seeds: must be a whole number"),
    (["--dim", "-2"], "argument --dim: must be a whole number from 1 to 512"),
    (["--dim", "0"], "argument --dim: must be a whole number from 1 to 512"),
    (["--vocab", "1"], "argument --vocab: must be a whole number from 2 to 5000"),
    (["--vocab", "5001"], "argument --vocab: must be a whole number from 2 to 5000"),
    (["--steps", "0"], "argument --steps: must be a whole number from 1 to 100000"),
    (["--lr", "0"], "argument --lr: must be a number more than 0 and at most 10"),
    (["--lr", "nan"], "argument --lr: must be a number more than 0 and at most 10"),
    (["--lr", "inf"], "argument --lr: must be a number more than 0"),
    (["--lr", "-0.1"], "argument --lr: must be a number more than 0"),
    (["--task", "copy"], "argument --task: invalid choice: 'copy'"),
    (["--loss", "l1"], "argument --loss: invalid choice"),
    (["--init", "zeros"], "argument --init: invalid choice"),
    (["--threshold", "-1"], "argument --threshold: must be a number more than 0, got '-1'"),
    (["--threshold", "inf"], "argument --threshold: must be a number more than 0"),
    (["--threshold", "nan"], "argument --threshold: must be a number more than 0"),
    # at or above the loss of a uniform guess (mse, 10 tokens: 9/100), models start near it
    (["--threshold", "0.09"], "--threshold 0.09 is not below 0.09, the mse loss of a uniform"),
    (["--threshold", "5"], "is not below 0.09"),
    (["--loss", "ce", "--threshold", "2.31"], "not below 2.3, the ce loss of a uniform guess"),
    (["--json", "/nonexistent-folder/x.json"], "the folder '/nonexistent-folder' does not exist"),
    (["--plot", "figure.svg"], "--plot must name a .png file, got 'figure.svg'"),
    (["--plot", "figure"], "--plot must name a .png file"),
    (["--seeds", "20000", "--steps", "100000"], "GB, over the"),
    (["--frobnicate"], "unrecognized arguments: --frobnicate"),
    (["--task", "identity\nshift"], "invalid choice: 'identity\\nshift'"),
    (["stray\nline"], "unrecognized arguments: stray\\nline"),  # kept on one line
]


@pytest.mark.parametrize(("args", "message"), BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_input_is_one_line_and_exit_2(args, message, capsys):
    assert main(["compare", *args]) == 2
    captured = capsys.readouterr()
    assert_one_line_error(captured.err, message)
    assert captured.out == ""


def test_json_and_plot_naming_one_file_is_refused_before_training(tmp_path, capsys):
    path = tmp_path / "out.png"
    path.write_bytes(OLD_PNG)
    (tmp_path / "sub").mkdir()
    other_spelling = tmp_path / "sub" / ".." / "out.png"
    assert main(["compare", "--json", str(path), "--plot", str(other_spelling)]) == 2
    captured = capsys.readouterr()
    assert_one_line_error(captured.err, "--json and --plot both name")
    assert captured.out == "" and path.read_bytes() == OLD_PNG


@pytest.mark.parametrize("option", ["--json", "--plot"])
def test_an_output_that_is_a_folder_is_refused(option, tmp_path, capsys):
    folder = tmp_path / "figures.png"
    folder.mkdir()
    assert main(["compare", option, str(folder)]) == 2
    assert_one_line_error(capsys.readouterr().err, f"{option} must name a file, but")


@pytest.mark.skipif(not os.path.exists(os.devnull), reason="no null device here")
def test_an_output_that_is_a_device_is_refused(capsys):
    # Renaming a new file over the null device would replace it for the whole machine.
    assert main(["compare", "--json", os.devnull]) == 2
    assert_one_line_error(capsys.readouterr().err, "--json must name a regular file")
    assert os.path.exists(os.devnull) and not os.path.isfile(os.devnull)


def test_a_folder_that_is_a_file_is_refused(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("not a folder")
    assert main(["compare", "--json", str(tmp_path / "notes.txt" / "r.json")]) == 2
    assert_one_line_error(capsys.readouterr().err, "notes.txt' is not a folder")


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into a read-only folder, so the "
                    "refusal cannot be seen when the tests run as root")
def test_read_only_folder_is_refused_before_training(tmp_path, capsys):
    folder = tmp_path / "locked"
    folder.mkdir()
    (folder / "r.json").write_bytes(OLD_JSON)
    folder.chmod(0o500)
    try:
        assert main(["compare", "--json", str(folder / "r.json")]) == 2
        assert_one_line_error(capsys.readouterr().err, "cannot write")
        assert (folder / "r.json").read_bytes() == OLD_JSON
    finally:
        folder.chmod(0o700)


def test_a_threshold_every_model_starts_below_is_refused_and_nothing_is_written(tmp_path,
                                                                                 capsys):
    # With --init matched and 3 tokens, both seeds of both variants start below 0.2 (< 2/9,
    # the uniform-guess loss): "same step 100 %" would be the whole table.
    path = tmp_path / "r.json"
    path.write_bytes(OLD_JSON)
    assert main(["compare", "--seeds", "2", "--steps", "5", "--vocab", "3", "--init", "matched",
                 "--threshold", "0.2", "--json", str(path)]) == 2
    captured = capsys.readouterr()
    assert_one_line_error(captured.err, "every seed of both variants starts below the threshold")
    assert "same step" not in captured.out and path.read_bytes() == OLD_JSON


def _file_size_limit(size: int):
    """For `preexec_fn`: the child may not write files over `size` bytes. Python ignores
    SIGXFSZ, so a write past the limit fails with EFBIG as on a full disk."""
    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    return limit


def test_a_failed_write_leaves_the_old_json_intact(tmp_path):
    path = tmp_path / "r.json"
    path.write_bytes(OLD_JSON)
    done = command_line("compare", "--seeds", "6", "--steps", "50", "--json", str(path),
                        preexec_fn=_file_size_limit(200))  # the new JSON is about 1.5 KB
    assert done.returncode == 2
    assert_one_line_error(done.stderr, f"could not write '{path}' (File too large)")
    assert path.read_bytes() == OLD_JSON
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]  # no temporary file left


def test_a_failed_plot_leaves_the_old_json_and_png_intact(tmp_path):
    json_path, png_path = tmp_path / "r.json", tmp_path / "r.png"
    json_path.write_bytes(OLD_JSON)
    png_path.write_bytes(OLD_PNG)
    # The JSON (about 1.5 KB) fits under the limit; the figure (tens of KB) does not.
    done = command_line("compare", "--seeds", "6", "--steps", "50", "--json", str(json_path),
                        "--plot", str(png_path), preexec_fn=_file_size_limit(8000))
    assert done.returncode == 2
    assert_one_line_error(done.stderr, f"could not write '{png_path}' (File too large)")
    assert json_path.read_bytes() == OLD_JSON and png_path.read_bytes() == OLD_PNG
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json", "r.png"]


def test_command_line_exits_2_without_traceback():
    done = command_line("compare", "--seeds", "0")
    assert done.returncode == 2
    assert done.stderr == ("error: argument --seeds: must be a whole number from 1 to 20000, "
                           "got '0' (see python -m tying_utils compare --help)\n")


def test_help_lists_every_option_with_its_range(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["compare", "--help"])
    assert stop.value.code == 0
    printed = capsys.readouterr().out
    for option in ("--task", "--loss", "--untied-start", "--seeds", "--steps", "--vocab", "--dim",
                   "--lr", "--threshold", "--json", "--plot"):
        assert option in printed
    assert "[--init" not in printed and "called --init" in printed  # hidden, with a note
    text = " ".join(printed.split())  # argparse wraps lines
    for limits in ("(1–20000; default 200)", "(1–100000; default 2000)", "(2–5000; default 10)",
                   "(1–512; default 3)", "(more than 0 and at most 10; default 0.001)"):
        assert limits in text


@pytest.mark.parametrize(("old", "new"), [(["--init", "seed"], ["--untied-start", "default"]),
                                          (["--init", "matched"], ["--untied-start", "matched"]),
                                          (["--init", "default"], [])])
def test_the_old_spellings_of_the_untied_start_still_work(capsys, old, new):
    """`--init` was compare's name for `--untied-start`, and `seed` its name for `default`."""
    printed = []
    for start in (old, new):
        assert main(["compare", "--seeds", "2", "--steps", "50", *start]) == 0
        printed.append(capsys.readouterr().out)
    assert printed[0] == printed[1]
    assert ("init=matched" in printed[0]) == ("matched" in old)
