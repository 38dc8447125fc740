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
import math
import os
import pickle
import re
import zipfile
from collections.abc import Callable, Iterator
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
    # a name the file leaves out → the stored name its own metadata gives for it (safetensors'
    # save_model writes one name per memory and records the others so)
    stored_as: dict[str, str] = field(default_factory=dict)
    _load: Callable[[str], torch.Tensor] | None = None
    # name → its raw bytes in bounded pieces (1-D uint8 tensors) and its element size; a reader
    # that does not give one is read through `tensor()`.
    _byte_chunks: Callable[[str, int], Iterator[torch.Tensor]] | None = None
    _itemsize: Callable[[str], int] | None = None  # name → bytes per element

    def itemsize(self, name: str) -> int:
        """Bytes per element of the tensor stored under `name`."""
        if self._itemsize is not None:
            return self._itemsize(name)
        return self.tensor(name).element_size()

    def tensor(self, name: str) -> torch.Tensor:
        """The tensor stored under `name`, read from disk when the format allows it."""
        return self._load(name)

    def byte_chunks(self, name: str, piece: int | None = None) -> Iterator[torch.Tensor]:
        """The bytes stored under `name`, in pieces of at most `piece` bytes (default
        `CHUNK_BYTES`), each a 1-D uint8 tensor that may be reused for the next piece."""
        piece = piece or CHUNK_BYTES
        if self._byte_chunks is not None:
            yield from self._byte_chunks(name, piece)
            return
        yield from _tensor_byte_chunks(self.tensor(name), piece)

    def first_bytes(self, name: str, count: int = 4096) -> bytes:
        """The first `count` bytes stored under `name` (fewer for a smaller tensor)."""
        return next(iter(self.byte_chunks(name, count)), torch.empty(0, dtype=torch.uint8)
                    ).numpy().tobytes()

    def same_bytes(self, a: str, b: str) -> bool:
        """Whether `a` and `b` hold the same shape and the same bytes, compared piece by piece,
        so that two large matrices never need to be in memory whole."""
        if self.shapes[a] != self.shapes[b]:
            return False
        for piece_a, piece_b in zip(self.byte_chunks(a), self.byte_chunks(b), strict=True):
            if not torch.equal(piece_a, piece_b):
                return False
        return True

    def is_constant(self, name: str, itemsize: int) -> bool:
        """Whether every element under `name` has the same bytes (all zeros, all ones, ...)."""
        first = None
        for piece in self.byte_chunks(name):
            rows = piece.view(-1, itemsize)
            first = rows[0] if first is None else first
            if not bool((rows == first).all()):
                return False
        return True


CHUNK_BYTES = 32 * 2**20  # what two large matrices are compared in: a few pieces, never whole


def _tensor_byte_chunks(tensor: torch.Tensor, piece: int) -> Iterator[torch.Tensor]:
    flat = tensor.detach().reshape(-1)
    if flat.numel() == 0:
        return
    raw = flat.contiguous().view(torch.uint8) if flat.dtype != torch.bool else flat.view(
        torch.uint8)
    for start in range(0, raw.numel(), piece):
        yield raw[start:start + piece]


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
    shapes, where, metadata = {}, {}, {}
    for name, file in files.items():
        try:
            with safe_open(str(file), framework="pt") as handle:
                for key in handle.keys():
                    shapes[key] = tuple(handle.get_slice(key).get_shape())
                    where[key] = file
                metadata.update(handle.metadata() or {})
        except (SafetensorError, OSError) as error:
            raise CheckpointError(f"cannot read {name!r} as a safetensors file "
                                  f"({_first_line(error)}).") from None

    def load(key: str) -> torch.Tensor:
        with safe_open(str(where[key]), framework="pt") as handle:
            return handle.get_tensor(key)

    spans: dict[Path, dict[str, tuple[int, int]]] = {}

    def span(key: str) -> tuple[int, int]:
        if where[key] not in spans:
            spans[where[key]] = _safetensors_spans(where[key])
        return spans[where[key]][key]

    def byte_chunks(key: str, piece: int) -> Iterator[torch.Tensor]:
        yield from _file_byte_chunks(where[key], *span(key), piece)

    def itemsize(key: str) -> int:
        start, end = span(key)
        return max((end - start) // max(math.prod(shapes[key]), 1), 1)

    stored_as = {key: value for key, value in metadata.items()
                 if key not in shapes and isinstance(value, str) and value in shapes}
    return Checkpoint(path, description, shapes, config=None, _load=load,
                      _byte_chunks=byte_chunks, _itemsize=itemsize, stored_as=stored_as)


def _safetensors_spans(file: Path) -> dict[str, tuple[int, int]]:
    """Where each tensor's bytes lie in a safetensors file (absolute offsets), from its header.

    The format is documented: 8 bytes, little-endian, the header's length; then the header, JSON,
    giving each name its `data_offsets` [begin, end) counted from the end of the header."""
    with open(file, "rb") as handle:
        length = int.from_bytes(handle.read(8), "little")
        header = json.loads(handle.read(length))
    base = 8 + length
    return {name: (base + entry["data_offsets"][0], base + entry["data_offsets"][1])
            for name, entry in header.items() if name != "__metadata__"}


def _file_byte_chunks(file: Path, start: int, end: int, piece: int) -> Iterator[torch.Tensor]:
    """Bytes [start, end) of `file` in pieces, read with os.pread into one reused buffer: unlike a
    memory map, reading does not leave the file's pages counted in this process's memory."""
    buffer = bytearray(min(piece, max(end - start, 1)))
    descriptor = os.open(file, os.O_RDONLY)
    try:
        for offset in range(start, end, piece):
            size = min(piece, end - offset)
            view = memoryview(buffer)[:size]
            _pread_into(descriptor, view, offset)
            yield torch.frombuffer(buffer, dtype=torch.uint8, count=size)
    finally:
        os.close(descriptor)


def _pread_into(descriptor: int, view: memoryview, offset: int) -> None:
    done = 0
    while done < len(view):
        read = os.preadv(descriptor, [view[done:]], offset + done)
        if read == 0:
            raise CheckpointError("a safetensors file ends before its header says it does.")
        done += read


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
        # A zip-format file (torch.save since 1.6) is memory-mapped: tensors are read when used.
        return torch.load(file, map_location="cpu", weights_only=True,
                          mmap=zipfile.is_zipfile(file))
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
