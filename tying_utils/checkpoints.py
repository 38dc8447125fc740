"""Read a checkpoint's tensor names, shapes and config without building its model.

Introduced in notebook 07 (tie_lifecycle), behind `audit_checkpoint` in `audit.py` and
`python -m tying_utils audit PATH`. Three kinds of input:

- a `torch.save` state dict (`.pt`, `.pth`, `.bin`), read with `torch.load(weights_only=True)`,
  which runs no pickled code; `torch.save` keeps shared memory shared, so a tie is stored once;
- a `.safetensors` file, whose header lists names and shapes (safetensors never shares memory
  between names: a tied model saved with `save_model` simply lacks one of the two names);
- a Hugging Face model folder: `config.json` plus `model.safetensors` or `pytorch_model.bin`, or
  an `*.index.json` that maps names to shard files.

Anything else raises `CheckpointError` (a `ValueError`) with one sentence saying what was wrong.
"""

from __future__ import annotations

import json
import pickle
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open

from .tying import shared_tensor_groups

__all__ = ["Checkpoint", "CheckpointError", "read_checkpoint"]

TORCH_SUFFIXES = (".pt", ".pth", ".bin")
# A Hugging Face folder's weights, in the order transformers looks for them.
HF_WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                   "pytorch_model.bin.index.json")
# Where a training script often nests the state dict: torch.save({"model": ..., "epoch": 3}).
NESTED_KEYS = ("state_dict", "model_state_dict", "model", "module")


class CheckpointError(ValueError):
    """A path that is not a checkpoint this module can read; the message is one sentence."""


@dataclass
class Checkpoint:
    """What a checkpoint holds: its tensors' names and shapes, its config, and how to load one."""

    path: Path
    description: str  # e.g. "Hugging Face folder: config.json, model.safetensors"
    shapes: dict[str, tuple[int, ...]]
    config: dict | None  # config.json of a Hugging Face folder, else None
    shared: list[list[str]] = field(default_factory=list)  # names stored once, sharing memory
    _load: Callable[[str], torch.Tensor] | None = None

    def tensor(self, name: str) -> torch.Tensor:
        """The tensor stored under `name`, read from disk when the format allows it."""
        return self._load(name)


def read_checkpoint(path) -> Checkpoint:
    """Open a `.pt`/`.pth`/`.bin` state dict, a `.safetensors` file or a Hugging Face folder."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{str(path)!r} does not exist: give a .pt, .bin or .safetensors "
                              f"file, or a Hugging Face model folder.")
    if path.is_dir():
        return _read_folder(path)
    if path.suffix == ".safetensors":
        return _read_safetensors({str(path): path}, path, "safetensors file")
    if path.suffix in TORCH_SUFFIXES:
        return _read_torch({str(path): path}, path, "torch.save file")
    raise CheckpointError(f"{str(path)!r} is not a checkpoint file this command reads: give a "
                          f".pt, .pth, .bin or .safetensors file, or a Hugging Face model folder.")


# --- Hugging Face folders ------------------------------------------------------------------------


def _read_folder(folder: Path) -> Checkpoint:
    weights = next((folder / name for name in HF_WEIGHT_FILES if (folder / name).is_file()), None)
    if weights is None:
        what = "is an empty folder" if not any(folder.iterdir()) else "holds no model weights"
        raise CheckpointError(f"{str(folder)!r} {what}: a Hugging Face model folder needs "
                              f"model.safetensors or pytorch_model.bin (or its .index.json).")
    config = _read_config(folder / "config.json")
    files = {weights.name: weights}
    if weights.name.endswith(".index.json"):
        files = _shards(weights)
    listed = ", ".join(["config.json"] * (config is not None) + [weights.name])
    shards = f" ({len(files)} shards)" if weights.name.endswith(".index.json") else ""
    description = f"Hugging Face folder: {listed}{shards}"
    read = _read_safetensors if ".safetensors" in weights.name else _read_torch
    checkpoint = read(files, folder, description)
    checkpoint.config = config
    return checkpoint


def _read_config(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CheckpointError(f"cannot read {str(path)!r} as JSON "
                              f"({_first_line(error)}).") from None
    if not isinstance(config, dict):
        raise CheckpointError(f"{str(path)!r} is not a model config: it holds no JSON object.")
    return config


def _shards(index: Path) -> dict[str, Path]:
    """The shard files an `*.index.json` names (its `weight_map`: tensor name → file name)."""
    try:
        weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
        names = sorted(set(weight_map.values()))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError,
            AttributeError) as error:
        raise CheckpointError(f"cannot read {str(index)!r} as a shard index with a weight_map "
                              f"({_first_line(error)}).") from None
    missing = [name for name in names if not (index.parent / name).is_file()]
    if missing:
        raise CheckpointError(f"{str(index)!r} names the shard {missing[0]!r}, which is not in "
                              f"the folder.")
    return {name: index.parent / name for name in names}


# --- safetensors files: names and shapes from the header, tensors read one at a time -------------


def _read_safetensors(files: dict[str, Path], path: Path, description: str) -> Checkpoint:
    shapes, where = {}, {}
    for name, file in files.items():
        try:
            with safe_open(str(file), framework="pt") as handle:
                for key in handle.keys():
                    shapes[key] = tuple(handle.get_slice(key).get_shape())
                    where[key] = file
        except (SafetensorError, OSError) as error:
            raise CheckpointError(f"cannot read {name!r} as a safetensors file "
                                  f"({_first_line(error)}).") from None

    def load(key: str) -> torch.Tensor:
        with safe_open(str(where[key]), framework="pt") as handle:
            return handle.get_tensor(key)

    return Checkpoint(path, description, shapes, config=None, _load=load)


# --- torch.save files: loaded whole, with weights_only=True ------------------------------------


def _read_torch(files: dict[str, Path], path: Path, description: str) -> Checkpoint:
    tensors: dict[str, torch.Tensor] = {}
    shared: list[list[str]] = []
    for name, file in files.items():
        state = _state_dict(_torch_load(file, name), name)
        shared += shared_tensor_groups(state)  # torch.save keeps shared memory shared
        tensors.update(state)
    shapes = {key: tuple(tensor.shape) for key, tensor in tensors.items()}
    return Checkpoint(path, description, shapes, config=None, shared=shared,
                      _load=tensors.__getitem__)


def _torch_load(file: Path, name: str):
    try:
        return torch.load(file, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        if "Unsupported global" in str(error):
            raise CheckpointError(
                f"{name!r} holds pickled Python objects that torch.load(weights_only=True) "
                f"refuses to run (a whole model, not a state dict?); save model.state_dict() "
                f"instead, or load it yourself only if you trust where it came from."
            ) from None
        reason = str(error).partition("WeightsUnpickler error:")[2] or str(error)
        raise CheckpointError(f"{name!r} is not a PyTorch checkpoint (torch.load: "
                              f"{_first_line(reason)}).") from None
    except OSError:
        raise
    except Exception as error:  # torch.load reports a damaged or foreign file in many ways
        raise CheckpointError(f"{name!r} is not a PyTorch checkpoint (torch.load: "
                              f"{type(error).__name__}: {_first_line(error)}).") from None


def _state_dict(loaded, name: str) -> dict[str, torch.Tensor]:
    """The name → tensor mapping in what torch.load returned, also when nested one level down."""
    candidates = [loaded] + [loaded.get(key) for key in NESTED_KEYS
                             if isinstance(loaded, dict)]
    for candidate in candidates:
        if isinstance(candidate, dict):
            tensors = {key: value for key, value in candidate.items()
                       if isinstance(key, str) and isinstance(value, torch.Tensor)}
            if tensors:
                return tensors
    raise CheckpointError(f"{name!r} holds no state dict (a mapping of names to tensors, as "
                          f"torch.save(model.state_dict(), path) writes).")


def _first_line(error) -> str:
    """An error's message (or any text) cut to one clean line: no terminal colour codes."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(error)).strip()
    line = text.splitlines()[0].strip() if text else type(error).__name__
    return line if len(line) <= 160 else line[:157] + "…"
