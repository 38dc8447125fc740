"""`audit` on exported files (notebook 09): each file is built here, offline, and its verdict held.

ONNX from the course's TransformerLM (legacy exporter with constant folding on and off, the dynamo
exporter, external data), GGUF from a small GPT-2 built from a config (tied, untied, the head
copied); bad files; the chunked comparison, including the memory it takes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tracemalloc
import warnings

import numpy as np
import pytest
import torch

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
pytest.importorskip("gguf")

import onnx  # noqa: E402

from tying_utils import TransformerLM, exported  # noqa: E402
from tying_utils.deploy import LogitsOnly, write_gguf  # noqa: E402
from tying_utils.exported import (  # noqa: E402
    ExportedFileError,
    audit_exported,
    equal_in_chunks,
    gguf_arrays,
    onnx_initializers,
)

os.environ.setdefault("HF_HUB_OFFLINE", "1")
VOCAB, DIM = 512, 16


def tiny_lm(tied: bool, vocab: int = VOCAB) -> TransformerLM:
    torch.manual_seed(0)
    return TransformerLM(vocab, DIM, tied=tied, layers=1, heads=2, context=8, dropout=0.0).eval()


def export_onnx(path, tied=True, vocab=VOCAB, **options):
    tokens = torch.randint(0, VOCAB, (1, 8), generator=torch.Generator().manual_seed(1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(LogitsOnly(tiny_lm(tied, vocab)), (tokens,), str(path), **options)
    return path


def tiny_gpt2(tied: bool):
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    config = GPT2Config(vocab_size=VOCAB, n_positions=8, n_embd=DIM, n_layer=1, n_head=2,
                        tie_word_embeddings=tied, bos_token_id=0, eos_token_id=0)
    return GPT2LMHeadModel(config).eval()


def cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tying_utils", "audit", *map(str, args)],
                          capture_output=True, text=True, timeout=120)


def kinds(report) -> tuple[list[str], list[str]]:
    return [f.kind for f in report.findings], [i.kind for i in report.info]


# --- ONNX ----------------------------------------------------------------------------------------


def test_legacy_export_with_folding_stores_the_tied_matrix_twice(tmp_path):
    path = export_onnx(tmp_path / "fold.onnx", dynamo=False, do_constant_folding=True)
    report = audit_exported(path)
    assert kinds(report)[0] == ["duplicate_initializer"]
    copy, kept = report.findings[0].names
    arrays = onnx_initializers(path)
    assert arrays[kept].shape == (VOCAB, DIM) and arrays[copy].shape == (DIM, VOCAB)
    assert f"{VOCAB * DIM * 4:,} extra bytes" in report.findings[0].message
    result = cli(path, "--json", tmp_path / "fold.json")
    assert result.returncode == 1, result.stderr
    data = json.loads((tmp_path / "fold.json").read_text())
    assert [f["kind"] for f in data["findings"]] == ["duplicate_initializer"]


# The dynamo exporter's optimizer (onnxscript) folds a Transpose only when its input has at most
# 8192 numbers (onnxscript 0.7.2's default input size limit): 512 × 16 is folded, 1024 × 16 not.
@pytest.mark.parametrize("vocab, options", [(VOCAB, dict(dynamo=False, do_constant_folding=False)),
                                            (2 * VOCAB, dict(dynamo=True))],
                         ids=["legacy-no-folding", "dynamo"])
def test_exports_that_keep_one_copy_are_clean(tmp_path, vocab, options):
    path = export_onnx(tmp_path / "model.onnx", vocab=vocab, **options)
    report = audit_exported(path)
    assert report.ok and "tie" in kinds(report)[1]
    matrices = [a for a in onnx_initializers(path).values() if vocab * DIM == a.numel]
    assert len(matrices) == 1
    assert cli(path).returncode == 0


def test_dynamo_export_of_a_small_matrix_folds_the_transpose_too(tmp_path):
    path = export_onnx(tmp_path / "small.onnx", dynamo=True)
    assert kinds(audit_exported(path))[0] == ["duplicate_initializer"]


def test_an_untied_model_has_no_copy_and_no_tie(tmp_path):
    path = export_onnx(tmp_path / "untied.onnx", tied=False, dynamo=False,
                       do_constant_folding=True)
    report = audit_exported(path)
    assert report.ok and not report.ties


def test_external_data_is_memory_mapped_and_still_compared(tmp_path):
    path = export_onnx(tmp_path / "fold.onnx", dynamo=False, do_constant_folding=True)
    model = onnx.load(str(path))
    outside = tmp_path / "outside"
    outside.mkdir()
    onnx.save_model(model, str(outside / "external.onnx"), save_as_external_data=True,
                    all_tensors_to_one_file=True, location="weights.bin", size_threshold=0)
    arrays = onnx_initializers(outside / "external.onnx")
    assert isinstance(next(iter(arrays.values())).values(), np.memmap)
    assert kinds(audit_exported(outside / "external.onnx"))[0] == ["duplicate_initializer"]


def test_external_data_outside_the_folder_is_refused(tmp_path):
    path = export_onnx(tmp_path / "fold.onnx", dynamo=False, do_constant_folding=True)
    onnx.save_model(onnx.load(str(path)), str(tmp_path / "external.onnx"),
                    save_as_external_data=True, location="weights.bin", size_threshold=0)
    model = onnx.load(str(tmp_path / "external.onnx"), load_external_data=False)
    for tensor in model.graph.initializer:  # point the file's data one folder up
        for entry in tensor.external_data:
            if entry.key == "location":
                entry.value = "../weights.bin"
    (tmp_path / "inner").mkdir()
    (tmp_path / "inner" / "m.onnx").write_bytes(model.SerializeToString())
    with pytest.raises(ExportedFileError, match="not a file beside it"):
        audit_exported(tmp_path / "inner" / "m.onnx")
    result = cli(tmp_path / "inner" / "m.onnx")
    assert result.returncode == 2 and "Traceback" not in result.stderr


# --- GGUF ----------------------------------------------------------------------------------------


def test_gguf_of_a_tied_gpt2_leaves_the_head_out(tmp_path):
    written = write_gguf(tiny_gpt2(tied=True), tmp_path / "tied.gguf")
    assert "token_embd.weight" in written and "output.weight" not in written
    report = audit_exported(tmp_path / "tied.gguf")
    assert report.ok and "tied_at_load" in kinds(report)[1]
    assert cli(tmp_path / "tied.gguf").returncode == 0


def test_gguf_of_an_untied_gpt2_holds_two_matrices(tmp_path):
    model = tiny_gpt2(tied=False)
    write_gguf(model, tmp_path / "untied.gguf")
    arrays, metadata = gguf_arrays(tmp_path / "untied.gguf")
    assert metadata["general.architecture"] == "gpt2"
    assert arrays["output.weight"].shape == (VOCAB, DIM)
    assert np.array_equal(arrays["output.weight"].values(), model.lm_head.weight.detach().numpy())
    report = audit_exported(tmp_path / "untied.gguf")
    assert report.ok and "untied" in kinds(report)[1]


def test_gguf_with_the_head_copied_is_a_lost_tie(tmp_path):
    write_gguf(tiny_gpt2(tied=True), tmp_path / "copied.gguf", copy_tied_head=True)
    report = audit_exported(tmp_path / "copied.gguf")
    assert kinds(report)[0] == ["lost_tie"]
    result = cli(tmp_path / "copied.gguf", "--json", tmp_path / "copied.json")
    assert result.returncode == 1
    assert json.loads((tmp_path / "copied.json").read_text())["findings"][0]["kind"] == "lost_tie"


def test_gguf_metadata_that_says_untied_is_checked(tmp_path):
    import gguf

    writer = gguf.GGUFWriter(str(tmp_path / "says.gguf"), "gpt2")
    writer.add_bool("gpt2.tie_word_embeddings", False)
    writer.add_tensor("token_embd.weight", np.ones((VOCAB, DIM), np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    assert kinds(audit_exported(tmp_path / "says.gguf"))[0] == ["config_mismatch"]


# --- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["bad.onnx", "bad.gguf"])
def test_a_foreign_file_is_one_line_and_exit_2(tmp_path, name):
    (tmp_path / name).write_bytes(b"not a model at all\n" * 10)
    with pytest.raises(ExportedFileError):
        audit_exported(tmp_path / name)
    result = cli(tmp_path / name)
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr


def test_a_missing_file_is_exit_2(tmp_path):
    result = cli(tmp_path / "absent.gguf")
    assert result.returncode == 2 and "is not a file" in result.stderr


# --- the chunked comparison ---------------------------------------------------------------------


def test_equal_in_chunks_finds_a_difference_in_any_chunk(monkeypatch):
    monkeypatch.setattr(exported, "CHUNK_ELEMENTS", 7)
    a = np.arange(60, dtype=np.float32).reshape(12, 5)
    assert equal_in_chunks(a, a.copy()) and equal_in_chunks(a, np.ascontiguousarray(a.T), True)
    for row in (0, 5, 11):
        b = a.copy()
        b[row, 4] += 1
        assert not equal_in_chunks(a, b)
        assert not equal_in_chunks(a, np.ascontiguousarray(b.T), True)
    assert not equal_in_chunks(a, a.astype(np.float64))
    assert not equal_in_chunks(a, a.reshape(5, 12))


def test_comparing_memory_maps_takes_memory_of_one_chunk_not_of_the_matrix(tmp_path):
    rows, cols = 4096, 512  # 8 MiB of float32 a matrix
    values = np.random.default_rng(0).standard_normal((rows, cols), dtype=np.float32)
    values.tofile(tmp_path / "a.bin")
    np.ascontiguousarray(values.T).tofile(tmp_path / "b.bin")
    del values
    a = np.memmap(tmp_path / "a.bin", np.float32, "r", shape=(rows, cols))
    b = np.memmap(tmp_path / "b.bin", np.float32, "r", shape=(cols, rows))
    tracemalloc.start()
    try:
        assert equal_in_chunks(a, b, transposed=True)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 3 * exported.CHUNK_ELEMENTS * 4, f"peak {peak:,} bytes"


def test_deduplicating_the_folded_file_stores_the_matrix_once_and_keeps_the_logits(tmp_path):
    import onnxruntime

    from tying_utils.deploy import deduplicate_onnx

    path = export_onnx(tmp_path / "fold.onnx", dynamo=False, do_constant_folding=True)
    removed = deduplicate_onnx(path, tmp_path / "once.onnx")
    assert len(removed) == 1 and removed[0] not in onnx_initializers(tmp_path / "once.onnx")
    assert audit_exported(tmp_path / "once.onnx").ok
    stored = [sum(a.nbytes for a in onnx_initializers(tmp_path / name).values())
              for name in ("fold.onnx", "once.onnx")]
    assert stored[0] - stored[1] == VOCAB * DIM * 4
    saved = (tmp_path / "fold.onnx").stat().st_size - (tmp_path / "once.onnx").stat().st_size
    assert saved > 0.99 * VOCAB * DIM * 4  # (the new Transpose node takes a few bytes)
    tokens = torch.randint(0, VOCAB, (1, 8), generator=torch.Generator().manual_seed(2))
    outputs = []
    for name in ("fold.onnx", "once.onnx"):
        session = onnxruntime.InferenceSession(str(tmp_path / name),
                                               providers=["CPUExecutionProvider"])
        outputs.append(session.run(None, {session.get_inputs()[0].name: tokens.numpy()})[0])
    assert np.array_equal(outputs[0], outputs[1])


def write_token_matrices(path, embedding, output, kinds_of_storage):
    """A GGUF file with token_embd.weight and output.weight, each stored as F32 or Q8_0."""
    import gguf
    from gguf import quants

    writer = gguf.GGUFWriter(str(path), "llama")
    for name, matrix, kind in (("token_embd.weight", embedding, kinds_of_storage[0]),
                               ("output.weight", output, kinds_of_storage[1])):
        if kind == "Q8_0":
            quantized = quants.quantize(matrix, gguf.GGMLQuantizationType.Q8_0)
            writer.add_tensor(name, quantized, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
        else:
            writer.add_tensor(name, matrix)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def test_quantized_gguf_copies_are_compared_by_their_bytes(tmp_path):
    rng = np.random.default_rng(0)
    embedding = rng.standard_normal((VOCAB, DIM * 2), dtype=np.float32)
    other = rng.standard_normal((VOCAB, DIM * 2), dtype=np.float32)
    copied = write_token_matrices(tmp_path / "q8_copy.gguf", embedding, embedding, ("Q8_0",) * 2)
    untied = write_token_matrices(tmp_path / "q8_untied.gguf", embedding, other, ("Q8_0",) * 2)
    mixed = write_token_matrices(tmp_path / "mixed.gguf", embedding, embedding, ("Q8_0", "F32"))
    arrays, _ = gguf_arrays(copied)
    assert arrays["output.weight"].dtype == "Q8_0"
    assert arrays["output.weight"].shape == (VOCAB, DIM * 2)
    assert kinds(audit_exported(copied))[0] == ["lost_tie"]
    assert audit_exported(untied).ok and "untied" in kinds(audit_exported(untied))[1]
    report = audit_exported(mixed)
    assert report.ok and "not_compared" in kinds(report)[1]
