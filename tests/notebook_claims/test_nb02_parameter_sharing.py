"""Notebook 02 (parameter_sharing): the claims its cells print, checked here in full.

The notebook keeps the asserts a student learns from and prints the comparisons behind the rest;
these tests run the same code (its `Tiny` model, in plain PyTorch, and the package) and assert
each claim, so that a PyTorch or package change that breaks one fails here.
"""

from __future__ import annotations

import copy
import math
import os

import pytest
import safetensors.torch
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize

from tying_utils import EmbedHead, assert_tied, audit, count_parameters, tie, tied_groups
from tying_utils.sharing_cases import checkpoint_of, no_warnings, sharing_cases, sharing_kind

TIED = [["embedding.weight", "head.weight"]]
tokens = torch.arange(10)
targets = (tokens + 1) % 10


class Tiny(nn.Module):
    """The notebook's model: the blog's layout, an embedding then a head, tied or not."""

    def __init__(self, vocab=10, dim=3, tied=True):
        super().__init__()
        self.embedding = nn.Embedding(vocab, dim)
        self.head = nn.Linear(dim, vocab)
        if tied:
            self.embedding.weight = self.head.weight

    def forward(self, tokens):
        return self.head(self.embedding(tokens))


def data_alias_model():
    model = Tiny(tied=False)
    with no_warnings():
        model.embedding.weight.data = model.head.weight.data
    return model


def seeded(make, seed=0):
    torch.manual_seed(seed)
    return make()


def first_adam_step(model, lr=0.01):
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    before = model.head.weight.detach().clone()
    optimizer.zero_grad()
    F.cross_entropy(model(tokens), targets).backward()
    optimizer.step()
    held = sum(len(group["params"]) for group in optimizer.param_groups)
    return (model.head.weight.detach() - before).abs(), held


def train_steps(model, make_optimizer, steps=20, max_norm=None):
    optimizer = make_optimizer(model.parameters())
    norms = []
    for _ in range(steps):
        optimizer.zero_grad()
        F.cross_entropy(model(tokens), targets).backward()
        if max_norm is not None:
            norms.append(torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm).item())
        optimizer.step()
    return model.head.weight.detach(), norms


def test_section_2_the_package_model_has_the_notebook_model_names():
    assert ([name for name, _ in EmbedHead(10, 3, tied=True).named_parameters()]
            == [name for name, _ in Tiny().named_parameters()])


def test_section_3_adam_first_step_moves_every_element_by_lr_then_drifts():
    change, held = first_adam_step(seeded(Tiny))
    assert held == 2 and torch.allclose(change, torch.full_like(change, 0.01), atol=1e-5)
    model = seeded(Tiny)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(20):
        before = model.head.weight.detach().clone()
        optimizer.zero_grad()
        F.cross_entropy(model(tokens), targets).backward()
        optimizer.step()
    moved = (model.head.weight.detach() - before).abs() / 0.01
    assert moved.min() < 0.5 and moved.max() > 1.05  # by step 20, no longer "about lr"


def test_section_4_the_gradient_formula_head_and_lookup_terms():
    torch.manual_seed(1)
    tied, untied = Tiny(tied=True), Tiny(tied=False)
    with torch.no_grad():
        untied.head.weight.copy_(tied.head.weight)
        untied.head.bias.copy_(tied.head.bias)
        untied.embedding.weight.copy_(tied.head.weight)
    batch_tokens, batch_targets = torch.tensor([1, 4, 4, 7, 9]), torch.tensor([2, 5, 0, 8, 0])
    for m in (tied, untied):
        F.cross_entropy(m(batch_tokens), batch_targets).backward()
    W, b = tied.head.weight.detach(), tied.head.bias.detach()
    h = W[batch_tokens]
    error = (torch.softmax(h @ W.T + b, dim=1)
             - F.one_hot(batch_targets, num_classes=10)) / len(batch_tokens)
    head_term = error.T @ h
    lookup_term = torch.zeros_like(W).index_add_(0, batch_tokens, error @ W)
    assert torch.allclose(head_term, untied.head.weight.grad, atol=1e-7)
    assert torch.allclose(lookup_term, untied.embedding.weight.grad, atol=1e-7)
    assert torch.allclose(head_term + lookup_term, tied.head.weight.grad, atol=1e-7)
    overwritten = torch.zeros_like(W)
    overwritten[batch_tokens] = error @ W  # an assignment counts token 4 (read twice) once
    assert not torch.allclose(overwritten[4], lookup_term[4], atol=1e-7)


def make_pair(keep, vocab=10_000, dim=256):
    embedding, head = nn.Embedding(vocab, dim), nn.Linear(dim, vocab)
    if keep == "head":
        embedding.weight = head.weight
    elif keep == "embedding":
        head.weight = embedding.weight
    return embedding, head


def test_section_5_the_direction_of_the_assignment_decides_the_initialisation():
    torch.manual_seed(0)
    head_kept = make_pair("head")[0].weight
    embedding_kept = make_pair("embedding")[1].weight
    assert head_kept.abs().max() <= 1 / math.sqrt(256) and abs(embedding_kept.std() - 1) < 0.01


def test_section_5_the_first_loss_of_each_direction():
    V = 10_000
    losses = {"head": [], "embedding": [], None: []}
    predicts = {"head": [], "embedding": [], None: []}
    for seed in range(5):
        data = torch.Generator().manual_seed(100 + seed)
        inputs = torch.randint(0, V, (512,), generator=data)
        next_tokens = torch.randint(0, V, (512,), generator=data)
        for keep in losses:
            torch.manual_seed(seed)
            embedding, head = make_pair(keep)
            with torch.no_grad():
                logits = head(embedding(inputs))
            losses[keep].append(F.cross_entropy(logits, next_tokens).item())
            predicts[keep].append((logits.argmax(1) == inputs).float().mean().item())
    mean = {keep: sum(values) / len(values) for keep, values in losses.items()}
    assert abs(mean["head"] - math.log(V)) < 0.05  # the blog's direction starts at ln V
    assert mean["embedding"] > 20 * math.log(V)
    assert mean[None] > mean["head"]
    assert set(predicts["head"]) == set(predicts["embedding"]) == {1.0}


@pytest.mark.parametrize("operation", list(sharing_cases(Tiny)))
def test_section_7_every_row_of_the_table(operation):
    make_model, expected = sharing_cases(Tiny)[operation]
    model = seeded(make_model)
    pair = ("head.weight", "flat") if expected == "view" else ("embedding.weight", "head.weight")
    params = dict(model.named_parameters(remove_duplicate=False))
    listed = any(set(pair) <= set(group) for group in tied_groups(model))
    assert sharing_kind(model, pair) == expected
    assert (params[pair[0]] is params[pair[1]]) == listed == (expected == "tie")
    assert count_parameters(model).unique == (70 if expected == "separate" else 40)


def test_the_table_can_fail():
    """A model whose 'tie' is two matrices gives another row than the table expects."""
    make_model, expected = sharing_cases(lambda tied: Tiny(tied=False))["embedding.weight = "
                                                                        "head.weight"]
    assert expected == "tie" and sharing_kind(make_model()) == "separate"


def test_section_6a_the_loads_and_assert_tied_on_an_alias():
    source = seeded(Tiny)
    for state, assign, kind in ((checkpoint_of(source), False, "tie"),
                                (source.state_dict(), True, "alias"),
                                (checkpoint_of(source), True, "alias")):
        model = Tiny()
        with no_warnings():
            model.load_state_dict(state, assign=assign)
        assert sharing_kind(model) == kind and (tied_groups(model) == TIED) == (kind == "tie")
    with pytest.raises(AssertionError, match="an alias, not a tie"):
        assert_tied(model, "embedding.weight", "head.weight")
    assert_tied(source, "embedding.weight", "head.weight")


def test_section_6c_the_alias_is_stepped_twice():
    tied_change, _ = first_adam_step(seeded(Tiny))
    alias_change, alias_held = first_adam_step(seeded(data_alias_model))
    assert torch.all(torch.round(tied_change / 0.01) == 1)
    assert set(torch.round(alias_change / 0.01).int().unique().tolist()) == {0, 2}
    assert alias_held == 3


OPTIMIZERS = {
    "SGD": (lambda p: torch.optim.SGD(p, lr=0.1), True),
    "SGD + momentum": (lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9), True),
    "SGD + Nesterov": (lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True), True),
    "SGD + dampening": (lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, dampening=0.5), True),
    "SGD + weight decay": (lambda p: torch.optim.SGD(p, lr=0.1, weight_decay=0.01), False),
    "Adam": (lambda p: torch.optim.Adam(p, lr=0.01), False),
    "AdamW": (lambda p: torch.optim.AdamW(p, lr=0.01), False),
}


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_section_6c_which_optimizers_train_an_alias_like_the_tie(name):
    make_optimizer, alike = OPTIMIZERS[name]
    tied_after, _ = train_steps(seeded(Tiny), make_optimizer)
    alias_after, _ = train_steps(seeded(data_alias_model), make_optimizer)
    difference = (alias_after - tied_after).abs().max().item()
    assert difference < 1e-5 if alike else difference > 1e-3


def test_section_6c_adamw_decays_an_alias_twice():
    def decay_factor(model):
        optimizer = torch.optim.AdamW(model.parameters(), lr=0.1, weight_decay=0.5)
        for param in model.parameters():
            param.grad = torch.zeros_like(param)
        before = model.head.weight.detach().clone()
        optimizer.step()
        return ((model.head.weight.detach() * before).sum() / (before * before).sum()).item()

    assert abs(decay_factor(seeded(Tiny)) - 0.95) < 1e-6
    assert abs(decay_factor(seeded(data_alias_model)) - 0.95**2) < 1e-6


def test_section_6c_clipping_separates_an_alias_from_the_tie_under_sgd():
    sgd = OPTIMIZERS["SGD"][0]
    tied, tied_norms = train_steps(seeded(Tiny), sgd, max_norm=0.1)
    alias, alias_norms = train_steps(seeded(data_alias_model), sgd, max_norm=0.1)
    assert tied_norms[0] > 0.1 and abs(tied_norms[0] - alias_norms[0]) > 1e-3
    assert (alias - tied).abs().max().item() > 1e-3
    tied, tied_norms = train_steps(seeded(Tiny), sgd, max_norm=10.0)
    alias, alias_norms = train_steps(seeded(data_alias_model), sgd, max_norm=10.0)
    assert max(tied_norms + alias_norms) < 10.0 and (alias - tied).abs().max().item() < 1e-5


def test_section_6e_the_meta_device():
    with no_warnings():
        with torch.device("meta"):
            untied_meta, tied_meta = Tiny(tied=False), Tiny(tied=True)
        assert tied_groups(untied_meta) == [] and count_parameters(untied_meta).unique == 70
        assert tied_groups(tied_meta) == TIED
        materialised = tied_meta.to_empty(device="cpu")
        assert tied_groups(materialised) == [] and sharing_kind(materialised) == "separate"
        tie(materialised.embedding, materialised.head)
        assert tied_groups(materialised) == TIED
        assert tied_groups(Tiny(tied=True).to("meta")) == []
        torch.__future__.set_swap_module_params_on_conversion(True)
        try:
            assert tied_groups(Tiny(tied=True).to("meta")) == TIED
        finally:
            torch.__future__.set_swap_module_params_on_conversion(False)


def test_section_6f_a_view_shares_memory_in_another_shape():
    model = seeded(Tiny)
    W = model.head.weight
    with no_warnings():
        model.flat = nn.Parameter(W.view(-1))
        model.reshaped = nn.Parameter(W.view(3, 10))
    assert sharing_kind(model, ("head.weight", "flat")) == "view"
    assert sharing_kind(model, ("head.weight", "reshaped")) == "view"
    with torch.no_grad():
        model.flat[0] = 5.0
    assert model.head.weight[0, 0].item() == 5.0 and not torch.equal(model.reshaped, W.T)
    assert count_parameters(model).unique == 40
    assert sum(p.numel() for p in model.parameters()) == 100


def test_section_7_ties_that_survive_conversion_and_saving():
    model = seeded(Tiny)
    assert copy.deepcopy(model).to(torch.float64).embedding.weight.dtype == torch.float64
    big = Tiny(vocab=1000, dim=64, tied=True)
    restored = Tiny(vocab=1000, dim=64, tied=True)
    restored.load_state_dict(checkpoint_of(big))
    assert torch.equal(restored.head.weight, big.head.weight) and sharing_kind(restored) == "tie"


def test_section_7_audit_names_the_alias_and_passes_the_tie():
    source = seeded(Tiny)
    alias = Tiny()
    with no_warnings():
        alias.load_state_dict(checkpoint_of(source), assign=True)
    found = audit(alias, torch.optim.Adam(alias.parameters())).findings
    assert {finding.kind for finding in found} == {"alias", "alias_in_optimizer"}
    assert audit(source, torch.optim.Adam(source.parameters())).ok


def test_section_8_safetensors_save_model_and_load_model(tmp_path):
    model = seeded(Tiny)
    with pytest.raises(RuntimeError, match="share memory"):
        safetensors.torch.save_file(model.state_dict(), os.path.join(tmp_path, "tied.safetensors"))
    path = os.path.join(tmp_path, "model.safetensors")
    safetensors.torch.save_model(model, path)
    restored = Tiny()
    missing, unexpected = safetensors.torch.load_model(restored, path)
    assert torch.equal(restored.head.weight, model.head.weight) and not missing and not unexpected
    assert tied_groups(restored) == TIED


def test_section_9_a_tie_across_a_transpose_gets_the_one_matrix_gradient():
    class Transpose(nn.Module):
        def forward(self, weight):
            return weight.T

    torch.manual_seed(0)
    encoder, decoder = nn.Linear(6, 2, bias=False), nn.Linear(2, 6, bias=False)
    decoder.weight = encoder.weight
    parametrize.register_parametrization(decoder, "weight", Transpose(), unsafe=True)
    x = torch.randn(8, 6)
    F.mse_loss(nn.Sequential(encoder, decoder)(x), x).backward()
    W = encoder.weight.detach().clone().requires_grad_()
    F.mse_loss(x @ W.T @ W, x).backward()
    assert torch.allclose(encoder.weight.grad, W.grad)


def test_section_10_parameters_counts_an_alias_and_a_view_twice():
    alias = Tiny(1000, 64, tied=False)
    alias.embedding.weight.data = alias.head.weight.data
    view = Tiny(1000, 64, tied=True)
    view.flat = nn.Parameter(view.head.weight.view(-1))
    for model in (alias, view):
        assert sum(p.numel() for p in model.parameters()) == 129_000
        assert count_parameters(model).unique == 65_000
