"""Unit tests for tying_utils/tying.py: tie, untie, tied_groups, shared_memory_groups, assert_tied,
count_parameters (issue 9: meta tensors, aliases, views, repeated names, clear errors)."""

from __future__ import annotations

import copy
import re

import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from torch import nn
from torch.nn.utils import parametrize

from tying_utils import (
    EmbedHead,
    ParameterCount,
    SharedGroup,
    assert_tied,
    count_parameters,
    shared_memory_groups,
    shared_tensor_groups,
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


def kinds(model):
    """shared_memory_groups as (kind, names) pairs, for short asserts."""
    return [(group.kind, list(group.names)) for group in shared_memory_groups(model)]


def test_a_data_alias_is_not_a_tie_but_an_alias_group():
    model = pair()
    model.embedding.weight.data = model.head.weight.data
    assert model.embedding.weight is not model.head.weight
    assert tied_groups(model) == []
    assert kinds(model) == [("alias", ["embedding.weight", "head.weight"])]


def test_a_new_parameter_over_the_same_tensor_is_an_alias():
    model = pair()
    model.embedding.weight = nn.Parameter(model.head.weight)
    assert tied_groups(model) == []
    assert kinds(model) == [("alias", ["embedding.weight", "head.weight"])]


def test_load_state_dict_assign_of_a_tied_state_dict_makes_an_alias():
    source, model = EmbedHead(10, 3, tied=True), EmbedHead(10, 3, tied=True)
    model.load_state_dict(source.state_dict(), assign=True)
    assert model.embedding.weight is not model.head.weight  # what this torch version does
    assert tied_groups(model) == []
    assert kinds(model) == [("alias", ["embedding.weight", "head.weight"])]


def test_a_group_mixing_a_tie_and_an_alias_is_an_alias_group():
    model = pair()
    tie(model.embedding, model.head)
    model.decoder = nn.Linear(3, 10)
    model.decoder.weight.data = model.head.weight.data
    assert tied_groups(model) == [["embedding.weight", "head.weight"]]
    [group] = shared_memory_groups(model)
    assert group == SharedGroup(("decoder.weight", "embedding.weight", "head.weight"), "alias",
                                group.meaning, parameters=2)
    assert group.meaning.endswith(".") and "\n" not in group.meaning


def test_a_tie_is_a_tie_group_with_a_meaning():
    [group] = shared_memory_groups(EmbedHead(10, 3, tied=True))
    assert (group.names, group.kind, group.parameters) == (
        ("embedding.weight", "head.weight"), "tie", 1)
    assert "steps it once" in group.meaning
    assert str(group).startswith("tie: embedding.weight, head.weight (")


class Transpose(nn.Module):
    def forward(self, weight):
        return weight.T


def test_the_parametrized_transpose_of_notebook_02_is_a_tie():
    encoder, decoder = nn.Linear(6, 2, bias=False), nn.Linear(2, 6, bias=False)
    decoder.weight = encoder.weight
    parametrize.register_parametrization(decoder, "weight", Transpose(), unsafe=True)
    model = nn.Sequential(encoder, decoder)
    assert tied_groups(model) == [["0.weight", "1.parametrizations.weight.original"]]
    assert kinds(model) == [("tie", ["0.weight", "1.parametrizations.weight.original"])]
    assert_tied(model, "0.weight", "1.parametrizations.weight.original")
    assert count_parameters(model).unique == 12


@pytest.mark.parametrize("make_view", [
    lambda W: W.view(-1),
    lambda W: W.view(3, 10),  # W.view(d, V): the same numbers read as another shape
    lambda W: W[2:5],
    lambda W: W.T,
], ids=["flat", "d-by-V", "row slice", "transpose"])
def test_a_parameter_over_a_view_is_a_view_group_counted_once(make_view):
    model = pair()  # 10×3 head weight
    model.other = nn.Parameter(make_view(model.head.weight))
    assert tied_groups(model) == []
    assert kinds(model) == [("view", ["head.weight", "other"])]
    count = count_parameters(model)
    assert count.unique == 70  # the views add no numbers: each stored element counted once
    assert count.per_name == 70 + model.other.numel()


def test_tied_groups_finds_no_tie_in_a_transposed_view():
    encoder, decoder = nn.Linear(6, 2, bias=False), nn.Linear(2, 6, bias=False)
    decoder.weight = nn.Parameter(encoder.weight.T)
    model = nn.Sequential(encoder, decoder)
    assert tied_groups(model) == []
    assert kinds(model) == [("view", ["0.weight", "1.weight"])]


def test_tied_groups_ignores_a_clone():
    model = pair()
    model.embedding.weight = nn.Parameter(model.head.weight.detach().clone())
    assert torch.equal(model.embedding.weight, model.head.weight)
    assert tied_groups(model) == []


@pytest.mark.parametrize("split", ["rows", "columns"])
def test_disjoint_slices_of_one_storage_share_nothing(split):
    storage = torch.randn(6, 4)
    first, second = (storage[:3], storage[3:]) if split == "rows" else (storage[:, :2],
                                                                       storage[:, 2:])
    model = nn.Module()
    model.first = nn.Parameter(first)
    model.second = nn.Parameter(second)
    assert first.untyped_storage().data_ptr() == second.untyped_storage().data_ptr()
    assert tied_groups(model) == [] and shared_memory_groups(model) == []
    assert count_parameters(model).unique == 24


def test_interleaved_column_slices_that_overlap_are_a_view_group():
    storage = torch.randn(6, 4)
    model = nn.Module()
    model.left, model.middle = nn.Parameter(storage[:, :2]), nn.Parameter(storage[:, 1:3])
    assert kinds(model) == [("view", ["left", "middle"])]
    assert count_parameters(model).unique == 18  # columns 0, 1, 2 of six rows


def test_a_strided_slice_alone_counts_its_own_elements_not_its_span():
    model = nn.Module()
    model.column = nn.Parameter(torch.randn(6, 4)[:, 1])  # 6 numbers spread over 21 places
    assert count_parameters(model).unique == 6


def test_overlapping_slices_of_different_sizes_are_a_view_group():
    storage = torch.randn(6, 4)
    model = nn.Module()
    model.first, model.second = nn.Parameter(storage[:3]), nn.Parameter(storage[:4])
    assert tied_groups(model) == []
    assert kinds(model) == [("view", ["first", "second"])]
    assert count_parameters(model).unique == 16


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


def test_assert_tied_passes_for_a_tie():
    assert_tied(EmbedHead(10, 3, tied=True), "embedding.weight", "head.weight")


@pytest.mark.parametrize("make_alias", ["data", "parameter", "assign"])
def test_assert_tied_fails_for_an_alias_and_says_why(make_alias):
    model = EmbedHead(10, 3, tied=make_alias == "assign")
    if make_alias == "data":
        model.embedding.weight.data = model.head.weight.data
    elif make_alias == "parameter":
        model.embedding.weight = nn.Parameter(model.head.weight)
    else:
        model.load_state_dict(EmbedHead(10, 3, tied=True).state_dict(), assign=True)
    with pytest.raises(AssertionError) as error:
        assert_tied(model, "embedding.weight", "head.weight")
    message = str(error.value)
    assert "share memory but are 2 separate Parameters" in message
    assert "steps each" in message and "Adam and weight decay act twice" in message
    assert "deepcopy, pickle and functional_call separate them" in message
    assert "tie(embedding, head)" in message
    assert "\n" not in message


def test_assert_tied_fails_for_a_view_without_counting_two_places():
    model = pair()
    model.flat = nn.Parameter(model.head.weight.view(-1))
    with pytest.raises(AssertionError) as error:
        assert_tied(model, "flat", "head.weight")
    message = str(error.value)
    assert "overlap in memory" in message and "a view, not a tie" in message
    assert "different places" not in message


def test_assert_tied_rejects_the_same_name_twice():
    with pytest.raises(ValueError, match=r"got 'embedding\.weight' twice: name each parameter "
                                         r"once"):
        assert_tied(EmbedHead(10, 3, tied=False), "embedding.weight", "embedding.weight")


def test_assert_tied_on_a_parametrized_embedding_suggests_the_original():
    model = pair()
    parametrize.register_parametrization(model.embedding, "weight", nn.Identity())
    with pytest.raises(ValueError) as error:
        assert_tied(model, "embedding.weight", "head.weight")
    assert "its Parameter is 'embedding.parametrizations.weight.original'" in str(error.value)
    assert "Did you mean" not in str(error.value)


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


# --- the meta device: identity only --------------------------------------------------------------


def test_meta_tensors_are_not_tied_by_their_zero_address():
    model = EmbedHead(10, 3, tied=False).to("meta")
    assert model.embedding.weight.data_ptr() == model.head.weight.data_ptr() == 0
    assert tied_groups(model) == [] and shared_memory_groups(model) == []
    assert count_parameters(model) == ParameterCount(unique=70, per_name=70, state_dict_entries=3)
    with pytest.raises(AssertionError, match="separate Parameters on the meta device"):
        assert_tied(model, "embedding.weight", "head.weight")


def meta_tied():
    """A tied EmbedHead on meta. (Built under `with torch.device("meta")` it is the same, but
    the first normal_() on meta costs seconds.)"""
    model = EmbedHead(10, 3, tied=False).to("meta")
    tie(model.embedding, model.head)
    return model


def test_a_tie_on_meta_is_found_by_identity():
    model = meta_tied()
    assert model.head.weight.is_meta
    assert tied_groups(model) == [["embedding.weight", "head.weight"]]
    assert [g.kind for g in shared_memory_groups(model)] == ["tie"]
    assert_tied(model, "embedding.weight", "head.weight")
    assert count_parameters(model).unique == 40


@pytest.mark.parametrize("move", ["to meta", "to_empty"])
def test_moving_to_or_from_meta_gives_each_name_its_own_parameter(move):
    """What this torch version does; notebook 07 and audit() warn about it."""
    if move == "to meta":
        model = EmbedHead(10, 3, tied=True).to("meta")
    else:
        model = meta_tied().to_empty(device="cpu")
    assert tied_groups(model) == []


# --- tie(): one clear ValueError for modules whose weight cannot be shared -----------------------


def test_tie_refuses_a_parametrized_embedding():
    embedding = nn.Embedding(10, 3)
    parametrize.register_parametrization(embedding, "weight", nn.Identity())
    with pytest.raises(ValueError) as error:
        tie(embedding, nn.Linear(3, 10))
    message = str(error.value)
    assert "the embedding's weight is computed by a parametrization (Identity)" in message
    assert "remove_parametrizations(embedding, 'weight')" in message and "\n" not in message


def test_tie_refuses_a_weight_normed_head_in_both_styles():
    with pytest.raises(ValueError, match=r"the head's weight is computed by a parametrization "
                                         r"\(_WeightNorm\)"):
        tie(nn.Embedding(10, 3), nn.utils.parametrizations.weight_norm(nn.Linear(3, 10)))
    with pytest.warns(FutureWarning):  # the old style is deprecated, and still used
        head = nn.utils.weight_norm(nn.Linear(3, 10))
    with pytest.raises(ValueError, match=r"not a Parameter but is computed from its Parameters "
                                         r"\(weight_g, weight_v\)"):
        tie(nn.Embedding(10, 3), head)


def test_tie_refuses_a_lazy_linear_until_it_has_a_shape():
    head = nn.LazyLinear(10)
    with pytest.raises(ValueError, match="LazyLinear whose weight has no shape until its first "
                                         "forward pass"):
        tie(nn.Embedding(10, 3), head)
    head(torch.zeros(1, 3))
    embedding = nn.Embedding(10, 3)
    assert tie(embedding, head) is embedding.weight is head.weight


# --- shared_tensor_groups: a state dict's shared memory ------------------------------------------


def test_shared_tensor_groups_of_a_tied_state_dict():
    assert shared_tensor_groups(EmbedHead(10, 3, tied=True).state_dict()) == [
        ["embedding.weight", "head.weight"]]
    assert shared_tensor_groups(EmbedHead(10, 3, tied=False).state_dict()) == []


# --- count_parameters ----------------------------------------------------------------------------


def test_count_parameters_of_untied_and_tied_models():
    untied = count_parameters(EmbedHead(10, 3, tied=False))
    tied = count_parameters(EmbedHead(10, 3, tied=True))
    assert untied == ParameterCount(unique=70, per_name=70, state_dict_entries=3)
    assert tied == ParameterCount(unique=40, per_name=70, state_dict_entries=3)
    assert untied.saved_by_tying == 0 and tied.saved_by_tying == 30


def test_count_parameters_counts_an_alias_once_unlike_parameters():
    model = pair()
    model.embedding.weight.data = model.head.weight.data
    assert sum(p.numel() for p in model.parameters()) == 70  # identity counts it twice
    assert count_parameters(model).unique == 40


def test_count_parameters_without_bias_and_its_text():
    count = count_parameters(EmbedHead(1000, 64, tied=True, bias=False))
    assert (count.unique, count.per_name) == (64_000, 128_000)
    assert str(count) == ("64,000 unique parameters (128,000 counted per name, 64,000 saved by "
                          "tying; 2 state_dict entries)")


def test_count_parameters_of_a_lazy_model_says_to_run_it_first():
    model = nn.Sequential(nn.Embedding(10, 3), nn.LazyLinear(10))
    with pytest.raises(ValueError, match=r"cannot count '1\.weight': it belongs to a lazy module"):
        count_parameters(model)
    model(torch.tensor([1, 2]))
    assert count_parameters(model).unique == 30 + 30 + 10


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


# Random strided slices of one 6×8 storage, and transposes of them.
slices = st.tuples(st.integers(0, 5), st.integers(1, 6), st.integers(1, 3),
                   st.integers(0, 7), st.integers(1, 8), st.integers(1, 3), st.booleans())


def _slice(storage, spec):
    row, rows, row_step, col, cols, col_step, transpose = spec
    view = storage[row:row + rows:row_step, col:col + cols:col_step]
    return view.T if transpose else view


@settings(max_examples=60, deadline=None)
@given(specs=st.lists(slices, min_size=1, max_size=4))
def test_groups_and_counts_agree_with_element_by_element_bookkeeping(specs):
    """Label every element of the storage with its index, then compare the package's answers
    with the sets of indices each Parameter reads."""
    storage = torch.arange(48.0).reshape(6, 8)
    model = nn.Module()
    for i, spec in enumerate(specs):
        model.register_parameter(f"p{i}", nn.Parameter(_slice(storage, spec)))
    reads = {name: set(p.detach().flatten().long().tolist())
             for name, p in model.named_parameters()}
    assume(all(reads.values()))
    assert count_parameters(model).unique == len(set().union(*reads.values()))
    names = sorted(reads)  # expected groups: connected components of "reads a common element"
    component = {name: {name} for name in names}
    for a in names:
        for b in names:
            if reads[a] & reads[b] and component[a] is not component[b]:
                merged = component[a] | component[b]
                for name in merged:
                    component[name] = merged
    expected = sorted(sorted(c) for c in {id(c): c for c in component.values()}.values()
                      if len(c) > 1)
    assert [list(group.names) for group in shared_memory_groups(model)] == expected
