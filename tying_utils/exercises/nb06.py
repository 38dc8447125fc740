"""Notebook 06 (transformer): what tying saves in parameters and in Adam's bytes, and the scale
of a tied logit at the start."""

from __future__ import annotations

import math

from ..budget import BYTES_PER_PARAMETER
from .core import _as_number, _as_whole_number, _real_budget, _verdict, exercise_checker


@exercise_checker
def check_tying_saving(answer) -> bool:
    """Exercise 06.1: how many parameters does tying save in Llama 3.2 1B (vocabulary 128,256,
    hidden size 2,048, no bias in its output layer)?"""
    budget = _real_budget("meta-llama/Llama-3.2-1B")
    vocab, hidden = budget.vocab_size, budget.hidden_size
    value = _as_whole_number(answer)
    if value is None:
        return _verdict(False, "", "Answer with a whole number of parameters.")
    truth = vocab * hidden
    hints = {
        2 * truth: "That counts both matrices. Tied, the model keeps one of them: tying saves "
                   "one V × d matrix.",
        truth + vocab: "Llama's output layer has no bias: tying saves the V × d matrix alone.",
        budget.total: "That is the whole (tied) model. Tying saves only the second V × d matrix.",
        budget.untied_total: "That is the whole untied model. Tying saves only one V × d matrix.",
    }
    return _verdict(
        value == truth,
        f"{truth:,} parameters, one {vocab:,} × {hidden:,} matrix: "
        f"{budget.embedding_share:.1%} of the untied model's {budget.untied_total:,}.",
        hints.get(value, "Tied, the output layer reuses the input embedding's (V, d) matrix: "
                         "the saving is one matrix of V × d numbers."),
    )


@exercise_checker
def check_tied_logit_scale(answer, dim: int = 64) -> bool:
    """Exercise 06.2: a tied model that keeps nn.Embedding's N(0, 1) values computes a logit as
    the dot product of LayerNorm(h) (d coordinates of mean 0 and variance about 1) with a row of
    N(0, 1) numbers. About what standard deviation does the logit of a word other than the input
    word have at the start, for d = `dim`?"""
    value = _as_number(answer)
    if value is None:
        return _verdict(False, "", "Answer with one number, the standard deviation of a logit.")
    truth = math.sqrt(dim)
    if abs(value - dim) < 0.5:
        hint = (f"{dim} is the variance of the sum of {dim} products of unit variance; the "
                "standard deviation is its square root.")
    elif abs(value - 1) < 0.05:
        hint = (f"One product has standard deviation 1, but a logit adds up {dim} of them: "
                "variances add.")
    elif abs(value - 0.02 * truth) < 0.01:
        hint = ("That is GPT-2's start, N(0, 0.02²). Here the shared matrix keeps nn.Embedding's "
                "N(0, 1) values.")
    else:
        hint = (f"A logit adds up {dim} independent products, each of variance 1 × 1: add the "
                "variances, then take the square root.")
    return _verdict(
        abs(value - truth) <= 0.1 * truth,
        f"About √{dim} = {truth:g}. That spread is not what makes such a model's first loss far "
        f"above ln V: the input word's logit for itself, about d (the final hidden state is mostly "
        f"that word's own row), gives almost all of it; notebook 06 section 2 measures this over "
        f"five seeds, and an independent head with the same spread starts far lower.",
        hint,
    )


@exercise_checker
def check_adam_bytes_saved(answer) -> bool:
    """Exercise 06.3: how many bytes of training state does tying save in Gemma 2B (vocabulary
    256,000, hidden size 2,048) when it trains with Adam in mixed precision (bf16 weight and
    gradient, fp32 master weight, Adam's two fp32 moments)?"""
    budget = _real_budget("google/gemma-2b")
    matrix = budget.vocab_size * budget.hidden_size
    value = _as_whole_number(answer)
    if value is None:
        return _verdict(False, "", "Answer with a whole number of bytes.")
    per_parameter = BYTES_PER_PARAMETER["Adam, mixed precision"]
    truth = matrix * per_parameter
    hints = {
        matrix: "That is the number of parameters; each one costs several bytes of training "
                "state.",
        2 * matrix: "2 bytes per parameter is the bf16 weight alone (what inference holds). "
                    "Training also holds its gradient, an fp32 master copy and Adam's moments.",
        8 * matrix: "8 bytes are Adam's two fp32 moments; add the bf16 weight and gradient "
                    "(2 + 2) and the fp32 master weight (4).",
        12 * matrix: "12 bytes are the fp32 master weight and Adam's two moments; add the bf16 "
                     "weight and its gradient (2 + 2).",
        4 * matrix: "4 bytes per parameter is one fp32 copy; count every copy training holds.",
    }
    return _verdict(
        value == truth,
        f"{truth:,} bytes, about {truth / 1e9:.1f} GB: {per_parameter} bytes for each of the "
        f"{matrix:,} parameters of one 256,000 × 2,048 matrix.",
        hints.get(value, f"Count the parameters of one {budget.vocab_size:,} × "
                         f"{budget.hidden_size:,} matrix, then the bytes each costs in training: "
                         "2 + 2 + 4 + 4 + 4."),
    )

