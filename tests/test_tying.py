"""Unit tests for tying_utils/tying.py: tie, untie, tied_groups, assert_tied, count_parameters."""

from __future__ import annotations

import copy
import re

import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from torch import nn

from tying_utils import (
    EmbedHead,
    ParameterCount,
    assert_tied,
    count_parameters,
    tie,
    tied_groups,
    untie,
)


def pair(vocab=10, dim=3):
    """An untied embedding and head with the given sizes, inside one module."""
    model = nn.Module()
    model.embedding = nn.Embedding(vocab, dim)
    model.head = nn.Linear(dim, vocab)
    return model


# --- tie -----------------------------------------------------------------------------------------


def test_tie_makes_one_parameter_and_keeps_the_head_values():
    model = pair()
    head_before = model.head.weight.detach().clone()
    shared = tie(model.embedding, model.head)
    assert shared is model.head.weight is model.embedding.weight
    assert torch.equal(shared, head_before)
    assert len(list(model.parameters())) == 2  # the shared weight and the head's bias


def test_tie_rejects_a_mismatched_pair_naming_both_shapes_and_the_compatible_pair():
    with pytest.raises(ValueError) as error:
        tie(nn.Embedding(10, 3), nn.Linear(10, 3))
    message = str(error.value)
    assert "Embedding(10, 3)" in message and "10×3" in message
    assert "Linear(10, 3)" in message and "3×10" in message
    assert "ties only with a Linear(3, 10)" in message


@pytest.mark.parametrize(
    "embedding, head",
    [
        (nn.Linear(3, 10), nn.Linear(3, 10)),
        (nn.Embedding(10, 3), nn.Embedding(10, 3)),
        (nn.Linear(3, 10), nn.Embedding(10, 3)),  # the right two, in the wrong order
        ("embedding", "head"),
    ],
)
def test_tie_rejects_wrong_module_types(embedding, head):
    with pytest.raises(ValueError, match=r"needs an nn\.Embedding, then an nn\.Linear, got"):
        tie(embedding, head)


def test_tie_rejects_different_dtypes():
    with pytest.raises(ValueError, match="one dtype and device"):
        tie(nn.Embedding(10, 3).double(), nn.Linear(3, 10))


def test_tie_error_is_one_sentence():
    with pytest.raises(ValueError) as error:
        tie(nn.Embedding(4, 2), nn.Linear(4, 2))
    message = str(error.value)
    assert message.endswith(".") and "\n" not in message


# --- untie ---------------------------------------------------------------------------------------


def test_untie_by_dotted_name_gives_a_copy_that_trains_separately():
    model = EmbedHead(10, 3, tied=True)
    shared = model.head.weight
    new = untie(model, "embedding.weight")
    assert model.embedding.weight is new and model.head.weight is shared
    assert new is not shared and torch.equal(new, shared)
    assert new.untyped_storage().data_ptr() != shared.untyped_storage().data_ptr()
    assert tied_groups(model) == []
    with torch.no_grad():
        new.add_(1.0)
    assert not torch.equal(model.embedding.weight, model.head.weight)


def test_untie_on_the_submodule_with_the_default_name():
    model = EmbedHead(10, 3, tied=True)
    new = untie(model.embedding)
    assert model.embedding.weight is new and model.head.weight is not new


def test_untie_keeps_requires_grad():
    model = EmbedHead(10, 3, tied=True)
    model.head.weight.requires_grad_(False)
    assert untie(model, "embedding.weight").requires_grad is False


def test_untie_unknown_name_suggests_the_closest():
    model = EmbedHead(10, 3, tied=True)
    with pytest.raises(ValueError, match=re.escape("Did you mean 'embedding.weight'?")):
        untie(model, "embeding.weight")


def test_untie_on_a_model_without_parameters_says_so():
    with pytest.raises(ValueError, match="has no parameters"):
        untie(nn.ReLU(), "weight")


def test_untie_rejects_something_that_is_not_a_module():
    with pytest.raises(ValueError, match=r"untie\(\) needs an nn\.Module, got dict"):
        untie({"weight": torch.zeros(2)}, "weight")


# --- tied_groups ---------------------------------------------------------------------------------


def test_tied_groups_of_an_untied_and_a_tied_model():
    assert tied_groups(EmbedHead(10, 3, tied=False)) == []
    assert tied_groups(EmbedHead(10, 3, tied=True)) == [["embedding.weight", "head.weight"]]


def test_tied_groups_finds_a_data_alias_that_identity_misses():
    model = pair()
    model.embedding.weight.data = model.head.weight.data
    assert model.embedding.weight is not model.head.weight
    assert len(list(model.parameters())) == 3  # identity sees three Parameters
    assert tied_groups(model) == [["embedding.weight", "head.weight"]]


def test_tied_groups_finds_a_new_parameter_over_the_same_tensor():
    model = pair()
    model.embedding.weight = nn.Parameter(model.head.weight)
    assert model.embedding.weight is not model.head.weight
    assert tied_groups(model) == [["embedding.weight", "head.weight"]]


def test_tied_groups_finds_a_transposed_view():
    encoder, decoder = nn.Linear(6, 2, bias=False), nn.Linear(2, 6, bias=False)
    decoder.weight = nn.Parameter(encoder.weight.T)
    model = nn.Sequential(encoder, decoder)
    assert tied_groups(model) == [["0.weight", "1.weight"]]


def test_tied_groups_ignores_a_clone():
    model = pair()
    model.embedding.weight = nn.Parameter(model.head.weight.detach().clone())
    assert torch.equal(model.embedding.weight, model.head.weight)
    assert tied_groups(model) == []


@pytest.mark.parametrize("split", ["rows", "columns"])
def test_tied_groups_does_not_group_disjoint_slices_of_one_storage(split):
    storage = torch.randn(6, 4)
    first, second = (storage[:3], storage[3:]) if split == "rows" else (storage[:, :2],
                                                                       storage[:, 2:])
    model = nn.Module()
    model.first = nn.Parameter(first)
    model.second = nn.Parameter(second)
    assert first.untyped_storage().data_ptr() == second.untyped_storage().data_ptr()
    assert tied_groups(model) == []


def test_tied_groups_does_not_group_overlapping_slices_of_different_sizes():
    storage = torch.randn(6, 4)
    model = nn.Module()
    model.first, model.second = nn.Parameter(storage[:3]), nn.Parameter(storage[:4])
    assert tied_groups(model) == []


def test_tied_groups_sorts_groups_and_names():
    model = nn.Module()
    model.b_embedding, model.a_head = nn.Embedding(4, 2), nn.Linear(2, 4)
    model.d_embedding, model.c_head = nn.Embedding(5, 2), nn.Linear(2, 5)
    tie(model.b_embedding, model.a_head)
    tie(model.d_embedding, model.c_head)
    assert tied_groups(model) == [["a_head.weight", "b_embedding.weight"],
                                  ["c_head.weight", "d_embedding.weight"]]


def test_tied_groups_survives_deepcopy_and_dtype_change_of_a_tied_model():
    model = EmbedHead(10, 3, tied=True)
    assert tied_groups(copy.deepcopy(model).to(torch.float64)) == [
        ["embedding.weight", "head.weight"]
    ]


def test_tied_groups_rejects_something_that_is_not_a_module():
    with pytest.raises(ValueError, match=r"tied_groups\(\) needs an nn\.Module, got list"):
        tied_groups([nn.Linear(2, 2)])


# --- assert_tied ---------------------------------------------------------------------------------


def test_assert_tied_passes_for_a_tie_and_a_data_alias():
    assert_tied(EmbedHead(10, 3, tied=True), "embedding.weight", "head.weight")
    model = pair()
    model.embedding.weight.data = model.head.weight.data
    assert_tied(model, "embedding.weight", "head.weight")


def test_assert_tied_fails_for_an_untied_model_and_lists_the_groups():
    with pytest.raises(AssertionError, match=r"are not tied.*tied groups in this model: none"):
        assert_tied(EmbedHead(10, 3, tied=False), "embedding.weight", "head.weight")


def test_assert_tied_needs_two_names():
    with pytest.raises(ValueError, match="at least two parameter names, got 1"):
        assert_tied(EmbedHead(10, 3, tied=True), "head.weight")


def test_assert_tied_unknown_name_suggests_the_closest():
    with pytest.raises(ValueError, match=re.escape("Did you mean 'head.weight'?")):
        assert_tied(EmbedHead(10, 3, tied=True), "embedding.weight", "head.weigth")


def test_assert_tied_rejects_something_that_is_not_a_module():
    with pytest.raises(ValueError, match=r"assert_tied\(\) needs an nn\.Module, got str"):
        assert_tied("model", "a", "b")


# --- count_parameters ----------------------------------------------------------------------------


def test_count_parameters_of_untied_and_tied_models():
    untied = count_parameters(EmbedHead(10, 3, tied=False))
    tied = count_parameters(EmbedHead(10, 3, tied=True))
    assert untied == ParameterCount(unique=70, per_name=70, state_dict_entries=3)
    assert tied == ParameterCount(unique=40, per_name=70, state_dict_entries=3)
    assert untied.saved_by_tying == 0 and tied.saved_by_tying == 30


def test_count_parameters_counts_a_data_alias_once_unlike_parameters():
    model = pair()
    model.embedding.weight.data = model.head.weight.data
    assert sum(p.numel() for p in model.parameters()) == 70  # identity counts it twice
    assert count_parameters(model).unique == 40


def test_count_parameters_without_bias_and_its_text():
    count = count_parameters(EmbedHead(1000, 64, tied=True, bias=False))
    assert (count.unique, count.per_name) == (64_000, 128_000)
    assert str(count) == ("64,000 unique parameters (128,000 counted per name, 64,000 saved by "
                          "tying; 2 state_dict entries)")


def test_count_parameters_rejects_something_that_is_not_a_module():
    with pytest.raises(ValueError, match=r"count_parameters\(\) needs an nn\.Module, got int"):
        count_parameters(3)


# --- properties over shapes ----------------------------------------------------------------------

sizes = st.integers(min_value=1, max_value=40)


@settings(max_examples=40, deadline=None)
@given(vocab=sizes, dim=sizes)
def test_tie_works_for_every_matching_pair_and_saves_vocab_times_dim(vocab, dim):
    model = pair(vocab, dim)
    before = count_parameters(model)
    tie(model.embedding, model.head)
    after = count_parameters(model)
    assert after.unique == after.per_name - vocab * dim
    assert after.per_name == before.per_name == before.unique
    assert tied_groups(model) == [["embedding.weight", "head.weight"]]


@settings(max_examples=40, deadline=None)
@given(vocab=sizes, dim=sizes, in_features=sizes, out_features=sizes)
def test_tie_raises_for_every_mismatched_pair(vocab, dim, in_features, out_features):
    assume((in_features, out_features) != (dim, vocab))
    with pytest.raises(ValueError, match=rf"ties only with a Linear\({dim}, {vocab}\)"):
        tie(nn.Embedding(vocab, dim), nn.Linear(in_features, out_features))
