"""Unit tests for tying_utils/toy_models.py: SeedUntied, SeedTied (the blog's models), EmbedHead."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from tying_utils import EmbedHead, SeedTied, SeedUntied, count_parameters, tied_groups

TOKENS = torch.tensor([[0, 3, 9], [5, 5, 1]])  # the blog's input shape: (2, 3) token ids


# --- the blog's two models -----------------------------------------------------------------------


@pytest.mark.parametrize("model_class", [SeedUntied, SeedTied])
def test_seed_models_have_the_blogs_layers(model_class):
    model = model_class()
    assert isinstance(model.embedding, nn.Embedding) and isinstance(model.head, nn.Linear)
    assert model.embedding.weight.shape == model.head.weight.shape == (10, 3)
    assert model.head.bias.shape == (10,)


@pytest.mark.parametrize("model_class", [SeedUntied, SeedTied])
def test_seed_models_output_a_softmax_over_10_tokens(model_class):
    torch.manual_seed(0)
    out = model_class()(TOKENS)
    assert out.shape == (2, 3, 10)
    assert torch.all(out > 0)
    torch.testing.assert_close(out.sum(-1), torch.ones(2, 3))


@pytest.mark.parametrize("model_class", [SeedUntied, SeedTied])
def test_seed_models_compute_head_of_embedding(model_class):
    model = model_class()
    hidden = model.embedding.weight[TOKENS]
    logits = hidden @ model.head.weight.T + model.head.bias
    torch.testing.assert_close(model(TOKENS), torch.softmax(logits, dim=-1))


def test_seed_tied_has_one_parameter_for_both_names():
    model = SeedTied()
    assert model.embedding.weight is model.head.weight
    assert len(list(model.parameters())) == 2
    assert [name for name, _ in model.named_parameters()] == ["embedding.weight", "head.bias"]
    assert tied_groups(model) == [["embedding.weight", "head.weight"]]
    assert count_parameters(model).unique == 40


def test_seed_untied_has_separate_weights():
    model = SeedUntied()
    assert model.embedding.weight is not model.head.weight
    assert tied_groups(model) == []
    assert count_parameters(model).unique == 70


def test_seed_tied_starts_from_the_heads_uniform_init_and_untied_from_normal():
    torch.manual_seed(0)
    tied, untied = SeedTied(), SeedUntied()
    bound = 1 / math.sqrt(3)
    assert tied.embedding.weight.abs().max() <= bound
    assert untied.embedding.weight.abs().max() > bound  # 30 draws of N(0, 1): some exceed 0.58


def test_seed_models_under_one_seed_share_the_head():
    torch.manual_seed(7)
    untied = SeedUntied()
    torch.manual_seed(7)
    tied = SeedTied()
    assert torch.equal(tied.head.weight, untied.head.weight)
    assert torch.equal(tied.head.bias, untied.head.bias)


# --- EmbedHead -----------------------------------------------------------------------------------


@pytest.mark.parametrize("tied", [False, True])
def test_embed_head_returns_logits_of_the_right_shape(tied):
    model = EmbedHead(12, 5, tied=tied)
    logits = model(TOKENS)
    assert logits.shape == (2, 3, 12)
    expected = model.embedding.weight[TOKENS] @ model.head.weight.T + model.head.bias
    torch.testing.assert_close(logits, expected)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_embed_head_pairing_gives_equal_heads_under_one_seed(seed):
    torch.manual_seed(seed)
    untied = EmbedHead(20, 4, tied=False)
    torch.manual_seed(seed)
    tied = EmbedHead(20, 4, tied=True)
    assert torch.equal(tied.head.weight, untied.head.weight)
    assert torch.equal(tied.head.bias, untied.head.bias)
    assert not torch.equal(tied.embedding.weight, untied.embedding.weight)


def test_embed_head_tied_flag_and_repr():
    tied, untied = EmbedHead(8, 2, tied=True), EmbedHead(8, 2, tied=False)
    assert tied.tied is True and untied.tied is False
    assert tied_groups(tied) == [["embedding.weight", "head.weight"]]
    assert tied_groups(untied) == []
    assert "tied=True" in repr(tied) and "tied=False" in repr(untied)


def test_embed_head_without_bias():
    model = EmbedHead(8, 2, tied=True, bias=False)
    assert model.head.bias is None
    assert count_parameters(model).unique == 16


@pytest.mark.parametrize("vocab, dim", [(0, 3), (10, -1), (2.5, 3), ("10", 3), (True, 3),
                                        (10, None)])
def test_embed_head_rejects_bad_sizes_in_one_sentence(vocab, dim):
    with pytest.raises(ValueError, match=r"EmbedHead needs (vocab|dim) to be a whole number >= 1, "
                                         r"got .+\.$"):
        EmbedHead(vocab, dim, tied=True)


def test_the_old_module_name_still_imports():
    """models.py is toy_models.py's old name: imports from it keep working."""
    from tying_utils import models, toy_models

    assert (models.SeedUntied, models.SeedTied, models.EmbedHead) == \
        (toy_models.SeedUntied, toy_models.SeedTied, toy_models.EmbedHead)
