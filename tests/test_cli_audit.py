"""`python -m tying_utils audit PATH [--json OUT]`, run as a user runs it: on checkpoints written by
torch.save, transformers' save_pretrained and safetensors, and on inputs that are not checkpoints.

Every command runs in its own process; they are started together (one module fixture) so that
the file costs one wait for Python and torch to start, not ten.
"""

from __future__ import annotations

import json
import os

os.environ["HF_HUB_OFFLINE"] = "1"  # nothing is downloaded: models are built from small configs

import subprocess
import sys
from dataclasses import dataclass

import pytest
import safetensors.torch
import torch

from tying_utils import EmbedHead
from tying_utils.cli import main

transformers = pytest.importorskip("transformers")
transformers.logging.set_verbosity_error()


@dataclass
class Run:
    status: int
    out: str
    err: str

    @property
    def lines(self) -> list[str]:
        return self.out.splitlines()


def write_checkpoints(folder) -> dict[str, list[str]]:
    """Write one input per case; return each case's arguments after `audit`."""
    torch.manual_seed(0)
    gpt2 = dict(n_layer=1, n_embd=16, n_head=2, vocab_size=50, n_positions=32, bos_token_id=0,
                eos_token_id=0)
    transformers.GPT2LMHeadModel(transformers.GPT2Config(**gpt2)).save_pretrained(
        folder / "gpt2-tied")
    transformers.GPT2LMHeadModel(transformers.GPT2Config(**gpt2, tie_word_embeddings=False)
                                 ).save_pretrained(folder / "gpt2-untied")
    torch.save(EmbedHead(10, 3, tied=True).state_dict(), folder / "tied.pt")
    untied = EmbedHead(10, 3, tied=False)
    with torch.no_grad():
        untied.embedding.weight.copy_(untied.head.weight)  # a tie lost by copying
    safetensors.torch.save_file(untied.state_dict(), folder / "untied-equal.safetensors")
    safetensors.torch.save_model(EmbedHead(10, 3, tied=True), folder / "tied.safetensors")

    (folder / "text.pt").write_text("these are not weights\n")
    (folder / "empty").mkdir()
    (folder / "config-only").mkdir()
    (folder / "config-only" / "config.json").write_text('{"tie_word_embeddings": true}\n')
    whole = (folder / "tied.safetensors").read_bytes()
    (folder / "truncated.safetensors").write_bytes(whole[: len(whole) // 2])

    return {
        "gpt2 tied": [str(folder / "gpt2-tied"), "--json", str(folder / "gpt2-tied.json")],
        "gpt2 untied": [str(folder / "gpt2-untied")],
        "torch.save tied": [str(folder / "tied.pt")],
        "save_file untied equal": [str(folder / "untied-equal.safetensors")],
        "save_model tied": [str(folder / "tied.safetensors")],
        "missing": [str(folder / "no-such-model.pt")],
        "text .pt": [str(folder / "text.pt")],
        "empty folder": [str(folder / "empty")],
        "folder without weights": [str(folder / "config-only")],
        "truncated": [str(folder / "truncated.safetensors")],
    }


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Run]:
    folder = tmp_path_factory.mktemp("checkpoints")
    cases = write_checkpoints(folder)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    started = {case: subprocess.Popen([sys.executable, "-m", "tying_utils", "audit", *args],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                      env=env)
               for case, args in cases.items()}
    results = {}
    for case, process in started.items():
        out, err = process.communicate(timeout=300)
        results[case] = Run(process.returncode, out, err)
    results["folder"] = folder
    return results


def assert_one_line_error(run: Run, message: str) -> None:
    assert run.status == 2 and run.out == "", run
    assert run.err.startswith("error: ") and run.err.count("\n") == 1, run.err
    assert "Traceback" not in run.err and message in run.err, run.err


# --- checkpoints -----------------------------------------------------------------------------


def test_save_pretrained_of_a_tied_gpt2_leaves_the_head_out_and_passes(runs):
    run = runs["gpt2 tied"]
    assert run.status == 0 and run.err == ""
    assert run.lines[0].startswith("audit of gpt2-tied (Hugging Face folder: config.json, "
                                   "model.safetensors; ")
    assert run.lines[1].split() == ["info", "config", "config.json", "says",
                                    "tie_word_embeddings=true."]
    assert run.lines[2].split()[:3] == ["info", "tied_at_load", "lm_head.weight"]
    assert "to be tied to transformer.wte.weight at load" in run.lines[2]
    assert "; judged by the structure of GPT2LMHeadModel, built on the meta device" in run.lines[0]
    assert run.lines[3] == "no findings, 1 tie"


def test_json_report_is_written_whole(runs):
    folder = runs["folder"]
    report = json.loads((folder / "gpt2-tied.json").read_text())
    assert report["ok"] is True and report["findings"] == []
    assert report["ties"] == [["lm_head.weight", "transformer.wte.weight"]]
    assert [item["kind"] for item in report["info"]] == ["config", "tied_at_load"]
    assert runs["gpt2 tied"].lines[-1] == f"wrote {folder / 'gpt2-tied.json'}"
    assert not list(folder.glob(".*.tmp"))  # the temporary file was renamed, not left behind


def test_save_pretrained_of_an_untied_gpt2_stores_both_and_passes(runs):
    run = runs["gpt2 untied"]
    assert run.status == 0, run
    assert "tie_word_embeddings=false" in run.lines[1]
    assert "transformer.wte.weight and lm_head.weight are stored as two different matrices" in \
        run.out
    assert run.lines[-1] == "no findings, 0 ties"


def test_torch_save_stores_a_tie_once(runs):
    run = runs["torch.save tied"]
    assert run.status == 0, run
    assert run.lines[1].split()[:4] == ["info", "stored_once", "embedding.weight,", "head.weight"]


def test_save_file_of_an_untied_model_with_equal_values_is_a_lost_tie(runs):
    run = runs["save_file untied equal"]
    assert run.status == 1, run
    assert run.lines[1].split()[:2] == ["info", "judged_by"]
    assert "judged by shapes, storage and values" in run.lines[1]
    assert run.lines[2].split()[:4] == ["FINDING", "lost_tie", "embedding.weight", "and"]
    assert run.lines[-1] == "1 finding, 0 ties"


def test_save_model_of_a_tied_model_stores_one_name(runs):
    run = runs["save_model tied"]
    assert run.status == 0, run
    assert "head.weight is not stored, to be tied to embedding.weight at load" in run.lines[1]


# --- inputs that are not checkpoints: exit status 2, one line, no traceback --------------------


@pytest.mark.parametrize("case, message", [
    ("missing", "does not exist: give a .pt, .bin or .safetensors file, or a Hugging Face"),
    ("text .pt", "is not a PyTorch checkpoint"),
    ("empty folder", "is an empty folder"),
    ("folder without weights", "holds no model weights"),
    ("truncated", "cannot read"),
])
def test_bad_input_ends_with_one_line_and_status_2(runs, case, message):
    assert_one_line_error(runs[case], message)


# --- more cases, through main() in this process (one more process each would cost seconds) -----


def test_a_tie_the_config_does_not_know_about_loses_the_head(tmp_path, capsys):
    llama = transformers.LlamaForCausalLM(transformers.LlamaConfig(
        vocab_size=50, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
        num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=32))
    llama.lm_head.weight = llama.model.embed_tokens.weight  # tied, but its config says untied
    llama.save_pretrained(tmp_path)  # transformers 5 stores the shared matrix once
    assert main(["audit", str(tmp_path)]) == 1
    lines = capsys.readouterr().out.splitlines()
    [line] = [line for line in lines if "FINDING" in line]
    assert line.split()[:3] == ["FINDING", "head_missing", "lm_head.weight"]
    assert "tie_word_embeddings=false" in line and "random values" in line
    assert lines[-1] == "1 finding, 0 ties"



def test_a_pickled_module_that_weights_only_refuses(tmp_path, capsys):
    torch.save(EmbedHead(4, 2, tied=True), tmp_path / "model.pt")
    assert main(["audit", str(tmp_path / "model.pt")]) == 2
    err = capsys.readouterr().err
    assert "torch.load(weights_only=True) refuses" in err and err.count("\n") == 1


def test_a_file_that_is_no_checkpoint_format(tmp_path, capsys):
    (tmp_path / "weights.npz").write_bytes(b"PK")
    assert main(["audit", str(tmp_path / "weights.npz")]) == 2
    assert "is not a checkpoint file this command reads" in capsys.readouterr().err


def test_a_shard_index_naming_a_missing_shard(tmp_path, capsys):
    (tmp_path / "model.safetensors.index.json").write_text(
        '{"weight_map": {"lm_head.weight": "model-00001-of-00002.safetensors"}}')
    assert main(["audit", str(tmp_path)]) == 2
    assert "names the shard 'model-00001-of-00002.safetensors'" in capsys.readouterr().err


def test_json_into_a_missing_folder_fails_before_reading(tmp_path, capsys):
    torch.save(EmbedHead(4, 2, tied=True).state_dict(), tmp_path / "tied.pt")
    assert main(["audit", str(tmp_path / "tied.pt"), "--json",
                 str(tmp_path / "nowhere" / "report.json")]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "does not exist" in captured.err
