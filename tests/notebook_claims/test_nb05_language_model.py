"""The claims of notebook 05 (language model) whose checks left the notebook for the test suite.

The notebook keeps the asserts a student learns from; these check the rest of its claims by
calling the package the same way, with the notebook's own sizes and seeds. The trained runs (3
variants × 3 seeds × 4 epochs, the notebook's section 4) are made once for the module.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from tying_utils.corpus import batchify, bptt_chunks, load_corpus, prepare
from tying_utils.factorial_analysis import cell_runs
from tying_utils.lm_training import (
    VARIANTS,
    LMConfig,
    compare_variants,
    neighbour_overlap,
    paired_interval,
)
from tying_utils.recurrent_lm import RecurrentLM, lm_parameter_count, size_matched_dim

ROOT = Path(__file__).resolve().parents[2]
V, D, SEEDS = 1000, 32, [0, 1, 2]


@pytest.fixture(scope="module")
def data():
    return prepare(load_corpus("pydoc"), vocab_cap=V)


@pytest.fixture(scope="module")
def runs(data):
    config = LMConfig(dim=D, hidden=D, epochs=4)
    return compare_variants(data, config, SEEDS, record_updates=True, progress=False, device="cpu")


@pytest.fixture(scope="module")
def curves(runs):
    valid = {v: np.array([r.valid_ppl for r in runs[v]]) for v in VARIANTS}
    train = {v: np.array([r.train_ppl for r in runs[v]]) for v in VARIANTS}
    return valid, train


def test_the_tied_head_is_not_notebook_04s_gram_matrix():
    torch.manual_seed(0)
    model = RecurrentLM(V, D, D, tied=True).eval()
    with torch.no_grad():
        logits, _ = model(torch.arange(V).unsqueeze(1))
        E, b = model.head.weight, model.head.bias
        gram = E @ E.T + b
    assert (logits[:, 0] - gram).abs().max() > 0.5 * logits.abs().max()


@pytest.mark.parametrize("tied", [True, False])
@pytest.mark.parametrize("d", [D, size_matched_dim(V, D)])
def test_the_parameter_formula_counts_the_model(d, tied):
    model = RecurrentLM(V, d, d, tied=tied)
    unique = {id(p): p.numel() for p in model.parameters()}
    assert sum(unique.values()) == lm_parameter_count(V, d, d, tied)


def test_the_projected_tied_lm_gets_both_gradients_in_one_matrix(data):
    """Section 8: a projection lets a tied head serve an LSTM whose hidden size differs."""
    torch.manual_seed(0)
    embedding, rnn = torch.nn.Embedding(V, 16), torch.nn.LSTM(16, 48, batch_first=True)
    projection = torch.nn.Linear(48, 16, bias=False)
    head = torch.nn.Linear(16, V)
    head.weight = embedding.weight
    inputs, targets = next(bptt_chunks(batchify(data.train, 20), 35))
    output, _ = rnn(embedding(inputs))
    logits = head(projection(output))
    assert embedding.weight.shape == (V, 16) and projection.weight.shape == (16, 48)
    assert logits.shape == (20, 35, V)
    # the input part alone: a copy of the matrix used only at the input
    copy = torch.nn.Parameter(embedding.weight.detach().clone())
    loss = torch.nn.functional.cross_entropy(
        head(projection(rnn(torch.nn.functional.embedding(inputs, copy))[0])).flatten(0, 1),
        targets.flatten())
    loss.backward()
    unread = torch.ones(V, dtype=torch.bool)
    unread[inputs.unique()] = False
    assert (copy.grad[unread] == 0).all() and (head.weight.grad[unread] != 0).any()


def test_qwen2_ties_where_the_matrix_is_a_larger_share():
    vocab = 151_646
    qwen2 = {"0.5B": (896, True), "1.5B": (1536, True), "7B": (3584, False), "72B": (8192, False)}
    share = {n: vocab * d / (float(n[:-1]) * 1e9) for n, (d, _) in qwen2.items()}
    tied = [share[n] for n, (_, t) in qwen2.items() if t]
    untied = [share[n] for n, (_, t) in qwen2.items() if not t]
    assert min(tied) > max(untied)


def test_the_committed_results_show_an_early_lead_at_the_lm_defaults_but_none_in_06():
    ten = json.loads((ROOT / "docs/results/lm_10_seeds.json").read_text())
    after_one = {v: np.array(ten[v]["valid_ppl_per_epoch"])[:, 0] for v in ("tied", "untied")}
    assert paired_interval(after_one["tied"] - after_one["untied"])["ci95"][1] < 0
    runs06 = json.loads((ROOT / "docs/results/factorial.json").read_text())["runs"]
    cell = ("pydoc", "lstm", "sgd", 1000)
    first = {v: np.array([r["curve"][0][1] for r in cell_runs(runs06, cell, v)])
             for v in ("tied", "untied")}
    low, high = paired_interval(first["tied"] - first["untied"])["ci95"]
    assert low < 0 < high


def test_the_lead_is_gone_to_within_a_few_percent_and_size_matched_always_trails(curves):
    valid, _ = curves
    late = valid["tied"][:, -1] - valid["untied"][:, -1]
    assert abs(late.mean()) < 0.06 * valid["untied"][:, -1].mean()
    assert (valid["tied"] < valid["untied_size_matched"]).all()


def test_the_regulariser_signature_and_its_limits(curves):
    valid, train = curves
    gap = {v: valid[v][:, -1] - train[v][:, -1] for v in VARIANTS}
    narrower = gap["tied"] - gap["untied"]
    assert (narrower < 0).all() and paired_interval(narrower)["ci95"][1] > 0
    assert gap["untied_size_matched"].mean() < min(gap["tied"].mean(), gap["untied"].mean())
    assert all((valid[v][:, -1] < valid[v][:, -2]).all() for v in VARIANTS), "still improving"


def test_output_and_tied_rows_change_at_every_step(runs):
    steps = runs["untied"][0].steps
    assert (runs["untied"][0].row_updates["output"]["steps"] == steps).all()
    assert (runs["tied"][0].row_updates["tied"]["steps"] == steps).all()


def test_frequent_rows_travel_further_than_rare_ones(runs, data):
    counts = data.vocab.counts
    rarest = np.argsort(counts[1:])[:100] + 1
    commonest = np.argsort(counts[1:])[-100:] + 1
    rank = lambda x: np.argsort(np.argsort(x))  # noqa: E731
    moved = [runs["untied"][0].row_updates["input"], runs["untied"][0].row_updates["output"],
             runs["tied"][0].row_updates["tied"]]
    for rows in moved:
        assert np.corrcoef(rank(counts[1:]), rank(rows["path"][1:]))[0, 1] > 0.9
        assert np.median(rows["path"][commonest]) > 10 * np.median(rows["path"][rarest])
        assert np.median(rows["net"][commonest]) > 2 * np.median(rows["net"][rarest])


def test_the_untied_input_embedding_is_the_least_reproducible(runs):
    frequent = range(1, 201)
    for seed in range(len(SEEDS)):
        this, following = runs["untied"][seed].model, runs["untied"][(seed + 1) % len(SEEDS)].model
        inputs = neighbour_overlap(this.embedding.weight, following.embedding.weight, frequent)
        outputs = neighbour_overlap(this.head.weight, following.head.weight, frequent)
        assert inputs < outputs


def test_the_bias_learns_the_unigram_prior(runs, data):
    counts = data.vocab.counts
    frequencies = torch.tensor(counts / counts.sum(), dtype=torch.float32)
    uniform_ce, unigram_ce = math.log(V), -frequencies.log()[data.valid].mean().item()
    for variant in ("tied", "untied"):
        for run in runs[variant]:
            bias = run.model.head.bias.detach()
            correlation = np.corrcoef(bias.numpy(), np.log(counts))[0, 1]
            bias_ce = -bias.log_softmax(0)[data.valid].mean().item()
            way = (uniform_ce - bias_ce) / (uniform_ce - unigram_ce)
            assert correlation > 0.9 and way > 0.8


def test_tied_beats_size_matched_on_test_in_every_seed(runs):
    test = {v: np.array([r.test_ppl for r in runs[v]]) for v in VARIANTS}
    assert (test["tied"] < test["untied_size_matched"]).all()
