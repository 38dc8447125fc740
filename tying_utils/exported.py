"""Read exported model files lazily and audit them for a tied matrix: ONNX and GGUF.

Introduced in notebook 09 (export_and_deploy); `python -m tying_utils audit model.onnx` and
`audit model.gguf` run `audit_exported`. Exporting a tied model can store its matrix twice, leave
it out, or untie it, and the file alone tells which:

- ONNX: an initializer that holds the same numbers as another, or as another transposed (the
  legacy exporter's constant folding transposes the head's weight, pytorch/pytorch#108342), is a
  second copy of one matrix: a finding, with its bytes;
- GGUF: `output.weight` absent means the loader must tie it to `token_embd.weight`; present and
  equal, a tie lost by copying (a finding); present and different, an untied model.

GGUF tensors and ONNX external data (the `.onnx.data` file beside the model) are memory-mapped:
`StoredArray.values()` is a memory map of the file, and `equal_in_chunks` compares two arrays a
block of rows at a time, so such a comparison, transposed or not, takes memory for one block only.
An initializer stored inside the .onnx file itself (every legacy export) is different: `onnx.load`
parses the whole protobuf, and `values()` copies that initializer's bytes once while it is compared
(41 MB for a 20000 x 512 float32 matrix).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .audit_report import AuditReport, Finding

__all__ = ["EXPORTED_SUFFIXES", "ExportedFileError", "StoredArray", "audit_exported",
           "duplicated_initializers", "equal_in_chunks", "gguf_arrays", "onnx_initializers"]

EXPORTED_SUFFIXES = (".onnx", ".gguf")
CHUNK_ELEMENTS = 1 << 18  # numbers compared at a time (1 MiB of float32 per side)
MIN_ELEMENTS = 1024  # smaller initializers (biases, constants) are not searched for copies
EXPORTED_FINDING_KINDS = {
    "duplicate_initializer": "an ONNX initializer holding another's numbers (or its transpose)",
    "lost_tie": "GGUF output.weight stored as a copy of token_embd.weight",
    "config_mismatch": "a GGUF tie key that disagrees with the tensors",
}


class ExportedFileError(ValueError):
    """A path that is not an ONNX or GGUF file this module can read; the message is one sentence."""


@dataclass(frozen=True)
class StoredArray:
    """One tensor of an exported file: its name, shape, type and bytes, read only on demand."""

    name: str
    shape: tuple[int, ...]
    dtype: str  # a NumPy dtype name, or a GGML type name such as "Q8_0" for quantized blocks
    nbytes: int
    values: Callable[[], np.ndarray]  # read on demand (see the module's docstring)

    @property
    def numel(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))


def equal_in_chunks(a: np.ndarray, b: np.ndarray, transposed: bool = False) -> bool:
    """True when `a` equals `b` (or `b.T` when `transposed`), compared a block of rows at a time,
    so that no copy of either matrix (and no transposed copy) is made."""
    if a.dtype != b.dtype:
        return False
    if transposed:
        if a.ndim != 2 or b.shape != a.shape[::-1]:
            return False
        rows_of_b = lambda start, stop: b[:, start:stop].T
    else:
        if a.shape != b.shape:
            return False
        a = a.reshape(a.shape[0] if a.ndim else 1, -1)
        b = b.reshape(a.shape)
        rows_of_b = lambda start, stop: b[start:stop]
    step = max(1, CHUNK_ELEMENTS // max(1, a.shape[1]))
    return all(np.array_equal(a[start:start + step], rows_of_b(start, start + step))
               for start in range(0, a.shape[0], step))


# --- ONNX ----------------------------------------------------------------------------------------


def _load_onnx(path: Path):
    import onnx

    try:
        return onnx.load(str(path), load_external_data=False)
    except Exception as error:  # protobuf reports a foreign file as a DecodeError, among others
        raise ExportedFileError(f"{str(path)!r} is not an ONNX model ({_one_line(error)}).") \
            from None


def onnx_initializers(path, model=None) -> dict[str, StoredArray]:
    """The initializers of an .onnx file (or of `model`, the file already loaded), by name,
    without loading external data."""
    import onnx
    from onnx import helper, numpy_helper

    path = Path(path)
    model = _load_onnx(path) if model is None else model
    arrays = {}
    for tensor in model.graph.initializer:
        dtype = np.dtype(helper.tensor_dtype_to_np_dtype(tensor.data_type))
        shape = tuple(int(n) for n in tensor.dims)
        nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if tensor.data_location == onnx.TensorProto.EXTERNAL:
            values = _external_values(path, tensor, dtype, shape)
        elif tensor.raw_data:
            values = (lambda t=tensor, d=dtype, s=shape: np.frombuffer(t.raw_data, d).reshape(s))
        else:  # small tensors written as typed fields (float_data, int64_data, …)
            values = (lambda t=tensor: numpy_helper.to_array(t))
        arrays[tensor.name] = StoredArray(tensor.name, shape, dtype.name, nbytes, values)
    return arrays


def _external_values(path: Path, tensor, dtype, shape) -> Callable[[], np.ndarray]:
    """A memory map of an initializer kept in a separate file beside the .onnx file."""
    info = {entry.key: entry.value for entry in tensor.external_data}
    folder = path.resolve().parent
    data_file = (folder / info.get("location", "")).resolve()
    if folder not in data_file.parents or not data_file.is_file():
        raise ExportedFileError(f"{str(path)!r} keeps {tensor.name!r} in "
                                f"{info.get('location')!r}, which is not a file beside it.")
    offset = int(info.get("offset", 0))
    return lambda: np.memmap(data_file, dtype=dtype, mode="r", offset=offset, shape=shape)


def duplicated_initializers(arrays: dict[str, StoredArray]) -> list[tuple[str, str, bool]]:
    """(kept, copy, transposed) for every initializer that repeats an earlier one's numbers,
    exactly or transposed; only arrays of at least MIN_ELEMENTS numbers are searched."""
    by_size: dict[tuple[str, int], list[StoredArray]] = {}
    for array in arrays.values():
        if array.numel >= MIN_ELEMENTS:
            by_size.setdefault((array.dtype, array.numel), []).append(array)
    found, copies = [], set()
    for group in by_size.values():
        for i, kept in enumerate(group):
            for copy in group[i + 1:]:
                if kept.name in copies or copy.name in copies:
                    continue
                transposed = (len(kept.shape) == 2 and copy.shape == kept.shape[::-1]
                              and kept.shape != copy.shape)
                if copy.shape != kept.shape and not transposed:
                    continue
                if equal_in_chunks(kept.values(), copy.values(), transposed):
                    found.append((kept.name, copy.name, transposed))
                    copies.add(copy.name)
    return found


def _onnx_readers(graph) -> dict[str, set[str]]:
    """Initializer name → the op types that read it, directly or through one Transpose."""
    readers: dict[str, set[str]] = {}
    transposed_from = {node.output[0]: node.input[0] for node in graph.node
                       if node.op_type == "Transpose" and node.input}
    for node in graph.node:
        for name in node.input:
            source = transposed_from.get(name, name) if node.op_type != "Transpose" else name
            readers.setdefault(source, set()).add(node.op_type)
    return readers


def audit_onnx(path) -> AuditReport:
    """Initializers stored twice (equal, or equal transposed); a matrix the graph reads twice."""
    path = Path(path)
    model = _load_onnx(path)
    arrays = onnx_initializers(path, model)
    total = sum(a.nbytes for a in arrays.values())
    report = AuditReport(f"{path.name} (ONNX model; {len(arrays)} initializers, {total:,} bytes)")
    for kept, copy, transposed in duplicated_initializers(arrays):
        how = "transposed" if transposed else "as they are"
        report.findings.append(Finding(
            "duplicate_initializer", (copy, kept),
            f"{copy} {_shape(arrays[copy])} holds the numbers of {kept} {_shape(arrays[kept])} "
            f"{how}: one matrix stored twice, {arrays[copy].nbytes:,} extra bytes. Constant "
            f"folding writes such a copy of a tied head (pytorch/pytorch#108342): export without "
            f"it, or compute the copy from the kept matrix (tying_utils.deploy.deduplicate_onnx)."))
    readers = _onnx_readers(model.graph)
    for name, ops in readers.items():
        if name in arrays and "Gather" in ops and ops & {"MatMul", "Gemm"}:
            report.ties.append((name,))
            report.info.append(Finding(
                "tie", (name,), f"{name} {_shape(arrays[name])} is read by Gather (the lookup) and "
                f"by {'/'.join(sorted(ops & {'MatMul', 'Gemm'}))} (the head): one matrix, stored "
                f"once, used twice."))
    return report


# --- GGUF ----------------------------------------------------------------------------------------

TOKEN_EMBEDDING, OUTPUT = "token_embd.weight", "output.weight"


def gguf_arrays(path) -> tuple[dict[str, StoredArray], dict[str, object]]:
    """The tensors of a .gguf file (memory-mapped, shapes in PyTorch's order) and its metadata."""
    from gguf import GGUFReader

    path = Path(path)
    try:
        reader = GGUFReader(path)
    except Exception as error:  # a foreign file: "GGUF magic invalid", a short read, …
        raise ExportedFileError(f"{str(path)!r} is not a GGUF file ({_one_line(error)}).") \
            from None
    arrays = {}
    for tensor in reader.tensors:
        shape = tuple(int(n) for n in reversed(tensor.shape))  # GGUF lists the fastest axis first
        arrays[tensor.name] = StoredArray(tensor.name, shape, tensor.tensor_type.name,
                                          int(tensor.n_bytes), lambda t=tensor: t.data)
    metadata = {}
    for key, field in reader.fields.items():
        if not key.startswith("GGUF.") and field.types and len(field.types) == 1:
            metadata[key] = field.contents()
    return arrays, metadata


def audit_gguf(path) -> AuditReport:
    """Whether output.weight is left out (tied at load), a copy of token_embd.weight, or its own."""
    path = Path(path)
    arrays, metadata = gguf_arrays(path)
    architecture = metadata.get("general.architecture", "unknown")
    report = AuditReport(f"{path.name} (GGUF, architecture {architecture}; {len(arrays)} tensors)")
    tie_keys = [key for key in metadata if key.endswith("tie_word_embeddings")]
    says_tied = bool(metadata[tie_keys[0]]) if tie_keys else None
    report.info.append(Finding("config", tuple(tie_keys), (
        f"{tie_keys[0]} = {str(says_tied).lower()}" if tie_keys else
        "no metadata key says whether the model is tied (GGUF defines none), so the tensors "
        "alone decide") + "."))
    if TOKEN_EMBEDDING not in arrays:
        report.info.append(Finding("config", (), f"no {TOKEN_EMBEDDING}: no token matrix to "
                                   f"check."))
        return report
    embedding = arrays[TOKEN_EMBEDDING]
    if OUTPUT not in arrays:
        report.ties.append((TOKEN_EMBEDDING, OUTPUT))
        report.info.append(Finding("tied_at_load", (OUTPUT, TOKEN_EMBEDDING), (
            f"{OUTPUT} is not stored: a loader must use {TOKEN_EMBEDDING} "
            f"{_shape(embedding)} for the head too (llama.cpp does for the architectures that "
            f"fall back to it; for the others the file fails to load).")))
        if says_tied is False:
            report.findings.append(Finding("config_mismatch", (OUTPUT,), (
                f"{tie_keys[0]} says untied, but {OUTPUT} is not stored.")))
        return report
    output = arrays[OUTPUT]
    if (output.dtype, output.shape) != (embedding.dtype, embedding.shape):
        report.info.append(Finding("not_compared", (OUTPUT, TOKEN_EMBEDDING), (
            f"{OUTPUT} ({output.dtype}, {_shape(output)}) and {TOKEN_EMBEDDING} "
            f"({embedding.dtype}, {_shape(embedding)}) are stored in different types or shapes, "
            f"so their numbers were not compared; the head takes {output.nbytes:,} bytes of its "
            f"own.")))
        return report
    if equal_in_chunks(embedding.values(), output.values()):
        report.findings.append(Finding("lost_tie", (OUTPUT, TOKEN_EMBEDDING), (
            f"{OUTPUT} is stored as a copy of {TOKEN_EMBEDDING}: a tie lost by copying, "
            f"{output.nbytes:,} extra bytes; leave {OUTPUT} out and let the loader tie it.")))
        return report
    report.info.append(Finding("untied", (OUTPUT, TOKEN_EMBEDDING), (
        f"{OUTPUT} and {TOKEN_EMBEDDING} are two different matrices: an untied model.")))
    if says_tied:
        report.findings.append(Finding("config_mismatch", (OUTPUT, TOKEN_EMBEDDING), (
            f"{tie_keys[0]} says tied, but {OUTPUT} and {TOKEN_EMBEDDING} differ.")))
    return report


# --- either -------------------------------------------------------------------------------------


def audit_exported(path) -> AuditReport:
    """Audit an .onnx or .gguf file; raises ExportedFileError for anything else."""
    path = Path(path)
    if not path.is_file():
        raise ExportedFileError(f"{str(path)!r} is not a file: give an .onnx or .gguf file.")
    if path.suffix == ".onnx":
        return audit_onnx(path)
    if path.suffix == ".gguf":
        return audit_gguf(path)
    raise ExportedFileError(f"{str(path)!r} is neither .onnx nor .gguf.")


def _shape(array: StoredArray) -> str:
    return "[" + ", ".join(str(n) for n in array.shape) + "]"


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= 160 else text[:157] + "…"
