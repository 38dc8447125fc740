"""The word embedding and the head in `audit(model)`: lost ties between them, and the config's
`tie_word_embeddings` against what the model holds, seen through peft's wrappers.

Introduced in notebook 07 (tie_lifecycle), as part of `audit` (`audit.py`); `tie_word_embeddings`
also serves `audit_checkpoint`. A finding is added to the report with `report.add(kind, names,
message)`; the kinds are declared in `audit.py`.
"""

from __future__ import annotations

import torch
from torch import nn

from .hf_structure import fresh_model_ties
from .tying import SharedGroup

__all__ = ["embedding_head_pairs", "check_embedding_heads", "check_config",
           "tie_word_embeddings"]


def embedding_head_pairs(model: nn.Module) -> list[tuple[str, str]]:
    """Parameter names (embedding weight, head weight) of the pairs that could be tied.

    Each `nn.Embedding` with each `nn.Linear` whose weight has the embedding's shape, and the
    model's `get_input_embeddings()` / `get_output_embeddings()` when it has them (Hugging Face).
    """
    paths = _module_paths(model)
    pairs = []
    hf_pair = _hf_embeddings(model)
    if hf_pair is not None:
        pairs.append(tuple(_weight_of(module, model)[0] for module in hf_pair))
    inactive = _inactive_originals(model)
    modules = [m for m in model.modules() if id(m) not in inactive]
    for embedding in (m for m in modules if isinstance(m, nn.Embedding)):
        for head in (m for m in modules if isinstance(m, nn.Linear)):
            names = (_weight_name(embedding, paths), _weight_name(head, paths))
            if None not in names and head.weight.shape == embedding.weight.shape:
                pairs.append(names)
    return list(dict.fromkeys(pair for pair in pairs if None not in pair))


def _weight_of(module: nn.Module, model: nn.Module) -> tuple[str | None, nn.Parameter | None]:
    """(name, Parameter) of the weight `module` computes with: its own, or the one a wrapper
    forwards (peft's ModulesToSaveWrapper answers `.weight` with its active copy's weight)."""
    own = dict(module.named_parameters(recurse=False)).get("weight")
    if own is not None:
        return _weight_name(module, _module_paths(model)), own
    weight = getattr(module, "weight", None)
    if not isinstance(weight, nn.Parameter) or nn.parameter.is_lazy(weight):
        return None, None
    names = [n for n, p in model.named_parameters(remove_duplicate=False) if p is weight]
    inside = _module_paths(model).get(id(module), "") + "."
    # a Parameter reached from several modules: the name under this one, where there is one
    name = next((n for n in names if n.startswith(inside)), names[0] if names else None)
    return (name, weight) if name is not None else (None, None)


def _inactive_originals(model: nn.Module) -> set[int]:
    """id() of every module a wrapper keeps but does not compute with: the frozen original of
    peft's `modules_to_save`, while its trained copy is active. An original and a copy hold equal
    values by construction; that is not a lost tie."""
    inactive = set()
    for module in model.modules():
        original = getattr(module, "original_module", None)
        copies = getattr(module, "modules_to_save", None)
        if isinstance(original, nn.Module) and isinstance(copies, nn.ModuleDict) and len(copies) \
                and not getattr(module, "disable_adapters", False):
            inactive |= {id(m) for m in original.modules()}
    return inactive


def _module_paths(model: nn.Module) -> dict[int, str]:
    """id(module) → its dotted name in `model` (the first name, for a shared module)."""
    paths: dict[int, str] = {}
    for name, module in model.named_modules():
        paths.setdefault(id(module), name)
    return paths


def _weight_name(module: nn.Module, paths: dict[int, str]) -> str | None:
    """The parameter name of `module.weight` (None: not a plain Parameter of the model)."""
    weight = dict(module.named_parameters(recurse=False)).get("weight")
    if weight is None or nn.parameter.is_lazy(weight) or id(module) not in paths:
        return None
    return f"{paths[id(module)]}.weight" if paths[id(module)] else "weight"


def _hf_embeddings(model: nn.Module):
    """(input embedding module, output embedding module) of a Hugging Face model, else None."""
    try:
        pair = (model.get_input_embeddings(), model.get_output_embeddings())
    except (AttributeError, NotImplementedError):
        return None
    return pair if all(isinstance(m, nn.Module) for m in pair) else None


def check_embedding_heads(report, model: nn.Module, params: dict,
                           groups: list[SharedGroup]) -> None:
    """A lost tie: an embedding and a head that hold equal values in separate memory."""
    sharing = [set(group.names) for group in groups]
    for embedding, head in embedding_head_pairs(model):
        a, b = params[embedding], params[head]
        if any({embedding, head} <= names for names in sharing) or a.is_meta or b.is_meta:
            continue
        if a.shape == b.shape and torch.equal(a.detach(), b.detach()):
            report.add("lost_tie", (embedding, head),
                       f"{embedding} and {head} hold equal values in separate memory, the mark "
                       f"of a tie lost by copying (a clone, untie(), load_state_dict(..., "
                       f"assign=True) from copies); they will now train apart: tie them again "
                       f"if the model should be tied.")


def tie_word_embeddings(config) -> bool | None:
    """What a Hugging Face config (an object or a config.json dict) says about tying, or None."""
    get = config.get if isinstance(config, dict) else lambda key: getattr(config, key, None)
    value = get("tie_word_embeddings")
    if value is None and get("text_config") is not None:
        return tie_word_embeddings(get("text_config"))
    return value if isinstance(value, bool) else None


def check_config(report, model: nn.Module) -> None:
    """config.tie_word_embeddings (Hugging Face) against what the model holds."""
    says_tied = tie_word_embeddings(getattr(model, "config", None))
    modules = _hf_embeddings(model)
    if says_tied is None or modules is None:
        return
    paths = _module_paths(model)
    found = [_weight_of(module, model) for module in modules]
    pair = tuple(name or _describe_module(module, paths)
                 for (name, _), module in zip(found, modules))
    weights = [weight for _, weight in found]
    holds_tied = weights[0] is not None and weights[0] is weights[1]
    report.add("config", pair, f"config.tie_word_embeddings is {says_tied}, and "
               f"{' and '.join(pair)} {'are' if holds_tied else 'are not'} one Parameter.")
    if not says_tied and not holds_tied and _built_tied(model):
        says_tied = True  # a sub-config (an encoder-decoder's decoder) asks for the tie
    if says_tied and not holds_tied and not _class_ties(model, weights):
        shapes = ("" if weights[0] is None or weights[1] is None
                  or weights[0].shape == weights[1].shape
                  else f" (shapes {_shape(weights[0])} and {_shape(weights[1])})")
        report.add("config_untieable", pair,
                   f"config.tie_word_embeddings is True, but {type(model).__name__} does not tie "
                   f"{pair[0]} and {pair[1]}{shapes}: the flag has no effect on this "
                   f"architecture, and tie_weights() would change nothing.")
    elif says_tied and not holds_tied:
        report.add("config_mismatch", pair,
                   f"config.tie_word_embeddings is True but {pair[0]} and {pair[1]} are not "
                   f"one Parameter: the model trains and saves two matrices while its config "
                   f"promises one; if the head is meant to be the embedding, call "
                   f"model.tie_weights() before training, but if it was changed on purpose (a "
                   f"head trained apart, e.g. LoRA modules_to_save, or a quantized copy), set "
                   f"tie_word_embeddings=False instead: tie_weights() would discard it.")
    elif holds_tied and not says_tied and not _built_tied(model):
        report.add("config_mismatch", pair,
                   f"config.tie_word_embeddings is False but {pair[0]} and {pair[1]} are one "
                   f"Parameter: save_pretrained stores it once, and from_pretrained, following "
                   f"the config, then starts {pair[1]} from random values; set "
                   f"tie_word_embeddings=True, or untie them.")


def _class_ties(model: nn.Module, weights: list) -> bool:
    """Whether the model's class ties its embedding and head when its config asks: the
    transformers model inside (a wrapper such as peft's forwards to it) built afresh from its
    config on meta holds them as one Parameter. Where that cannot be tried, the shapes decide."""
    owner = next((m for m in model.modules() if hasattr(type(m), "config_class")
                  and hasattr(m, "get_output_embeddings")), None)
    verdict = fresh_model_ties(owner) if owner is not None else None
    if verdict is not None:
        return verdict
    return None in weights or weights[0].shape == weights[1].shape


def _built_tied(model: nn.Module) -> bool:
    """Whether the class, built afresh from this config, ties them after all (an
    encoder-decoder whose decoder's config asks for the tie while the outer one does not)."""
    owner = next((m for m in model.modules() if hasattr(type(m), "config_class")
                  and hasattr(m, "get_output_embeddings")), None)
    return owner is not None and fresh_model_ties(owner) is True


def _describe_module(module: nn.Module, paths: dict[int, str]) -> str:
    """A module whose weight is not a plain Parameter (a quantized layer, a LoRA wrapper)."""
    path = paths.get(id(module), "a module outside the model")
    return f"{path} ({_kind(module)}, whose weight is not a Parameter of the model)"


def _kind(module: nn.Module) -> str:
    """'an Embedding', 'a Linear' for torch.nn's own layers; the full name for others, whose short
    name may repeat torch's (peft's LoRA layer is peft.tuners.lora.layer.Linear)."""
    kind = type(module)
    name = kind.__name__ if kind.__module__.startswith("torch.nn") \
        else f"{kind.__module__}.{kind.__qualname__}"
    return f"{'an' if name[0].lower() in 'aeiou' else 'a'} {name}"


def _shape(tensor: torch.Tensor) -> str:
    return "×".join(str(n) for n in tensor.shape) or "scalar"


def check_adapters_on_ties(report, model: nn.Module, params: dict) -> None:
    """An adapter (peft's LoRA) on a layer whose base weight is tied to a name outside every
    adapted layer: merging writes the layer's update into the one shared matrix, so the other
    name (the input embedding, for a tied head) changes with it, though no adapter was put there.
    """
    adapted = {}
    for path, module in model.named_modules():
        base = getattr(module, "base_layer", None)
        if isinstance(base, nn.Module) and any(
                not name.startswith("base_layer.") for name, _ in module.named_parameters()):
            adapted[path] = module
    for path, module in adapted.items():
        weight = dict(module.base_layer.named_parameters(recurse=False)).get("weight")
        if weight is None:
            continue
        names = [name for name, param in params.items() if param is weight]
        outside = [name for name in names
                   if not any(name.startswith(f"{other}.") for other in adapted)]
        inside = [name for name in names if name not in outside]
        if outside and inside:
            report.add("adapter_on_tie", (inside[0], *outside),
                       f"{path} ({_kind(module)}) adapts {inside[0]}, which is one Parameter "
                       f"with {', '.join(outside)}: merge_and_unload() adds the adapter's "
                       f"update to that one matrix, so {', '.join(outside)} changes too; keep "
                       f"the adapter unmerged, adapt both (peft 0.21's "
                       f"LoraConfig(ensure_weight_tying=True) does), or untie the layer first if "
                       f"it is meant to change alone.")
