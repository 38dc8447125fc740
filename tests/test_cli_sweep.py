"""`python -m tying_utils lm --arch transformer` and `python -m tying_utils sweep`: the success
paths write what they promise; bad input is one line on stderr, exit status 2, no traceback."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from types import SimpleNamespace

import pytest

from tying_utils import runtime
from tying_utils.cli import main
from tying_utils.cli.lm import lm_memory_parts
from tying_utils.cli.sweep import sweep_arguments, sweep_command, sweep_config
from tying_utils.lm_memory import LM_MEMORY_LIMIT
from tying_utils.lm_training import LMConfig
from tying_utils.transformer import transformer_parameter_count

TINY_LM = ["--arch", "transformer", "--epochs", "1", "--dim", "8", "--vocab-cap", "30",
           "--bptt", "6", "--batch-size", "4", "--no-progress"]
TINY_SWEEP = ["--widths", "4", "8", "--seeds", "2", "--epochs", "1", "--vocab-cap", "30",
              "--bptt", "6", "--batch-size", "4", "--no-progress"]

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(autouse=True)
def thread_policy_restored():
    yield
    runtime.set_threads(None)  # --threads sets it for the process


def one_line_error(capsys, message: str) -> None:
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), captured.err
    assert message in lines[0], lines[0]
    assert "Traceback" not in captured.err


# --- lm --arch transformer ------------------------------------------------------------------------

def test_lm_transformer_writes_the_same_json_fields_as_the_lstm(corpus, tmp_path, capsys):
    lstm, transformer = tmp_path / "lstm.json", tmp_path / "transformer.json"
    common = ["--corpus", str(corpus), "--seeds", "2", "--epochs", "1", "--dim", "8",
              "--vocab-cap", "30", "--bptt", "6", "--batch-size", "4", "--no-progress"]
    assert main(["lm", *common, "--json", str(lstm)]) == 0
    assert main(["lm", *common, "--arch", "transformer", "--heads", "4", "--init", "t5",
                 "--json", str(transformer)]) == 0
    printed = capsys.readouterr().out
    assert "arch=transformer layers=2 heads=4 init=t5" in printed and "Adam lr=0.003" in printed
    old, new = json.loads(lstm.read_text()), json.loads(transformer.read_text())
    assert set(new) == set(old) == {"config", "tied", "untied", "untied_size_matched"}
    for variant in ("tied", "untied", "untied_size_matched"):
        assert set(new[variant]) == set(old[variant])
        assert all(value > 1 for value in new[variant]["valid_ppl"])
    assert set(new["config"]) == set(old["config"])
    assert new["config"]["arch"] == "transformer" and old["config"]["arch"] == "lstm"
    assert (new["config"]["layers"], new["config"]["lr"], new["config"]["clip"]) == (2, 3e-3, 1.0)
    assert (old["config"]["layers"], old["config"]["lr"], old["config"]["clip"]) == (1, 20.0, .25)
    vocab = new["config"]["vocab"]
    assert new["tied"]["parameters"] == transformer_parameter_count(vocab, 8, True, 2, 6)
    assert new["untied_size_matched"]["dim"] % 4 == 0


def test_lm_help_names_the_architectures_and_their_defaults(capsys):
    with pytest.raises(SystemExit):
        main(["lm", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--arch {lstm,transformer}" in text
    assert "default 20 for lstm, 0.003 for transformer" in text
    assert "default 1 for lstm, 2 for transformer" in text
    assert "--init {gpt2,vaswani,t5,pytorch,pytorch-head}" in text


@pytest.mark.parametrize("arguments, message", [
    (["--arch", "transformer", "--heads", "3"], "the width (8) must be a multiple of heads (3)"),
    (["--arch", "transformer", "--hidden", "16"], "tying needs --hidden to equal --dim"),
    (["--heads", "4"], "--heads belong to --arch transformer, not --arch lstm"),
    (["--init", "t5"], "--init belong to --arch transformer, not --arch lstm"),
    (["--arch", "transformer", "--init", "xavier"], "argument --init: invalid choice: 'xavier'"),
    (["--arch", "gpt"], "argument --arch: invalid choice: 'gpt'"),
    (["--arch", "transformer", "--heads", "0"], "argument --heads: must be a whole number from 1"),
    (["--arch", "transformer", "--dim", "4096", "--bptt", "4096", "--vocab-cap", "30"],
     "this run would need about"),
])
def test_lm_transformer_bad_input_is_one_line(arguments, message, corpus, capsys):
    assert main(["lm", "--corpus", str(corpus), "--epochs", "1", "--dim", "8", *arguments]) == 2
    one_line_error(capsys, message)


def test_transformer_memory_estimate_counts_its_parts():
    config = LMConfig(arch="transformer", dim=128, hidden=128, heads=4)
    parts = lm_memory_parts(SimpleNamespace(seeds=3), config, 1000)
    untied = transformer_parameter_count(1000, 128, False, 2, 35)
    assert parts["the parameters"] == 4 * 6 * untied
    assert parts["the logits"] == 4 * 4 * 20 * 35 * 1000
    per_token = 3 * 128 + 2 * (20 * 128 + 4 * 35)
    assert parts["the activations"] == 4 * 2 * 20 * 35 * per_token
    assert sum(parts.values()) < LM_MEMORY_LIMIT / 100  # the sweep's widest model is small


# --- sweep ----------------------------------------------------------------------------------------

def test_sweep_writes_json_and_png_that_record_their_command(corpus, tmp_path, capsys):
    out, plot = tmp_path / "sweep.json", tmp_path / "sweep.png"
    argv = ["sweep", "--corpus", str(corpus), *TINY_SWEEP, "--threads", "1", "--json", str(out),
            "--plot", str(plot)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "Δ tied−untied" in printed and "s in all" in printed
    assert plot.read_bytes().startswith(b"\x89PNG")
    result = json.loads(out.read_text())
    assert set(result) == {"command", "argv", "config", "points", "seconds", "cpu_seconds",
                           "threads", "device", "cpu", "torch", "python"}
    assert result["threads"] == 1 and result["device"] == "cpu"
    assert result["command"].startswith("python -m tying_utils sweep --corpus ")
    assert [p["width"] for p in result["points"]] == [4, 8]
    for point in result["points"]:
        assert set(point["valid_ppl"]) == {"tied", "untied", "untied_size_matched"}
        assert len(point["tied_minus_untied"]["per_seed"]) == 2
        assert 0 < point["embedding_share"] < 0.5
    # the recorded command, parsed again, gives the recorded configuration
    again = sweep_arguments(result["argv"])
    settings = {k: v for k, v in result["config"].items()
                if k not in ("widths", "seeds", "corpus", "corpus_sha256", "vocab")}
    assert {k: v for k, v in dataclasses.asdict(sweep_config(again)).items()
            if k not in ("dim", "hidden")} == settings
    assert again.widths == result["config"]["widths"]
    assert list(range(again.seeds)) == result["config"]["seeds"]
    assert sweep_command(again) == result["argv"]


def test_sweep_defaults_are_the_documented_ones():
    args = sweep_arguments(["sweep"])
    assert args.widths == [16, 24, 32, 48, 64, 96, 128] and args.vocab_cap == 1000
    assert args.seeds == 5
    config = sweep_config(args)
    assert (config.arch, config.layers, config.heads, config.init, config.epochs) == \
        ("transformer", 2, 2, "vaswani", 4)


@pytest.mark.parametrize("arguments, message", [
    (["--widths", "8", "10", "--heads", "4"], "--widths: the width (10) must be a multiple of "
     "heads (4)"),
    (["--widths", "8", "8"], "--widths lists a width twice: 8 8"),
    (["--widths", "0"], "argument --widths: must be a whole number from 1 to 4096, got '0'"),
    (["--widths"], "argument --widths: expected at least one argument"),
    (["--seeds", "0"], "argument --seeds: must be a whole number from 1"),
    (["--lr", "nan"], "argument --lr: must be a number more than 0"),
    (["--init", "xavier"], "argument --init: invalid choice: 'xavier'"),
    (["--plot", "figure.svg"], "--plot must name a .png file, got 'figure.svg'"),
    (["--widths", "4096", "--bptt", "4096", "--batch-size", "4"], "give a smaller "
     "--batch-size, --bptt, --widths or --layers"),
])
def test_sweep_bad_input_is_one_line(arguments, message, corpus, capsys):
    assert main(["sweep", "--corpus", str(corpus), *arguments]) == 2
    one_line_error(capsys, message)


def test_sweep_refuses_bad_output_paths_before_training(corpus, tmp_path, capsys):
    assert main(["sweep", "--corpus", str(corpus), "--json", str(tmp_path)]) == 2
    one_line_error(capsys, "--json must name a file, but")
    same = tmp_path / "x.png"
    assert main(["sweep", "--corpus", str(corpus), "--json", str(same), "--plot", str(same)]) == 2
    one_line_error(capsys, "--json and --plot both name")
    assert main(["sweep", "--corpus", str(corpus), "--json", str(corpus)]) == 2
    one_line_error(capsys, "is the corpus")


def test_python_dash_m_sweep_reports_a_bad_argument_without_a_traceback(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "tying_utils", "sweep", "--widths", "12", "--heads", "5"],
        capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        "error: --widths: the width (12) must be a multiple of heads (5): each head reads an "
        "equal slice of it."]
