"""The factorial of notebook 06 (tying_utils.factorial, factorial_analysis, `sweep --archs`):
the second corpus is the text it claims to be, the gradient split is exact, runs resume and
shards merge into what one process writes, and the statistics compute what they say."""

from __future__ import annotations

import gzip
import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tying_utils import factorial
from tying_utils.cli import main
from tying_utils.corpus import SHIPPED, load_corpus
from tying_utils.factorial import (
    FactorialConfig,
    _GradientShares,
    choose_rates,
    merge_results,
    run_factorial,
)
from tying_utils.factorial_analysis import (
    cell_differences,
    convergence,
    effects,
    interval_text,
    tokens_to_threshold,
    wilson_interval,
)
from tying_utils.lm_training import LMConfig, build_lm

pytestmark = pytest.mark.usefixtures("one_thread")
DATA = Path(factorial.__file__).parent / "data"


# --- the second corpus ----------------------------------------------------------------------------

def test_the_jargon_file_is_the_text_its_note_states():
    note = (DATA / "JARGON.md").read_text(encoding="utf-8")
    file, text_sha = SHIPPED["jargon"]
    raw = (DATA / file).read_bytes()
    text = gzip.decompress(raw).decode("utf-8")
    assert f"sha256 of the gzip file: {hashlib.sha256(raw).hexdigest()}" in note
    assert f"sha256 of the text (UTF-8): {text_sha}" in note
    assert hashlib.sha256(text.encode("utf-8")).hexdigest() == text_sha
    assert f"{len(text):,} characters" in note and len(text) >= 1_000_000
    assert "jargon-text`, version 4.4.7-4.1" in note and "public domain" in note
    corpus = load_corpus("jargon")
    assert corpus.sha256 == text_sha and corpus.name == "jargon"
    assert "pydoc" not in text[:5000] and "The Jargon File" in text[:200]


# --- the gradient split ---------------------------------------------------------------------------

@pytest.mark.parametrize("arch", ["lstm", "transformer"])
def test_the_output_share_splits_the_tied_gradient_exactly(arch):
    """The output part must equal the gradient the matrix gets when its input use is cut off
    (the lookup reads a detached copy), and the input part the rest."""
    torch.manual_seed(0)
    vocab, config = 50, LMConfig(arch=arch, dim=8, hidden=8, dropout=0.0, bptt=6)
    model = build_lm(config, vocab, tied=True)
    tokens = torch.randint(0, vocab, (3, 6))
    shares = _GradientShares(vocab, "cpu")
    hook = shares.watch(model)
    logits, _ = model(tokens)
    F.cross_entropy(logits.flatten(0, 1), tokens.roll(-1, 1).flatten()).backward()
    hook.remove()
    total = model.head.weight.grad.clone()
    input_part = torch.zeros_like(total).index_add_(0, tokens.flatten(),
                                                    shares.embedded.grad.flatten(0, 1))
    # the same loss with the lookup reading a copy: only the output use reaches the matrix
    model.zero_grad()
    original = model.embedding.forward
    model.embedding.forward = lambda ids: F.embedding(ids, model.head.weight.detach())
    logits, _ = model(tokens)
    F.cross_entropy(logits.flatten(0, 1), tokens.roll(-1, 1).flatten()).backward()
    model.embedding.forward = original
    torch.testing.assert_close(total - input_part, model.head.weight.grad)
    assert input_part.abs().sum() > 0 and input_part[~torch.isin(torch.arange(vocab),
                                                                 tokens)].abs().sum() == 0


# --- running, resuming, sharding ------------------------------------------------------------------

def tiny_config(**changes) -> FactorialConfig:
    settings = dict(archs=("lstm",), optimizers=("sgd", "adam"), vocab_caps=(12, 20),
                    corpus="CORPUS", other_corpora=(), width=8, epochs=1, evals_per_epoch=2,
                    valid_subset=60, seeds=(0, 1), max_train_tokens=None)
    settings.update(changes)
    return FactorialConfig(**settings)


def drop_seconds(result: dict) -> dict:
    return {**result, "lr_grid": [{k: v for k, v in r.items() if k != "seconds"}
                                  for r in result["lr_grid"]],
            "runs": [{k: v for k, v in r.items() if k != "seconds"} for r in result["runs"]]}


@pytest.fixture
def tiny(corpus, monkeypatch):
    monkeypatch.setitem(factorial.LR_GRIDS, ("lstm", "sgd"), (1.0, 5.0))
    monkeypatch.setitem(factorial.LR_GRIDS, ("lstm", "adam"), (0.01,))
    return tiny_config(corpus=str(corpus))


def test_a_run_records_what_the_issue_lists(tiny, tmp_path):
    result = run_factorial(tiny, tmp_path / "runs", device="cpu", log=lambda _: None)
    assert len(result["lr_grid"]) >= 2 * 2 + 2 and len(result["runs"]) == 2 * 2 * 3 * 2
    assert set(result["config"]["chosen_lr"]) == {"lstm/sgd", "lstm/adam"}
    for run in result["runs"]:
        for key in ("corpus", "arch", "optimizer", "vocab", "variant", "seed", "parameters",
                    "valid_ppl", "test_ppl", "curve"):
            assert key in run
        assert len(run["curve"]) == 2 and run["curve"][0][0] < run["curve"][1][0]
        if run["variant"] == "tied":
            shares = [s for _, s in run["output_grad_share"]]
            assert len(shares) == 2 and all(0 < s < 1 for s in shares)
        else:
            assert "output_grad_share" not in run
    matched = [r for r in result["runs"] if r["variant"] == "untied_size_matched"]
    tied = [r for r in result["runs"] if r["variant"] == "tied"]
    assert all(m["width"] < 8 for m in matched) and all(t["width"] == 8 for t in tied)


def test_an_interrupted_factorial_continues_where_it_stopped(tiny, tmp_path, monkeypatch):
    first = run_factorial(tiny, tmp_path / "runs", device="cpu", log=lambda _: None)
    files = sorted((tmp_path / "runs").glob("*.json"))
    files[-1].unlink()  # as if stopped before the last run
    trained = []
    real = factorial.train_run
    monkeypatch.setattr(factorial, "train_run",
                        lambda data, spec, *a, **k: trained.append(spec) or real(data, spec,
                                                                                 *a, **k))
    again = run_factorial(tiny, tmp_path / "runs", device="cpu", log=lambda _: None)
    assert len(trained) == 1 and f"{trained[0].key}.json" == files[-1].name
    assert drop_seconds(again) == drop_seconds(first)


def test_shards_merge_into_what_one_process_writes(tiny, tmp_path):
    whole = run_factorial(tiny, tmp_path / "one", device="cpu", log=lambda _: None)
    parts = [run_factorial(tiny, tmp_path / f"shard{i}", (i, 3), device="cpu", log=lambda _: None)
             for i in (1, 2, 3)]
    assert sum(len(p["runs"]) for p in parts) == len(whole["runs"])
    single = {k: v for k, v in whole.items() if k != "shard"}
    assert drop_seconds(merge_results(parts[::-1])) == drop_seconds(single)
    with pytest.raises(ValueError, match="1..N of one N exactly once"):
        merge_results(parts[:2])


def test_the_command_line_runs_shards_and_merges_them(corpus, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(factorial.LR_GRIDS, ("lstm", "sgd"), (1.0,))
    base = ["sweep", "--archs", "lstm", "--optimizers", "sgd", "--vocab-caps", "12",
            "--corpus", str(corpus), "--other-corpora", "--widths", "8", "--seeds", "2",
            "--epochs", "1", "--evals-per-epoch", "2", "--valid-subset", "60",
            "--no-progress"]
    assert main([*base, "--json", str(tmp_path / "all.json")]) == 0
    for i in (1, 2):
        assert main([*base, "--shard", f"{i}/2", "--json", str(tmp_path / f"part{i}.json")]) == 0
    assert main(["sweep", "--merge", str(tmp_path / "part1.json"), str(tmp_path / "part2.json"),
                 "--json", str(tmp_path / "merged.json")]) == 0
    whole, merged = (json.loads((tmp_path / f"{n}.json").read_text()) for n in ("all", "merged"))
    assert drop_seconds(merged)["runs"] == drop_seconds(whole)["runs"]
    assert merged["config"] == whole["config"]
    assert merged["argv"][-1].endswith("merged.json") and "--shard" not in merged["argv"]
    assert "tied" in capsys.readouterr().out


@pytest.mark.parametrize("extra, message", [
    (["--shard", "3/2"], "must be I/N with 1 <= I <= N"),
    (["--widths", "8", "16"], "the factorial trains at one width"),
    (["--vocab-caps", "12", "12"], "--vocab-caps lists a value twice"),
    (["--archs", "rnn"], "invalid choice"),
])
def test_bad_factorial_options_are_one_line_and_exit_2(corpus, tmp_path, capsys, extra, message):
    argv = ["sweep", "--archs", "lstm", "--corpus", str(corpus), "--widths", "8",
            "--json", str(tmp_path / "x.json"), *extra]
    try:
        code = main(argv)
    except SystemExit as stop:
        code = stop.code
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0] and "Traceback" not in err[0]


# --- the statistics -------------------------------------------------------------------------------

def test_the_rate_chosen_is_the_lowest_mean_validation_perplexity():
    grid = [{"arch": "lstm", "optimizer": "sgd", "lr": lr, "valid_ppl": v}
            for lr, v in ((1, 100), (1, 120), (2, 90), (2, 140), (4, math.nan), (4, 10))]
    assert choose_rates(grid) == {"lstm/sgd": 1}  # 110 < 115; a NaN mean never wins


def synthetic_runs(effect) -> list[dict]:
    """Runs whose tied − untied test difference per seed is `effect(arch, opt, cap) + noise`."""
    runs, rng = [], np.random.default_rng(0)
    for arch in ("lstm", "transformer"):
        for opt in ("sgd", "adam"):
            for cap in (10, 20):
                for seed in range(5):
                    noise = rng.normal(0, 0.1)
                    for variant, ppl in (("tied", 100 + effect(arch, opt, cap) + noise),
                                         ("untied", 100.0), ("untied_size_matched", 105.0)):
                        runs.append({"corpus": "c", "arch": arch, "optimizer": opt,
                                     "vocab_cap": cap, "vocab": cap, "variant": variant,
                                     "seed": seed, "lr": 1.0, "parameters": 1,
                                     "test_ppl": ppl,
                                     "curve": [[10, 300.0], [20, ppl * 1.1], [30, ppl]]})
    return runs


def test_effects_recover_a_known_main_effect_and_interaction():
    # tied − untied = −4 for the LSTM with SGD, 0 elsewhere: arch, optimizer and their
    # interaction are each ±2 or ±4; the vocabulary does nothing
    runs = synthetic_runs(lambda a, o, c: -4.0 if (a, o) == ("lstm", "sgd") else 0.0)
    found = effects(runs, "c")
    assert found["architecture"]["mean"] == pytest.approx(2.0, abs=0.15)
    assert found["optimizer"]["mean"] == pytest.approx(2.0, abs=0.15)
    assert found["architecture × optimizer"]["mean"] == pytest.approx(-4.0, abs=0.3)
    low, high = found["vocabulary"]["ci95"]
    assert low < 0 < high
    rows = cell_differences(runs)
    assert rows[0]["tied_minus_untied"]["mean"] == pytest.approx(-4.0, abs=0.15)
    assert rows[0]["tied_minus_size_matched"]["mean"] == pytest.approx(-9.0, abs=0.15)


def test_tokens_to_threshold_interpolates_between_evaluations():
    curve = [[100, 400.0], [200, 200.0], [300, 100.0]]
    assert tokens_to_threshold(curve, 300.0) == pytest.approx(150.0)
    assert tokens_to_threshold(curve, 500.0) == 100.0
    assert math.isnan(tokens_to_threshold(curve, 50.0))


def test_convergence_counts_who_reaches_the_threshold_first():
    runs = synthetic_runs(lambda a, o, c: -4.0)
    row = convergence(runs)[0]
    assert row["threshold"] == pytest.approx(1.25 * 100.0, abs=0.5)
    assert row["tied_first"] == 1.0  # tied's curve is lower, so it crosses first in every seed
    assert row["tokens_difference"]["ci95"][1] < 0
    same = convergence(synthetic_runs(lambda a, o, c: 0.0 * c), other="untied")[0]
    assert 0 < same["tied_first"] < 1  # noise alone: some seeds each way


def test_wilson_interval_and_rounding():
    low, high = wilson_interval(5, 5)
    assert high == pytest.approx(1.0) and low == pytest.approx(0.566, abs=0.001)
    assert interval_text({"mean": -9.93, "ci95": [-18.1, -1.7]}) == "-10 [-18, -2]"
    assert interval_text({"mean": 0.42, "ci95": [0.1, 0.7]}) == "+0.4 [+0.1, +0.7]"
