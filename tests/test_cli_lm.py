"""`python -m tying_utils lm`: the success path writes the JSON; bad input is one line, exit 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tying_utils.cli import main

TINY = ["--epochs", "1", "--emb", "8", "--vocab-cap", "30", "--bptt", "6", "--batch-size", "4",
        "--no-progress"]


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "tiny.txt"
    sentences = [f"the {animal} {verb} on the {place} ." for animal in ("cat", "dog", "owl")
                 for verb in ("sat", "slept", "ran") for place in ("mat", "log", "rug")]
    path.write_text("\n".join(sentences * 8), encoding="utf-8")
    return path


def test_lm_trains_three_variants_and_writes_json(corpus, tmp_path, capsys):
    out = tmp_path / "lm.json"
    assert main(["lm", "--corpus", str(corpus), "--seeds", "2", *TINY, "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    for label in ("tied", "untied", "untied (size-matched)", "valid ppl", "± "):
        assert label in printed
    result = json.loads(out.read_text())
    assert set(result) == {"config", "tied", "untied", "untied_size_matched"}
    assert result["config"]["seeds"] == [0, 1] and result["config"]["emb"] == 8
    for variant in ("tied", "untied", "untied_size_matched"):
        numbers = result[variant]
        for key in ("valid_ppl", "test_ppl", "train_ppl"):
            assert len(numbers[key]) == 2 and all(value > 1 for value in numbers[key])
        assert isinstance(numbers["parameters"], int)
    assert result["tied"]["parameters"] < result["untied"]["parameters"]
    assert result["untied_size_matched"]["emb"] < 8


def _bad_inputs(tmp_path):
    binary = tmp_path / "image.bin"
    binary.write_bytes(b"\x89PNG\x00\x00")
    folder = tmp_path / "half"
    folder.mkdir()
    (folder / "train.txt").write_text("a b c", encoding="utf-8")
    return {
        "seeds below 1": (["--seeds", "0"], "--seeds must be at least 1"),
        "epochs below 1": (["--epochs", "0"], "--epochs must be at least 1"),
        "missing corpus": (["--corpus", str(tmp_path / "nope.txt")], "no corpus at"),
        "binary corpus": (["--corpus", str(binary)], "looks binary"),
        "folder lacks files": (["--corpus", str(folder)], "lacks valid.txt and test.txt"),
        "emb != hidden": (["--emb", "8", "--hidden", "16"], "--hidden 16 and --emb 8"),
        "vocab cap < 2": (["--vocab-cap", "1"], "--vocab-cap must be at least 2"),
        "json folder missing": (["--json", str(tmp_path / "no" / "x.json")], "does not exist"),
        "json is a folder": (["--json", str(tmp_path)], "is a directory"),
        "not a number": (["--epochs", "many"], "invalid int value"),
        "unknown cell": (["--cell", "rnn"], "invalid choice"),
        "threads below 1": (["--threads", "0"], "--threads must be at least 1"),
    }


BAD_CASES = ["seeds below 1", "epochs below 1", "missing corpus", "binary corpus",
             "folder lacks files", "emb != hidden", "vocab cap < 2", "json folder missing",
             "json is a folder", "not a number", "unknown cell", "threads below 1"]


@pytest.mark.parametrize("case", BAD_CASES)
def test_bad_input_is_one_line_and_exit_status_2(case, tmp_path, capsys):
    cases = _bad_inputs(tmp_path)
    assert set(cases) == set(BAD_CASES)
    arguments, message = cases[case]
    assert main(["lm", *arguments]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]
    assert "Traceback" not in captured.err and captured.out == ""


def test_python_dash_m_reports_a_bad_argument_without_a_traceback(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "tying_utils", "lm", "--corpus", str(tmp_path / "nope")],
        capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error: no corpus at") and "Traceback" not in result.stderr
