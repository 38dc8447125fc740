"""The Transformer language model of notebook 06, its conventions, and training it with
`lm_training` (LMConfig(arch="transformer")), including the sweep's statistics."""

from __future__ import annotations

import dataclasses
import math
import random

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tying_utils.corpus import batchify, bptt_chunks, load_corpus, prepare
from tying_utils.lm_training import (
    ARCH_DEFAULTS,
    LMConfig,
    build_lm,
    compare_variants,
    paired_interval,
    perplexity,
    run_sweep,
    size_matched_config,
    sweep_sentence,
    train_lm,
    zero_crossings,
)
from tying_utils.transformer import (
    CONVENTIONS,
    TransformerLM,
    size_matched_dim,
    size_matched_width,
    transformer_parameter_count,
)
from tying_utils.tying import assert_tied, count_parameters, tied_groups

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    rng = random.Random(0)
    lines = [f"the {rng.choice(['cat', 'dog'])} {rng.choice(['sat', 'ran'])} on a "
             f"{rng.choice(['mat', 'log'])} and then slept ." for _ in range(300)]
    path = tmp_path_factory.mktemp("corpus") / "tiny.txt"
    path.write_text("\n".join(lines), encoding="utf-8")
    return prepare(load_corpus(path), vocab_cap=50)


TINY = LMConfig(arch="transformer", dim=8, hidden=8, dropout=0.0, bptt=6, batch_size=4,
                lr=0.01, epochs=1)


# --- the model ------------------------------------------------------------------------------------

@pytest.mark.parametrize("init", CONVENTIONS)
def test_tied_model_holds_one_matrix_and_untied_two(init):
    tied = TransformerLM(30, 8, tied=True, init=init)
    untied = TransformerLM(30, 8, tied=False, init=init)
    assert_tied(tied, "embedding.weight", "head.weight")
    assert tied_groups(untied) == []
    assert count_parameters(untied).unique - count_parameters(tied).unique == 30 * 8


@pytest.mark.parametrize("vocab, dim, layers, context, tied",
                         [(30, 8, 1, 5, True), (30, 8, 2, 35, False), (101, 24, 3, 12, True),
                          (101, 24, 3, 12, False)])
def test_parameter_formula_matches_the_model(vocab, dim, layers, context, tied):
    model = TransformerLM(vocab, dim, tied, layers=layers, heads=4, context=context)
    assert count_parameters(model).unique == transformer_parameter_count(vocab, dim, tied,
                                                                         layers, context)


def test_forward_gives_logits_and_no_state_and_respects_the_context():
    model = TransformerLM(30, 8, tied=True, context=6)
    logits, state = model(torch.randint(0, 30, (3, 6)))
    assert logits.shape == (3, 6, 30) and state is None
    logits, _ = model(torch.randint(0, 30, (3, 2)), state="ignored")
    assert logits.shape == (3, 2, 30)
    with pytest.raises(ValueError, match="reads at most 6 tokens at a time, got 7"):
        model(torch.randint(0, 30, (1, 7)))


def test_attention_is_causal_a_later_token_does_not_change_earlier_logits():
    torch.manual_seed(0)
    model = TransformerLM(30, 16, tied=True, heads=4, dropout=0.0).eval()
    tokens = torch.randint(0, 30, (2, 10))
    changed = tokens.clone()
    changed[:, 6:] = (changed[:, 6:] + 1) % 30
    before, after = model(tokens)[0], model(changed)[0]
    assert torch.allclose(before[:, :6], after[:, :6], atol=1e-6)
    assert not torch.allclose(before[:, 6:], after[:, 6:])


@pytest.mark.parametrize("init", CONVENTIONS)
def test_one_seed_pairs_tied_and_untied(init):
    """Same seed: same blocks and positions; the tied matrix is the untied draw its convention
    keeps (the embedding's or the head's)."""
    torch.manual_seed(5)
    tied = TransformerLM(40, 16, tied=True, init=init)
    torch.manual_seed(5)
    untied = TransformerLM(40, 16, tied=False, init=init)
    for (name, a), (_, b) in zip(tied.blocks.named_parameters(), untied.blocks.named_parameters()):
        assert torch.equal(a, b), name
    assert torch.equal(tied.position.weight, untied.position.weight)
    kept = untied.embedding if CONVENTIONS[init].tied_keeps == "embedding" else untied.head
    assert torch.equal(tied.head.weight, kept.weight)


def test_conventions_draw_and_scale_the_token_matrix_as_documented():
    torch.manual_seed(0)
    d, vocab = 64, 4000
    stds = {name: TransformerLM(vocab, d, tied=False, init=name) for name in CONVENTIONS}
    assert stds["gpt2"].embedding.weight.std().item() == pytest.approx(0.02, rel=0.03)
    assert stds["vaswani"].embedding.weight.std().item() == pytest.approx(d ** -0.5, rel=0.03)
    assert stds["t5"].embedding.weight.std().item() == pytest.approx(1.0, rel=0.03)
    assert stds["pytorch"].embedding.weight.std().item() == pytest.approx(1.0, rel=0.03)
    bound = d ** -0.5
    assert stds["pytorch"].head.weight.abs().max().item() <= bound
    assert stds["pytorch"].head.weight.std().item() == pytest.approx(bound / math.sqrt(3),
                                                                      rel=0.03)
    assert (stds["vaswani"].input_scale, stds["vaswani"].output_scale) == (math.sqrt(d), 1.0)
    assert (stds["t5"].input_scale, stds["t5"].output_scale) == (1.0, 1 / math.sqrt(d))
    assert (stds["gpt2"].input_scale, stds["gpt2"].output_scale) == (1.0, 1.0)


def test_residual_stream_is_scaled_embedding_plus_position():
    model = TransformerLM(30, 16, tied=True, init="vaswani", context=8)
    tokens = torch.tensor([[3, 4, 5]])
    expected = model.embedding.weight[tokens] * 4.0 + model.position.weight[:3]
    assert torch.allclose(model.residual_stream(tokens), expected)


@pytest.mark.parametrize("vocab, dim, heads", [(1000, 16, 2), (1000, 64, 2), (500, 32, 4)])
def test_size_matched_width_is_the_closest_multiple_of_heads(vocab, dim, heads):
    small = size_matched_dim(vocab, dim, heads=heads)
    assert size_matched_width is size_matched_dim  # its old name still works
    target = transformer_parameter_count(vocab, dim, True)
    count = lambda d: transformer_parameter_count(vocab, d, False)
    assert small % heads == 0 and small < dim
    for other in (small - heads, small + heads):
        assert abs(count(small) - target) <= abs(count(other) - target)


@pytest.mark.parametrize("kwargs, message", [
    (dict(dim=10, heads=4), r"width \(10\) must be a multiple of the number of heads \(4\)"),
    (dict(init="xavier"), r"unknown init 'xavier'; choose one of gpt2, vaswani, t5, pytorch"),
    (dict(layers=0), "layers must be a whole number >= 1, got 0"),
    (dict(dim=8.0), "dim must be a whole number >= 1, got 8.0"),
    (dict(dropout=1.0), r"dropout must be in \[0, 1\)"),
    (dict(context=True), "context must be a whole number >= 1, got True"),
])
def test_bad_model_settings_are_one_clear_sentence(kwargs, message):
    settings = {"vocab": 30, "dim": 8, "tied": True, **kwargs}
    with pytest.raises(ValueError, match=message):
        TransformerLM(**settings)


# --- LMConfig and training ------------------------------------------------------------------------

def test_lm_config_defaults_follow_the_architecture():
    lstm, transformer = LMConfig(), LMConfig(arch="transformer")
    assert (lstm.layers, lstm.lr, lstm.clip) == (1, 20.0, 0.25)  # the LSTM's, as before
    assert {k: getattr(transformer, k) for k in ("layers", "lr", "clip")} == \
        ARCH_DEFAULTS["transformer"]
    assert LMConfig(arch="transformer", lr=0.01).lr == 0.01
    assert "arch=transformer" in transformer.describe() and "Adam" in transformer.describe()
    assert lstm.describe().startswith("cell=lstm layers=1")


@pytest.mark.parametrize("kwargs, message", [
    (dict(arch="rnn"), "unknown arch 'rnn'; choose one of lstm, transformer"),
    (dict(arch="transformer", hidden=32), r"one width: hidden \(32\) must equal dim \(64\)"),
    (dict(arch="transformer", heads=3), r"width \(64\) must be a multiple of heads \(3\)"),
    (dict(arch="transformer", init="xavier"), "unknown init 'xavier'"),
    (dict(arch="transformer", heads=0), "heads must be a whole number >= 1"),
    (dict(arch="transformer", lr=True), "lr must be a positive number"),
])
def test_bad_transformer_configs_are_one_clear_sentence(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LMConfig(**kwargs)


def test_build_lm_builds_the_model_the_config_names():
    from tying_utils.recurrent_lm import RecurrentLM

    assert isinstance(build_lm(LMConfig(dim=8, hidden=8), 20, True), RecurrentLM)
    model = build_lm(dataclasses.replace(TINY, init="t5", layers=3), 20, False)
    assert isinstance(model, TransformerLM) and len(model.blocks) == 3 and model.init == "t5"
    assert model.context == TINY.bptt


def test_perplexity_ignores_the_state_and_reads_each_chunk_as_its_context(tiny_data):
    torch.manual_seed(0)
    model = TransformerLM(len(tiny_data.vocab), 8, tied=True, context=6).eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for inputs, targets in bptt_chunks(batchify(tiny_data.valid, 10), 6):
            logits, _ = model(inputs)
            total += F.cross_entropy(logits.flatten(0, 1), targets.flatten(),
                                     reduction="sum").item()
            count += targets.numel()
    assert perplexity(model, tiny_data.valid, bptt=6) == pytest.approx(math.exp(total / count))


def test_a_transformer_trains_and_beats_the_uniform_guess(tiny_data):
    run = train_lm(tiny_data, dataclasses.replace(TINY, epochs=2), tied=True, seed=0,
                   progress=False, device="cpu")
    vocab = len(tiny_data.vocab)
    assert len(run.valid_ppl) == 2 and run.valid_ppl[-1] < vocab / 3
    assert run.parameters == transformer_parameter_count(vocab, 8, True, 2, TINY.bptt)
    assert isinstance(run.model, TransformerLM)


def test_transformer_training_is_reproducible_for_one_seed(tiny_data):
    config = dataclasses.replace(TINY, dropout=0.2)
    first, second = (train_lm(tiny_data, config, False, seed=3, progress=False, device="cpu")
                     for _ in range(2))
    assert first.valid_ppl == second.valid_ppl and first.test_ppl == second.test_ppl


def test_update_recorder_works_for_the_transformer(tiny_data):
    run = train_lm(tiny_data, TINY, tied=True, seed=0, record_updates=True, progress=False,
                   device="cpu")
    assert set(run.row_updates) == {"tied"}
    assert (run.row_updates["tied"]["steps"] == run.steps).all()  # every row, every step


def test_compare_variants_size_matches_the_transformer(tiny_data):
    runs = compare_variants(tiny_data, TINY, seeds=[0], progress=False, device="cpu")
    vocab = len(tiny_data.vocab)
    small = runs["untied_size_matched"][0]
    assert small.dim == size_matched_dim(vocab, 8, 2, 2, TINY.bptt)
    assert small.dim == size_matched_config(TINY, vocab).dim
    assert runs["tied"][0].parameters < runs["untied"][0].parameters


# --- the sweep's statistics -----------------------------------------------------------------------

def test_paired_interval_is_the_t_interval():
    result = paired_interval([1.0, 2.0, 3.0])
    half = 4.303 * 1.0 / math.sqrt(3)  # sd 1, t(0.975, 2 degrees of freedom)
    assert result["mean"] == 2.0
    assert result["ci95"] == pytest.approx([2.0 - half, 2.0 + half])
    assert math.isnan(paired_interval([5.0])["ci95"][0])
    with pytest.raises(ValueError, match="at least one difference"):
        paired_interval([])


def _point(width, share, mean, low, high):
    diff = {"mean": mean, "ci95": [low, high], "per_seed": [mean]}
    return {"width": width, "embedding_share": share, "tied_minus_untied": diff,
            "tied_minus_size_matched": {"mean": -1.0, "ci95": [-2.0, -0.5], "per_seed": [-1.0]}}


def test_zero_crossings_interpolate_along_the_share():
    points = [_point(16, 0.4, 4.0, 1.0, 7.0), _point(32, 0.3, 2.0, -1.0, 5.0),
              _point(64, 0.2, -2.0, -5.0, 1.0)]
    assert zero_crossings(points) == pytest.approx([0.25])
    assert zero_crossings(points, "tied_minus_size_matched") == []
    sentence = sweep_sentence({"points": points})
    assert "tied − untied changes sign between d = 32 and 64" in sentence
    assert "tied worse at d = 16" in sentence
    assert "tied − size-matched untied is below zero at every width (tied better at d = 16, 32, " \
           "64)" in sentence


def test_run_sweep_trains_every_width_seed_and_variant(tiny_data):
    result = run_sweep(tiny_data, TINY, widths=[4, 8], seeds=2, progress=False, device="cpu")
    assert result["config"]["widths"] == [4, 8] and result["config"]["seeds"] == [0, 1]
    assert not {"dim", "emb"} & set(result["config"]) and result["config"]["arch"] == "transformer"
    first = result["points"][0]
    vocab = len(tiny_data.vocab)
    assert first["width"] == 4 and first["embedding_share"] == pytest.approx(
        vocab * 4 / transformer_parameter_count(vocab, 4, False, 2, TINY.bptt))
    test = first["test_ppl"]  # the verdict is on test; validation only steered the lr
    assert np.allclose(first["tied_minus_untied"]["per_seed"],
                       np.subtract(test["tied"], test["untied"]))
    assert len(first["valid_ppl"]["untied_size_matched"]) == 2 and result["seconds"] > 0
    with pytest.raises(ValueError, match=r"width \(6\) must be a multiple of heads \(4\)"):
        run_sweep(tiny_data, dataclasses.replace(TINY, heads=4), [8, 6], 1, progress=False)
