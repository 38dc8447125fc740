"""Tie, untie and inspect shared weights.

Introduced in notebook 02 (parameter_sharing); used by every later notebook and by `models.py`.

Weight tying makes the input embedding `nn.Embedding(V, d)` and the output layer `nn.Linear(d, V)`
use one matrix. Both store it as a `(V, d)` tensor, so tying is one assignment:
`embedding.weight = head.weight`. This module wraps that assignment with checks, undoes it, and
finds every tie in a model, including the ones that tools based on object identity miss.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

import torch
from torch import nn

__all__ = ["tie", "untie", "tied_groups", "assert_tied", "count_parameters", "ParameterCount"]


def tie(embedding: nn.Embedding, head: nn.Linear) -> nn.Parameter:
    """Make `embedding.weight` and `head.weight` one Parameter and return it.

    The head's initialisation survives, as in the blog this course starts from
    (`self.embedding.weight = self.head.weight`). It matters: `nn.Linear` draws its weight from
    U(-1/sqrt(d), 1/sqrt(d)), so a logit (a dot product of two rows) starts near 0 and the first
    softmax is close to uniform. `nn.Embedding` draws N(0, 1), whose rows have squared norm about d;
    keeping that matrix instead would start the model with large, confident, mostly wrong logits.
    Notebook 02 measures the difference in the initial loss.
    """
    if not isinstance(embedding, nn.Embedding) or not isinstance(head, nn.Linear):
        raise ValueError(
            f"tie() needs an nn.Embedding, then an nn.Linear, got {type(embedding).__name__} "
            f"and {type(head).__name__}."
        )
    emb_shape, head_shape = tuple(embedding.weight.shape), tuple(head.weight.shape)
    if emb_shape != head_shape:
        vocab, dim = emb_shape
        raise ValueError(
            f"cannot tie Embedding{emb_shape} (weight {_shape(emb_shape)}) with "
            f"Linear({head.in_features}, {head.out_features}) (weight {_shape(head_shape)}): "
            f"an Embedding({vocab}, {dim}) ties only with a Linear({dim}, {vocab})."
        )
    if embedding.weight.dtype != head.weight.dtype or embedding.weight.device != head.weight.device:
        raise ValueError(
            f"cannot tie an embedding of {embedding.weight.dtype} on {embedding.weight.device} "
            f"with "
            f"a head of {head.weight.dtype} on {head.weight.device}: move both to one dtype and "
            "device first."
        )
    embedding.weight = head.weight
    return head.weight


def untie(module: nn.Module, name: str = "weight") -> nn.Parameter:
    """Give `module` its own copy of the parameter `name` again and return the new Parameter.

    `name` may be dotted (`untie(model, "embedding.weight")`). The copy starts with the shared
    values; from then on the two names train separately. An optimizer built before `untie` still
    holds the old Parameter: build a new one.
    """
    _require_module(module, "untie")
    owner, attr = _resolve(module, name)
    old = getattr(owner, attr)
    new = nn.Parameter(old.detach().clone(), requires_grad=old.requires_grad)
    setattr(owner, attr, new)
    return new


def tied_groups(model: nn.Module) -> list[list[str]]:
    """Every group of two or more parameter names that hold the same numbers, sorted.

    Two names are in one group when they are the same Parameter object *or* views of the same
    memory: same storage, same first element, and the same elements reached (a transpose counts).
    Identity alone misses ties made with `.data` or by wrapping one tensor in two `nn.Parameter`s.
    """
    _require_module(model, "tied_groups")
    groups: dict[tuple, list[str]] = {}
    for name, param in model.named_parameters(remove_duplicate=False):
        if param.numel() == 0:
            continue
        groups.setdefault(_memory_key(param), []).append(name)
    return sorted(sorted(names) for names in groups.values() if len(names) > 1)


def assert_tied(model: nn.Module, *names: str) -> None:
    """Raise `AssertionError` unless all `names` (two or more) share one matrix in `model`."""
    _require_module(model, "assert_tied")
    if len(names) < 2:
        raise ValueError(f"assert_tied() needs at least two parameter names, got {len(names)}.")
    params = dict(model.named_parameters(remove_duplicate=False))
    for name in names:
        if name not in params:
            raise ValueError(_unknown_name_message(name, params))
    keys = {name: _memory_key(params[name]) for name in names}
    if len(set(keys.values())) > 1:
        found = tied_groups(model)
        detail = "; ".join(", ".join(group) for group in found) if found else "none"
        raise AssertionError(
            f"{' and '.join(names)} are not tied: they live in {len(set(keys.values()))} "
            f"different places in memory (tied groups in this model: {detail})."
        )


@dataclass(frozen=True)
class ParameterCount:
    """Three honest ways to count a model's parameters (see notebook 02)."""

    unique: int  # numbers the model really holds: each shared matrix counted once
    per_name: int  # numbers summed over every parameter name, shared matrices counted per name
    state_dict_entries: int  # keys a checkpoint holds, shared ones included

    @property
    def saved_by_tying(self) -> int:
        """How many numbers sharing saves compared with giving every name its own matrix."""
        return self.per_name - self.unique

    def __str__(self) -> str:
        return (
            f"{self.unique:,} unique parameters ({self.per_name:,} counted per name, "
            f"{self.saved_by_tying:,} saved by tying; {self.state_dict_entries} state_dict entries)"
        )


def count_parameters(model: nn.Module) -> ParameterCount:
    """Count `model`'s parameters once per matrix, once per name, and its state_dict keys.

    `sum(p.numel() for p in model.parameters())` deduplicates by object identity only, so it
    counts a `.data` alias twice; `unique` here deduplicates by memory.
    """
    _require_module(model, "count_parameters")
    seen: dict[tuple, int] = {}
    per_name = 0
    for _, param in model.named_parameters(remove_duplicate=False):
        per_name += param.numel()
        seen[_memory_key(param)] = param.numel()
    return ParameterCount(
        unique=sum(seen.values()),
        per_name=per_name,
        state_dict_entries=len(model.state_dict()),
    )


def _memory_key(tensor: torch.Tensor) -> tuple:
    """What identifies the memory a tensor reads: storage, first element, and the set of
    (size, stride) pairs (a transpose permutes them but reads the same elements)."""
    layout = tuple(sorted((n, s) for n, s in zip(tensor.shape, tensor.stride()) if n > 1))
    return (tensor.untyped_storage().data_ptr(), tensor.storage_offset(), layout)


def _require_module(model, function: str) -> None:
    if not isinstance(model, nn.Module):
        raise ValueError(f"{function}() needs an nn.Module, got {type(model).__name__}.")


def _resolve(module: nn.Module, name: str) -> tuple[nn.Module, str]:
    params = dict(module.named_parameters(remove_duplicate=False))
    if name not in params:
        raise ValueError(_unknown_name_message(name, params))
    owner_path, _, attr = name.rpartition(".")
    return (module.get_submodule(owner_path) if owner_path else module), attr


def _unknown_name_message(name, params: dict) -> str:
    if not params:
        return f"no parameter named {name!r}: this model has no parameters."
    close = difflib.get_close_matches(name, params, n=1) if isinstance(name, str) else []
    hint = f" Did you mean {close[0]!r}?" if close else ""
    known = ", ".join(list(params)[:8]) + (", …" if len(params) > 8 else "")
    return f"no parameter named {name!r} in this model (it has: {known}).{hint}"


def _shape(shape: tuple) -> str:
    return "×".join(str(n) for n in shape)
