"""Notebook 09 (export_and_deploy): the bytes an ONNX export's copy of a tied matrix adds, the
matrix a GGUF loader uses for the output layer, and the bytes an int8 head adds.

Built on the shared core (core.py: `exercise_checker`, `call_answer`, `_verdict`) and re-exported
from the package, so a notebook imports them from `tying_utils.exercises` like every other checker.
"""

from __future__ import annotations

import numpy as np

from .core import _as_whole_number, _verdict, call_answer, exercise_checker

__all__ = ["check_gguf_head", "check_int8_head_bytes", "check_onnx_copy_bytes"]

# bigscience/bloom-560m's config.json: vocab_size 250880, hidden_size 1024; exported in float32.
BLOOM_VOCAB, BLOOM_DIM = 250_880, 1_024


@exercise_checker
def check_onnx_copy_bytes(answer) -> bool:
    """Exercise 1: how many bytes does the legacy exporter's folded, transposed copy of
    bloom-560m's tied matrix add to a float32 ONNX file?"""
    numbers = BLOOM_VOCAB * BLOOM_DIM
    truth = 4 * numbers
    value = _as_whole_number(answer)
    if value is None:
        return _verdict(False, "", "Answer with a whole number of bytes.")
    hints = {
        numbers: "That is how many numbers the matrix holds; each float32 number takes 4 bytes.",
        2 * numbers: "That is the matrix in float16 or bfloat16; this export is float32.",
        2 * truth: "That is both copies together; the file grows by the second one only.",
        truth // 1024**2: "That is the answer in MiB; give it in bytes.",
    }
    return _verdict(
        value == truth,
        f"{truth:,} bytes (0.96 GiB): huggingface/optimum#1326 measured bloom-560m's ONNX export "
        f"going from 3.0 to 2.1 GiB once its de-duplication removed the copy.",
        hints.get(value, "One extra V × d matrix, 4 bytes a number: V = 250,880, d = 1,024."),
    )


@exercise_checker
def check_gguf_head(head_for) -> bool:
    """Exercise 2: `head_for(tensors)` returns the matrix a loader uses for the output layer,
    given a GGUF file's tensors as a dict of name → NumPy array."""
    rng = np.random.default_rng(0)
    embedding, output = rng.standard_normal((2, 6, 3)).astype(np.float32)
    tied = {"token_embd.weight": embedding, "output_norm.weight": np.ones(3, np.float32)}
    untied = {**tied, "output.weight": output}
    got_untied = call_answer(head_for, dict(untied))
    got_tied = call_answer(head_for, dict(tied))
    if not _same(got_untied, output):
        hint = ("For a file that stores output.weight, that is the head: "
                + ("you returned token_embd.weight." if _same(got_untied, embedding)
                   else "return tensors['output.weight']."))
        return _verdict(False, "", hint)
    if not _same(got_tied, embedding):
        return _verdict(False, "", "A tied model's file has no output.weight: fall back to "
                        "tensors['token_embd.weight'], as llama.cpp does for the architectures "
                        "that know the fallback.")
    return _verdict(True, "The file's own output.weight when it has one, else the token "
                    "embedding, read a second time as the head (a loader without this fallback "
                    "fails with \"missing tensor 'output.weight'\").", "")


def _same(got, expected: np.ndarray) -> bool:
    return (isinstance(got, np.ndarray) and got.shape == expected.shape
            and np.array_equal(got, expected))


# A tied Llama-3.2-1B-sized matrix: vocab_size 128256, hidden_size 2048, here kept in float32.
INT8_VOCAB, INT8_DIM = 128_256, 2_048


@exercise_checker
def check_int8_head_bytes(answer) -> bool:
    """Exercise 3: a tied float32 V × d matrix; the head alone is quantized to weight-only int8
    with one float32 scale per row, the embedding kept. By how many bytes does the model change?"""
    numbers = INT8_VOCAB * INT8_DIM
    truth = numbers + 4 * INT8_VOCAB
    value = _as_whole_number(answer)
    if value is None:
        return _verdict(False, "", "Answer with a whole number of bytes (negative if the model "
                        "shrinks).")
    hints = {
        numbers: "Close: the int8 values, one byte a number; add the scales, one float32 a row.",
        -3 * numbers: "That is roughly what an untied model saves; tied, the float32 matrix stays "
                      "for the embedding, so nothing is removed.",
        -(3 * numbers - 4 * INT8_VOCAB): "That is what an untied model saves; tied, the float32 "
                                         "matrix stays for the embedding.",
        4 * numbers: "That is the float32 matrix itself, which stays; what is added is the int8 "
                     "copy and its scales.",
    }
    return _verdict(
        value == truth,
        f"{truth:,} bytes more: an int8 copy ({numbers:,} bytes) and {INT8_VOCAB:,} float32 "
        f"scales, while the float32 matrix stays for the lookup. Sharing one int8 matrix between "
        f"both would save {3 * numbers - 4 * INT8_VOCAB:,} bytes instead.",
        hints.get(value, "The float32 matrix stays for the embedding; the head adds one int8 "
                         "byte per number and one float32 scale per row."),
    )
