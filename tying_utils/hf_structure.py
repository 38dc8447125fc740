"""What a Hugging Face architecture ties, read from the class itself built on the meta device.

Introduced in notebook 07 (tie_lifecycle), behind `audit_checkpoint` (`checkpoint_audit.py`): a
folder's `config.json` names its class (`architectures`); built on `meta`, the class has every
Parameter's name and shape but no values, so building it costs no memory and downloads nothing.
Two names that are one Parameter there are one matrix after `from_pretrained`, and
`get_input_embeddings()` / `get_output_embeddings()` say which names are the word embedding and
the head, whatever the architecture calls them. No list of familiar names is involved.
"""

from __future__ import annotations

import copy
import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

__all__ = ["Structure", "hf_structure", "fresh_model_ties"]


@dataclass(frozen=True)
class Structure:
    """The parts of an architecture that decide ties, for one config."""

    class_name: str
    input_name: str | None  # the weight of get_input_embeddings(), None when it has none
    output_name: str | None  # the weight of get_output_embeddings(), None when it has none
    groups: tuple[tuple[str, ...], ...]  # names that are one Parameter in the built model
    names: frozenset[str]  # every parameter and buffer name (every name of a shared one)
    shapes: dict  # name → shape
    rename: Callable[[str], str] = str  # a file's key → the name from_pretrained loads it as

    def group_of(self, name: str) -> tuple[str, ...]:
        return next((group for group in self.groups if name in group), (name,))

    @property
    def ties_word_embeddings(self) -> bool:
        """Whether the built model holds its input and output embedding as one Parameter."""
        return (None not in (self.input_name, self.output_name)
                and self.output_name in self.group_of(self.input_name))


def hf_structure(config: dict, tie_word_embeddings: bool | None = None, folder=None
                 ) -> tuple[Structure | None, str]:
    """(the structure of the class `config` names, "") or (None, why it could not be built).

    `tie_word_embeddings` overrides the config's flag (in the config and its sub-configs), to ask
    what the architecture would tie if the flag said so. With the `folder` that holds config.json,
    the config is read by the class's own `from_pretrained` (which decodes what transformers
    encodes in JSON, such as infinity) rather than from the plain JSON.
    """
    try:
        import transformers
    except ImportError:
        return None, "transformers is not installed"
    names = config.get("architectures")
    if not isinstance(names, list) or not names or not isinstance(names[0], str):
        return None, "config.json names no architecture"
    model_class = getattr(transformers, names[0], None)
    if not (isinstance(model_class, type) and issubclass(model_class, nn.Module)):
        return None, f"transformers {transformers.__version__} has no class {names[0]}"
    try:
        model = _build_on_meta(transformers, model_class, config, tie_word_embeddings, folder)
    except Exception as error:  # a class can refuse a config in many ways; say which, go on
        line = str(error).strip().splitlines()[0][:120] if str(error).strip() else ""
        return None, f"{names[0]} could not be built from config.json ({type(error).__name__}" \
                     f"{': ' + line if line else ''})"
    return _structure(model, names[0]), ""


def _build_on_meta(transformers, model_class, config: dict, tie_word_embeddings, folder):
    quiet = transformers.logging.get_verbosity()
    transformers.logging.set_verbosity_error()
    logging.disable(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            settings = (model_class.config_class.from_pretrained(str(folder)).to_dict()
                        if folder is not None else copy.deepcopy(config))
            if tie_word_embeddings is not None:
                _set_everywhere(settings, "tie_word_embeddings", tie_word_embeddings)
            config_object = model_class.config_class.from_dict(settings)
            with torch.device("meta"):
                return model_class(config_object)
    finally:
        logging.disable(logging.NOTSET)
        transformers.logging.set_verbosity(quiet)


def _set_everywhere(settings: dict, key: str, value) -> None:
    """Set `key` in a config dict and in each sub-config dict that has it (text_config, ...)."""
    settings[key] = value
    for inner in settings.values():
        if isinstance(inner, dict) and key in inner:
            _set_everywhere(inner, key, value)


def _structure(model: nn.Module, class_name: str) -> Structure:
    by_identity: dict[int, list[str]] = {}
    shapes = {}
    for name, param in model.named_parameters(remove_duplicate=False):
        by_identity.setdefault(id(param), []).append(name)
        shapes[name] = tuple(param.shape)
    groups = tuple(tuple(names) for names in by_identity.values() if len(names) > 1)
    paths: dict[int, str] = {}
    for path, module in model.named_modules(remove_duplicate=False):
        paths.setdefault(id(module), path)

    def weight_name(getter: str) -> str | None:
        try:
            module = getattr(model, getter)()
        except (AttributeError, NotImplementedError, TypeError):
            return None
        if not isinstance(module, nn.Module) or id(module) not in paths:
            return None
        own = dict(module.named_parameters(recurse=False))
        if not isinstance(own.get("weight"), nn.Parameter):
            return None
        name = f"{paths[id(module)]}.weight" if paths[id(module)] else "weight"
        return name if name in shapes else None

    buffers = {name for name, _ in model.named_buffers(remove_duplicate=False)}
    return Structure(class_name, weight_name("get_input_embeddings"),
                     weight_name("get_output_embeddings"), groups,
                     frozenset(shapes) | frozenset(buffers), shapes, _renamer(model))


def _renamer(model: nn.Module) -> Callable[[str], str]:
    """How from_pretrained renames a file's keys for this class: transformers 5 saves some
    architectures under their original checkpoint names (GPT-NeoX's head as `embed_out`) and
    renames them at load, with the conversion mapping it also hands to peft. Where this
    transformers has none, keys are taken as they are."""
    try:
        from transformers.conversion_mapping import get_model_conversion_mapping
        from transformers.core_model_loading import (
            WeightConverter,
            WeightRenaming,
            rename_source_key,
        )
        transforms = get_model_conversion_mapping(model)
    except Exception:  # an older or newer transformers without this mapping
        return str
    renamings = [t for t in transforms if isinstance(t, WeightRenaming)]
    converters = [t for t in transforms if isinstance(t, WeightConverter)]
    meta_state = model.state_dict()
    prefix = getattr(model, "base_model_prefix", None) or None

    def rename(key: str) -> str:
        try:
            return rename_source_key(key, renamings, converters, prefix, meta_state)[0]
        except Exception:  # a key a transform cannot place: as it is
            return key

    return rename


def fresh_model_ties(model: nn.Module) -> bool | None:
    """Whether `type(model)` built afresh from a copy of `model.config`, on meta, holds its input
    and output embeddings as one Parameter (None: it cannot be built so). What a model should
    hold according to its class and config, whatever has happened to `model` since."""
    config = getattr(model, "config", None)
    if config is None:
        return None
    try:
        import transformers

        quiet = transformers.logging.get_verbosity()
        transformers.logging.set_verbosity_error()
        try:
            with warnings.catch_warnings(), torch.device("meta"):
                warnings.simplefilter("ignore")
                fresh = type(model)(copy.deepcopy(config))
        finally:
            transformers.logging.set_verbosity(quiet)
        pair = [dict(m.named_parameters(recurse=False)).get("weight")
                for m in (fresh.get_input_embeddings(), fresh.get_output_embeddings())]
    except Exception:  # not a class that builds from its config alone
        return None
    return pair[0] is not None and pair[0] is pair[1]
