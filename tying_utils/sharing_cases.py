"""The ways a tie survives or breaks, as cases to run: notebook 02 (parameter_sharing), section 7.

Notebook 02 shows each operation in plain PyTorch first (sections 6 and 7); its summary table
then runs again from here, each on a fresh tied model, the operations that leave a model to
inspect (not `functional_call`, which leaves the model as it was, nor the repairs), and
tests/notebook_claims/test_nb02_parameter_sharing.py checks each row.

- `no_warnings()`: run a block with every warning turned into an error (the breaks are silent);
- `sharing_kind(model, names)`: "tie", "alias" or "view" when the names share memory
  (`shared_memory_groups`), else "separate";
- `checkpoint_of(model)`: its state dict saved with `torch.save` and read back with `torch.load`;
- `sharing_cases(make_model)`: operation → (a function that builds the model the operation leaves,
  the sharing expected for its embedding and head).
"""

from __future__ import annotations

import copy
import os
import tempfile
import warnings
from collections.abc import Callable
from contextlib import contextmanager

import torch
from torch import nn

from tying_utils.tying import shared_memory_groups

__all__ = ["checkpoint_of", "no_warnings", "sharing_cases", "sharing_kind"]


@contextmanager
def no_warnings():
    """Run the block with every warning turned into an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def sharing_kind(model: nn.Module, names=("embedding.weight", "head.weight")) -> str:
    """'tie', 'alias' or 'view' when `names` share memory in `model` (shared_memory_groups), or
    'separate'."""
    for group in shared_memory_groups(model):
        if set(names) <= set(group.names):
            return group.kind
    return "separate"


def checkpoint_of(model: nn.Module) -> dict:
    """`model.state_dict()` saved with torch.save and read back with torch.load: a fresh dict."""
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.pt")
        torch.save(model.state_dict(), path)
        return torch.load(path, weights_only=True)


def sharing_cases(make_model: Callable[..., nn.Module]) -> dict[str, tuple[Callable, str]]:
    """Every operation of notebook 02's sections 6 and 7 on a model with an `embedding` and a
    `head` (`make_model(tied=True)` builds it tied, `make_model(tied=False)` untied): operation →
    (a function that returns the model the operation leaves, the sharing expected between
    `embedding.weight` and `head.weight`, or between `head.weight` and `flat` for the view)."""
    source = make_model(tied=True)
    copied_state = {key: value.clone() for key, value in source.state_dict().items()}

    def after_load(state, assign):
        model = make_model(tied=True)
        with no_warnings():
            model.load_state_dict(state, assign=assign)
        return model

    def reloaded_after_assign():  # assign=True marks the dict itself: the next load assigns too
        state = checkpoint_of(source)
        after_load(state, True)
        return after_load(state, False)

    def after_new_parameter(make_weight):
        model = make_model(tied=True)
        with no_warnings():
            model.embedding.weight = make_weight(model)
        return model

    def data_alias():
        model = make_model(tied=False)
        with no_warnings():
            model.embedding.weight.data = model.head.weight.data
        return model

    def deepcopy_of_alias():
        with no_warnings():
            return copy.deepcopy(data_alias())

    def built_tied_on_meta():
        with no_warnings(), torch.device("meta"):
            return make_model(tied=True)

    def with_flat_view():
        model = make_model(tied=True)
        with no_warnings():
            model.flat = nn.Parameter(model.head.weight.view(-1))
        return model

    return {
        "embedding.weight = head.weight": (lambda: make_model(tied=True), "tie"),
        "model.to(torch.float64)": (lambda: make_model(tied=True).to(torch.float64), "tie"),
        "copy.deepcopy(model)": (lambda: copy.deepcopy(make_model(tied=True)), "tie"),
        "load_state_dict(checkpoint)": (lambda: after_load(checkpoint_of(source), False), "tie"),
        "load_state_dict(checkpoint, assign=True)": (
            lambda: after_load(checkpoint_of(source), True), "alias"),
        "the same, then a default load of that dict": (reloaded_after_assign, "alias"),
        "load_state_dict(copies, assign=True)": (lambda: after_load(copied_state, True),
                                                 "separate"),
        "nn.Parameter(head.weight)": (
            lambda: after_new_parameter(lambda m: nn.Parameter(m.head.weight)), "alias"),
        "nn.Parameter(head.weight…clone())": (
            lambda: after_new_parameter(lambda m: nn.Parameter(m.head.weight.detach().clone())),
            "separate"),
        ".data alias": (data_alias, "alias"),
        "copy.deepcopy(.data alias)": (deepcopy_of_alias, "separate"),
        "built tied on meta": (built_tied_on_meta, "tie"),
        "model.to('meta')": (lambda: make_model(tied=True).to("meta"), "separate"),
        "built tied on meta, then to_empty()": (
            lambda: built_tied_on_meta().to_empty(device="cpu"), "separate"),
        "flat = nn.Parameter(head.weight.view(-1))": (with_flat_view, "view"),
    }
