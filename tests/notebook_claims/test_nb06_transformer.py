"""The claims of notebook 06 (Transformer) whose checks left the notebook for the test suite.

The notebook keeps the asserts a student learns from; these check the rest of its claims by
calling the package on the same models and the same committed results (docs/results/*.json,
docs/sweep/sweep.json). The two live reruns of the notebook (one point of the sweep, one run of
the factorial) are held to their JSON by tests/test_sweep_json.py and tests/test_factorial_json.py.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tying_utils.budget import REAL_MODELS, parameter_budget
from tying_utils.corpus import batchify, bptt_chunks, load_corpus, prepare
from tying_utils.factorial_analysis import cell_differences, convergence, effects, grad_shares
from tying_utils.lm_training import paired_interval
from tying_utils.transformer import CONVENTIONS, TransformerLM, transformer_parameter_count

ROOT = Path(__file__).resolve().parents[2]
V, D = 1000, 32
pytestmark = pytest.mark.usefixtures("one_thread")


def _json(path):
    return json.loads((ROOT / path).read_text())


@pytest.fixture(scope="module")
def batch():
    data = prepare(load_corpus("pydoc"), vocab_cap=V)
    return next(bptt_chunks(batchify(data.valid, 20), 35))


@pytest.fixture(scope="module")
def start(batch):
    """Section 2's table: each convention at step 0, seed 0."""
    inputs, targets = batch
    table = {}
    for name in CONVENTIONS:
        for tied in (True, False):
            torch.manual_seed(0)
            model = TransformerLM(V, D, tied, init=name, dropout=0.0).eval()
            with torch.no_grad():
                logits, _ = model(inputs)
                token = (model.embedding(inputs) * model.input_scale).norm(dim=-1).mean().item()
                position = model.position.weight[:35].norm(dim=-1).mean().item()
            table[name, tied] = {
                "loss": F.cross_entropy(logits.flatten(0, 1), targets.flatten()).item(),
                "logit_sd": logits.std().item(), "token": token, "position": position}
    return table


@pytest.fixture(scope="module")
def factorial():
    return _json("docs/results/factorial.json")


@pytest.fixture(scope="module")
def table(factorial):
    return cell_differences(factorial["runs"])


@pytest.mark.parametrize("tied", [True, False])
def test_the_parameter_formula_counts_the_model(tied):
    model = TransformerLM(V, D, tied=tied)
    assert sum({id(p): p.numel() for p in model.parameters()}.values()) == \
        transformer_parameter_count(V, D, tied)


def test_what_each_convention_looks_like_at_step_0(start):
    ln_v = math.log(V)
    assert abs(start["gpt2", True]["token"] / start["gpt2", True]["position"] - 1) < 0.25
    assert abs(start["vaswani", True]["token"] / math.sqrt(D) - 1) < 0.05
    vaswani = start["vaswani", True]
    assert 0.8 < vaswani["logit_sd"] < 1.2 and vaswani["loss"] < ln_v + 1
    assert start["pytorch-head", True]["loss"] < ln_v + 0.3
    ratio = start["pytorch", False]["token"] / start["pytorch-head", True]["token"]
    assert ratio > 0.8 * math.sqrt(3 * D)


def test_an_independent_head_of_the_same_spread_starts_much_lower(start, batch):
    inputs, targets = batch
    ln_v = math.log(V)
    for seed in range(5):
        torch.manual_seed(seed)
        model = TransformerLM(V, D, True, init="pytorch", dropout=0.0).eval()
        with torch.no_grad():
            tied = F.cross_entropy(model(inputs)[0].flatten(0, 1), targets.flatten()).item()
            model.head = torch.nn.Linear(D, V, bias=False)
            torch.nn.init.normal_(model.head.weight)
            independent = F.cross_entropy(model(inputs)[0].flatten(0, 1), targets.flatten()).item()
        if seed == 0:  # the table's
            assert math.isclose(tied, start["pytorch", True]["loss"], rel_tol=1e-4)
        assert ln_v + 5 < independent < tied - 5


def test_pytorch_defaults_the_start_the_tied_matrix_keeps_decides():
    gaps = _json("docs/results/first_steps.json")["tied_minus_untied"]
    assert gaps["pytorch-head"]["ci95"][1] < 0 < gaps["pytorch"]["ci95"][0]


def test_the_width_sweep():
    points = _json("docs/sweep/sweep.json")["points"]
    versus_untied = [p["tied_minus_untied"] for p in points]
    versus_matched = [p["tied_minus_size_matched"] for p in points]
    assert all(d["ci95"][0] > 0 for d in versus_untied[:-1]) and versus_untied[-1]["ci95"][0] < 0
    assert max(d["mean"] for d in versus_untied[-2:]) < versus_untied[0]["mean"] / 3
    assert versus_matched[1]["ci95"][0] < 0 < versus_matched[1]["ci95"][1]  # level at d = 24
    assert all(d["ci95"][0] > 0 for d in versus_matched[3:])  # from d = 48 on


def test_the_chosen_rates_lie_inside_their_grids(factorial):
    for key, rate in factorial["config"]["chosen_lr"].items():
        grid = {r["lr"] for r in factorial["lr_grid"] if f"{r['arch']}/{r['optimizer']}" == key}
        assert min(grid) < rate < max(grid), key


def test_every_cell_has_five_paired_seeds(table):
    assert all(len(row["seeds"]) >= 5 for row in table)


def test_the_factorial_effects(factorial, table):
    config = factorial["config"]
    found = effects(factorial["runs"], config["corpus"], "tied_minus_untied")
    assert found["optimizer"]["ci95"][0] < 0 < found["optimizer"]["ci95"][1]
    assert found["vocabulary"]["ci95"][0] < 0 < found["vocabulary"]["ci95"][1]
    main = {(r["arch"], r["optimizer"], r["vocab_cap"]):
            np.array(r["tied_minus_untied"]["per_seed"])
            for r in table if r["corpus"] == config["corpus"]}
    within = {arch: paired_interval(np.mean([main[arch, "adam", v] - main[arch, "sgd", v]
                                             for v in config["vocab_caps"]], axis=0))
              for arch in config["archs"]}
    assert within["lstm"]["ci95"][0] > 0 and within["transformer"]["mean"] < 0


def test_the_vocabulary_moves_the_two_architectures_opposite_ways(factorial, table):
    config = factorial["config"]
    rows = {(r["arch"], r["optimizer"], r["vocab_cap"]): r for r in table
            if r["corpus"] == config["corpus"]}
    small, large = config["vocab_caps"]
    for arch, name in (("transformer", "tied_minus_untied"), ("lstm", "tied_minus_size_matched")):
        change = paired_interval(np.array(rows[arch, "adam", large][name]["per_seed"])
                                 - np.array(rows[arch, "adam", small][name]["per_seed"]))
        assert (change["ci95"][0] > 0) if arch == "transformer" else (change["ci95"][1] < 0)


def test_the_second_corpus_agrees_where_it_can_tell(factorial, table):
    config = factorial["config"]
    cap, other = config["vocab_caps"][0], config["other_corpora"][0]
    both = {}
    for row in table:
        if row["vocab_cap"] == cap:
            both.setdefault((row["arch"], row["optimizer"]), {})[row["corpus"]] = row
    lstm = both["lstm", "adam"][other]
    assert lstm["tied_minus_untied"]["ci95"][0] < 0 < lstm["tied_minus_untied"]["ci95"][1]
    assert lstm["tied_minus_size_matched"]["ci95"][1] < 0
    assert both["lstm", "sgd"][other]["tied_minus_size_matched"]["ci95"][1] < 0
    for (_arch, optimizer), by_corpus in both.items():  # same sign of every mean on both corpora
        for name in ("tied_minus_untied", "tied_minus_size_matched"):
            assert by_corpus[config["corpus"]][name]["mean"] * by_corpus[other][name]["mean"] > 0
        if optimizer == "sgd":  # and SGD's intervals span tens of points or more
            assert np.diff(by_corpus[other]["tied_minus_untied"]["ci95"])[0] > 100


def test_tied_never_reaches_the_threshold_measurably_sooner(factorial):
    for row in convergence(factorial["runs"]):
        if row["corpus"] != factorial["config"]["corpus"]:
            continue
        if row["arch"] == "transformer":
            assert row["tied_first"] == 0 and row["tokens_difference"]["ci95"][0] > 0
        elif row["optimizer"] == "adam":
            assert row["tied_first"] == 0 and row["tokens_difference"]["mean"] > 0
        else:
            assert row["tokens_difference"]["ci95"][0] < 0 < row["tokens_difference"]["ci95"][1]


def test_where_the_output_use_dominates_the_gradient(factorial):
    corpus = factorial["config"]["corpus"]
    shares = [r for r in grad_shares(factorial["runs"]) if r["corpus"] == corpus]
    first = {arch: [r["first"]["mean"] for r in shares if r["arch"] == arch]
             for arch in ("lstm", "transformer")}
    assert min(first["lstm"]) > max(first["transformer"])
    lstm_sgd = [r for r in shares if (r["arch"], r["optimizer"]) == ("lstm", "sgd")]
    assert all(b["mean"] < 0.5 for r in lstm_sgd for b in r["last_by_bucket"][1:] if b is not None)


def test_the_budgets_of_real_models():
    budgets = {model_id: parameter_budget(e["config"]) for model_id, e in REAL_MODELS.items()}
    for model_id, b in budgets.items():
        assert b.total == REAL_MODELS[model_id]["total"], model_id
    assert budgets["openai-community/gpt2"].total == 124_439_808
    assert budgets["meta-llama/Llama-3.2-1B"].total == 1_235_814_400
    assert budgets["google/gemma-2b"].total == 2_506_172_416
    untied_shares = [b.embedding_share for b in budgets.values() if not b.tied]
    smallest_untied = min(b.total for b in budgets.values() if not b.tied)
    assert [m for m, b in budgets.items() if b.tied and b.total > smallest_untied]
    points = _json("docs/sweep/sweep.json")["points"]
    low = min(p["embedding_share"] for p in points)
    high = max(p["embedding_share"] for p in points)
    inside = [m for m, b in budgets.items() if low <= b.embedding_share <= high]
    assert inside and all(budgets[m].tied for m in inside) and max(untied_shares) < low
