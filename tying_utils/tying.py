"""Tie, untie and inspect shared weights.

Introduced in notebook 02 (parameter_sharing); notebook 07 (tie_lifecycle) uses
`shared_memory_groups` to tell a tie from an alias, and `audit.py` builds on this module. Used by
every later notebook and by `toy_models.py`.

Weight tying makes the input embedding `nn.Embedding(V, d)` and the output layer `nn.Linear(d, V)`
use one matrix. Both store it as a `(V, d)` tensor, so tying is one assignment:
`embedding.weight = head.weight`. This module wraps that assignment with checks, undoes it, and
finds every way two parameter names can share memory. Three words, used throughout the course:

- **tie**: one `nn.Parameter` under several names. The optimizer holds it once, its gradient is
  the sum of every use, and `deepcopy`, pickle and `functional_call` keep it one matrix.
- **alias**: two or more Parameter objects over the same elements (a `.data` assignment,
  `nn.Parameter(head.weight)`, `load_state_dict(..., assign=True)` of a tied state dict). They read
  and write one memory, but the optimizer holds and steps each of them, so Adam and weight decay
  act twice, and `deepcopy`, pickle and `functional_call` treat them as separate matrices.
- **view**: Parameters over overlapping memory with a different shape or layout (`W.view(-1)`, a
  slice, a transpose). Writing through one changes the other, but each is stepped and saved alone.

On the `meta` device tensors have shapes but no memory (every `data_ptr()` is 0), so there only
identity can say whether two names are tied.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils import parametrize

__all__ = ["tie", "untie", "tied_groups", "shared_memory_groups", "shared_tensor_groups",
           "SharedGroup", "assert_tied", "count_parameters", "ParameterCount"]


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
    for role, module in (("embedding", embedding), ("head", head)):
        _require_plain_weight(role, module)
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


def _require_plain_weight(role: str, module: nn.Module) -> None:
    """Refuse, in one sentence, a `weight` that is not a Parameter tie() could share.

    A lazy module has no shape yet, a parametrization (notebook 02 §9) computes `weight` from
    another tensor on every use, and the old `torch.nn.utils.weight_norm` computes it from
    `weight_g` and `weight_v`: in each case there is no Parameter called `weight` to share.
    """
    kind = type(module).__name__
    if nn.parameter.is_lazy(module.weight):
        raise ValueError(
            f"cannot tie: the {role} is a {kind} whose weight has no shape until its first "
            f"forward pass; run one batch through it (or build it with its sizes) before tying."
        )
    if parametrize.is_parametrized(module, "weight"):
        steps = ", ".join(type(p).__name__ for p in module.parametrizations["weight"])
        raise ValueError(
            f"cannot tie: the {role}'s weight is computed by a parametrization ({steps}), so it "
            f"is not a Parameter that two modules can share; tie before registering the "
            f"parametrization, or remove it with "
            f"torch.nn.utils.parametrize.remove_parametrizations({role}, 'weight')."
        )
    if not isinstance(module.weight, nn.Parameter):
        own = ", ".join(name for name, _ in module.named_parameters() if "weight" in name)
        raise ValueError(
            f"cannot tie: the {role}'s weight is not a Parameter but is computed from its "
            f"Parameters ({own}), as torch.nn.utils.weight_norm does; tie before applying "
            f"weight norm, or remove it first (torch.nn.utils.remove_weight_norm({role}))."
        )


def untie(module: nn.Module, name: str = "weight") -> nn.Parameter:
    """Give `module` its own copy of the parameter `name` again and return the new Parameter.

    `name` may be dotted (`untie(model, "embedding.weight")`). The copy starts with the shared
    values; from then on the two names train separately. An optimizer built before `untie` still
    holds the old Parameter: build a new one. A model that records its tie in a `tied` flag (the
    package's EmbedHead, RecurrentLM, TransformerLM) gets `tied = False`, so that `audit` holds
    it to what it now is.
    """
    _require_module(module, "untie")
    owner, attr = _resolve(module, name)
    old = getattr(owner, attr)
    new = nn.Parameter(old.detach().clone(), requires_grad=old.requires_grad)
    setattr(owner, attr, new)
    if isinstance(getattr(module, "tied", None), bool):
        module.tied = False
    return new


def tied_groups(model: nn.Module) -> list[list[str]]:
    """Every group of two or more parameter names that are ONE Parameter object, sorted.

    That is a tie: `embedding.weight = head.weight`, or a parametrization whose `original` is
    another module's Parameter (notebook 02 §9). Two Parameters that merely share memory (a `.data`
    alias, a view) are not a tie; `shared_memory_groups` finds those and says which kind they are.
    Identity works on every device, `meta` included.
    """
    _require_module(model, "tied_groups")
    by_object: dict[int, list[str]] = {}
    for name, param in model.named_parameters(remove_duplicate=False):
        by_object.setdefault(id(param), []).append(name)
    return sorted(sorted(names) for names in by_object.values() if len(names) > 1)


TIE, ALIAS, VIEW = "tie", "alias", "view"
_MEANINGS = {
    TIE: "one Parameter under several names: the optimizer steps it once and its gradient is the "
         "sum of every use.",
    ALIAS: "separate Parameters over the same memory: an optimizer holds and steps each, so Adam "
           "and weight decay act more than once, and deepcopy, pickle and functional_call "
           "separate them; make them one Parameter with tie() or one assignment.",
    VIEW: "separate Parameters over overlapping memory with different shapes or layouts (a view, "
          "a slice or a transpose): writing through one changes the others, yet each is stepped "
          "and saved on its own.",
}


@dataclass(frozen=True)
class SharedGroup:
    """Names whose tensors share memory, and what kind of sharing it is (see the module docstring).

    `kind` is "tie" (one Parameter), "alias" (several Parameters over the same elements; a group
    that mixes a tie and an alias is an alias) or "view" (overlapping, not identical, memory).
    """

    names: tuple[str, ...]
    kind: str
    meaning: str
    parameters: int  # how many distinct Parameter objects hold these names

    def __str__(self) -> str:
        return f"{self.kind}: {', '.join(self.names)} ({self.meaning})"


def shared_memory_groups(model: nn.Module) -> list[SharedGroup]:
    """Every group of two or more parameter names whose tensors share memory, sorted by name.

    Names are grouped when they are one Parameter or when their tensors reach common elements of
    one storage (compared by storage, offset and extent, so views and slices count, disjoint
    slices do not). On `meta` there is no memory to compare: only identity groups names there.
    """
    _require_module(model, "shared_memory_groups")
    found = []
    for group in _memory_groups(model.named_parameters(remove_duplicate=False)):
        if len(group) < 2:
            continue
        tensors = _distinct([tensor for _, tensor in group])
        kind = TIE if len(tensors) == 1 else ALIAS if _same_layout(tensors) else VIEW
        names = tuple(sorted(name for name, _ in group))
        found.append(SharedGroup(names, kind, _MEANINGS[kind], len(tensors)))
    return sorted(found, key=lambda group: group.names)


def shared_tensor_groups(tensors: Mapping[str, torch.Tensor]) -> list[list[str]]:
    """Groups of keys of a state dict (or any name → tensor mapping) whose tensors share memory.

    This is what `safetensors.torch.save_file` refuses, and how `torch.save` stores a tie: once.
    """
    groups = _memory_groups(tensors.items())
    return sorted(sorted(name for name, _ in group) for group in groups if len(group) > 1)


def assert_tied(model: nn.Module, *names: str) -> None:
    """Raise `AssertionError` unless all `names` (two or more) are ONE Parameter in `model`.

    Two Parameters over one memory (an alias) fail, with a message that says why that is not a tie.
    """
    _require_module(model, "assert_tied")
    if len(names) < 2:
        raise ValueError(f"assert_tied() needs at least two parameter names, got {len(names)}.")
    for i, name in enumerate(names):
        if name in names[:i]:
            raise ValueError(f"assert_tied() got {name!r} twice: name each parameter once, since "
                             f"any name is trivially tied to itself.")
    params = dict(model.named_parameters(remove_duplicate=False))
    for name in names:
        if name not in params:
            raise ValueError(_unknown_name_message(name, params))
    objects = _distinct([params[name] for name in names])
    if len(objects) == 1:
        return
    listed = " and ".join(names) if len(names) == 2 else ", ".join(names)
    sharing = next((group for group in shared_memory_groups(model)
                    if set(names) <= set(group.names)), None)
    if sharing is not None and sharing.kind == ALIAS:
        raise AssertionError(
            f"{listed} share memory but are {len(objects)} separate Parameters (an alias, not a "
            f"tie): an optimizer holds and steps each of them, so Adam and weight decay act "
            f"{_times(len(objects))} where a tie acts once, and deepcopy, pickle and "
            f"functional_call separate them; fix it with tie(embedding, head) or by assigning "
            f"one Parameter to both names."
        )
    if sharing is not None and sharing.kind == VIEW:
        raise AssertionError(
            f"{listed} overlap in memory with different shapes or layouts but are "
            f"{len(objects)} separate Parameters (a view, not a tie): each is stepped and saved "
            f"on its own; share one Parameter instead (for a transpose, a parametrization as in "
            f"notebook 02 §9)."
        )
    if any(param.is_meta for param in objects):
        raise AssertionError(
            f"{listed} are {len(objects)} separate Parameters on the meta device, where only "
            f"identity can show a tie (meta tensors have no memory); tie them again, e.g. after "
            f"to_empty() or .to('meta'), which give every name its own Parameter."
        )
    found = tied_groups(model)
    detail = "; ".join(", ".join(group) for group in found) if found else "none"
    places = len(_memory_groups((name, params[name]) for name in names))
    raise AssertionError(
        f"{listed} are not tied: they live in {places} different places in memory (tied "
        f"groups in this model: {detail})."
    )


@dataclass(frozen=True)
class ParameterCount:
    """Three honest ways to count a model's parameters (see notebook 02)."""

    unique: int  # numbers the model really holds: each stored element counted once
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
    """Count `model`'s parameters once per stored element, once per name, and its state_dict keys.

    `sum(p.numel() for p in model.parameters())` deduplicates by object identity only, so it
    counts a `.data` alias or a view twice; `unique` here counts each element of memory once. On
    `meta` there is no memory, and `unique` deduplicates by identity.
    """
    _require_module(model, "count_parameters")
    named = list(model.named_parameters(remove_duplicate=False))
    lazy = [name for name, param in named if nn.parameter.is_lazy(param)]
    if lazy:
        raise ValueError(f"count_parameters() cannot count {lazy[0]!r}: it belongs to a lazy "
                         f"module and has no shape until the first forward pass, so run one batch "
                         f"through the model first.")
    return ParameterCount(
        unique=sum(_unique_elements([t for _, t in group]) for group in _memory_groups(named)),
        per_name=sum(param.numel() for _, param in named),
        state_dict_entries=len(model.state_dict()),
    )


# --- memory: which tensors reach the same elements ------------------------------------------------
#
# A strided tensor reads the elements `offset + sum(i_k * stride_k)` of its storage. Its *span* is
# the byte range from its first to its last element. Two tensors can share elements only when
# they use one storage and their spans overlap; when both are dense (they read every element of
# their span, as a contiguous tensor or its transpose does), overlapping spans are enough.
# Otherwise (e.g. two column slices, whose spans interleave) we list the elements and compare.


def _memory_groups(named_tensors: Iterable[tuple[str, torch.Tensor]]
                   ) -> list[list[tuple[str, torch.Tensor]]]:
    """Partition (name, tensor) pairs: one group per object, merged where memory overlaps."""
    entries = list(named_tensors)
    parent = list(range(len(entries)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first_of_object: dict[int, int] = {}
    for i, (_, tensor) in enumerate(entries):
        parent[root(i)] = root(first_of_object.setdefault(id(tensor), i))

    spans = sorted((*span, i) for i in first_of_object.values()
                   if (span := _span(entries[i][1])) is not None)
    open_spans: list[tuple[tuple, int, int]] = []  # (storage, end, entry) still overlapping
    for storage, start, end, i in spans:
        open_spans = [(s, e, j) for s, e, j in open_spans if s == storage and e > start]
        for _, _, j in open_spans:
            if _share_elements(entries[i][1], entries[j][1]):
                parent[root(i)] = root(j)
        open_spans.append((storage, end, i))

    groups: dict[int, list[tuple[str, torch.Tensor]]] = {}
    for i, entry in enumerate(entries):
        groups.setdefault(root(i), []).append(entry)
    return list(groups.values())


def _span(tensor: torch.Tensor) -> tuple[tuple[str, int], int, int] | None:
    """(storage, first byte, end byte) of the memory `tensor` reads; None where there is none to
    compare (meta, empty, lazy, sparse or other non-strided tensors)."""
    if (nn.parameter.is_lazy(tensor) or tensor.is_meta or tensor.layout != torch.strided
            or tensor.numel() == 0):
        return None
    try:
        storage = (str(tensor.device), tensor.untyped_storage().data_ptr())
    except (RuntimeError, NotImplementedError):  # tensor subclasses without a plain storage
        return None
    size = tensor.element_size()
    start = tensor.storage_offset() * size
    return storage, start, start + _extent(tensor) * size


def _extent(tensor: torch.Tensor) -> int:
    """How many elements lie from the tensor's first element to its last, both included."""
    return 1 + sum((n - 1) * s for n, s in zip(tensor.shape, tensor.stride()))


def _is_dense(tensor: torch.Tensor) -> bool:
    """True when the tensor reads every element of its span: strides, sorted, are 1, n0, n0·n1 …"""
    expected = 1
    for stride, n in sorted((s, n) for n, s in zip(tensor.shape, tensor.stride()) if n > 1):
        if stride != expected:
            return False
        expected *= n
    return True


def _share_elements(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Whether two tensors with overlapping spans on one storage read a common element."""
    if _is_dense(a) and _is_dense(b):
        return True
    if a.element_size() != b.element_size():
        return True  # different element types over one storage: call any overlap sharing
    return bool(torch.isin(_element_offsets(a), _element_offsets(b)).any())


def _element_offsets(tensor: torch.Tensor) -> torch.Tensor:
    """The storage index of every element the tensor reads (used only for non-dense tensors)."""
    offsets = torch.tensor([tensor.storage_offset()])
    for n, s in zip(tensor.shape, tensor.stride()):
        offsets = (offsets[:, None] + torch.arange(n) * s).flatten()
    return offsets


def _same_layout(tensors: list[torch.Tensor]) -> bool:
    """Whether every tensor reads the same elements in the same shape: an alias, not a view."""
    layouts = {(_span(t), t.storage_offset(), tuple(t.shape), t.stride(), t.dtype)
               for t in tensors}
    return len(layouts) == 1 and next(iter(layouts))[0] is not None


def _unique_elements(tensors: list[torch.Tensor]) -> int:
    """How many stored elements one memory group holds, each counted once."""
    tensors = _distinct(tensors)
    if len(tensors) == 1 or _same_layout(tensors):
        return tensors[0].numel()
    if len({t.element_size() for t in tensors}) == 1 and all(_is_dense(t) for t in tensors):
        merged, end = 0, -1  # total length of the union of the spans, in bytes
        for _, start, stop in sorted(_span(t) for t in tensors):
            merged += max(0, stop - max(start, end))
            end = max(end, stop)
        return merged // tensors[0].element_size()
    return len(torch.unique(torch.cat([_element_offsets(t) for t in tensors])))


def _distinct(tensors: list[torch.Tensor]) -> list[torch.Tensor]:
    """The tensors with duplicate objects removed, in order."""
    return list({id(t): t for t in tensors}.values())


# --- small helpers --------------------------------------------------------------------------------


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
    hint = ""
    if isinstance(name, str):
        owner, dot, attr = name.rpartition(".")
        prefix = f"{owner}{dot}parametrizations.{attr}.original"
        originals = [p for p in params if p == prefix or p.startswith(prefix) and
                     p[len(prefix):].isdigit()]
        close = difflib.get_close_matches(name, params, n=1)
        if originals:
            named = " and ".join(repr(p) for p in originals)
            hint = (f" {name!r} is computed by a parametrization; "
                    f"{'its Parameter is' if len(originals) == 1 else 'its Parameters are'} "
                    f"{named}.")
        elif close:
            hint = f" Did you mean {close[0]!r}?"
    known = ", ".join(list(params)[:8]) + (", …" if len(params) > 8 else "")
    return f"no parameter named {name!r} in this model (it has: {known}).{hint}"


def _times(n: int) -> str:
    return "twice" if n == 2 else f"{n} times"


def _shape(shape: tuple) -> str:
    return "×".join(str(n) for n in shape)
