"""Notebook 07 (tie_lifecycle): the count a copying loader reports, weight-decay groups for a
tied model, and the bytes a 4-bit tied head adds."""

from __future__ import annotations

import math

import torch
from torch import nn

from ..audit import audit
from ..budget import parameter_budget
from ..transformer import TransformerLM
from .core import (
    _AnswerRaised,
    _as_whole_number,
    _real_budget,
    _verdict,
    call_answer,
    exercise_checker,
)


@exercise_checker
def check_copied_head_count(answer, config) -> bool:
    """Exercise 07.1: the parameter count a loader reports when it copies the embedding of the
    tied model that `config` describes (a config dict of `budget.REAL_MODELS`) into the head
    instead of tying them, as in rasbt/LLMs-from-scratch #822."""
    budget = parameter_budget(config)
    value = _as_whole_number(answer)
    if value is None:
        return _verdict(False, "", "Answer with a whole number of parameters.")
    matrix = budget.vocab_size * budget.hidden_size
    truth = budget.untied_total
    hints = {
        budget.total: "That is the tied model's count, the right one. The copying loader holds "
                      "a second V × d matrix for its head: add it.",
        matrix: "That is the extra matrix alone; the loader reports the whole model, the tied "
                "count plus that matrix.",
        budget.total + 2 * matrix: "The tied count already holds the embedding once: the copy "
                                   "adds one V × d matrix, not two.",
        2 * budget.total: "Only the head is copied, not the whole model: add one V × d matrix.",
        budget.total - matrix: "Copying adds a matrix; it removes none.",
        truth + budget.vocab_size: "This output layer has no bias: the copy is the V × d matrix "
                                   "alone.",
    }
    return _verdict(
        value == truth,
        f"{truth:,}: the tied {budget.total:,} plus one {budget.vocab_size:,} × "
        f"{budget.hidden_size:,} matrix ({matrix:,}). count_parameters(model).unique shows it, "
        f"and tying brings it back to {budget.total:,}.",
        hints.get(value, f"Start from the tied count ({budget.total:,}) and add what the copy "
                         f"stores: one vocab_size × hidden_size matrix."),
    )


def _decay_of(optimizer, param) -> float | None:
    """The weight_decay of the first param group that holds `param`, or None."""
    for group in optimizer.param_groups:
        if any(held is param for held in group["params"]):
            return group.get("weight_decay")
    return None


@exercise_checker
def check_decay_groups(make_optimizer) -> bool:
    """Exercise 07.2: `make_optimizer(model)` returns AdamW with weight_decay 0.1 on the 2-D
    weights of the blocks of a tied `TransformerLM` and 0.0 on its embeddings (the tied matrix
    among them), norms and biases, with every trainable Parameter in exactly one group."""
    with torch.random.fork_rng(devices=[]):  # leave the reader's random stream untouched
        torch.manual_seed(0)
        model = TransformerLM(50, 16, tied=True, layers=1, heads=2, context=8, dropout=0.0)
    try:
        optimizer = call_answer(make_optimizer, model)
    except _AnswerRaised as error:
        if "more than one parameter group" in str(error):
            return _verdict(False, "", "torch refused a Parameter in two groups: the tied matrix "
                            "is reached both as the embedding's weight and as the head's. Put "
                            "each Parameter of model.parameters() in exactly one group.")
        raise
    if not isinstance(optimizer, torch.optim.AdamW):
        return _verdict(False, "", f"Return torch.optim.AdamW([...groups...]), not a "
                        f"{type(optimizer).__name__}.")
    found = {finding.kind for finding in audit(model, optimizer).findings}
    if "optimizer_duplicate" in found:
        return _verdict(False, "", "The optimizer holds the tied matrix twice, so each step() "
                        "moves it twice: named_parameters(remove_duplicate=False) lists it under "
                        "both names. Build the groups from model.parameters(), which lists it "
                        "once.")
    if "optimizer_stale" in found:
        return _verdict(False, "", "The optimizer holds tensors that are not Parameters of the "
                        "model it was given: build the groups from that model.")
    embeddings = {id(m.weight) for m in model.modules() if isinstance(m, nn.Embedding)}
    for name, param in model.named_parameters():
        decay = _decay_of(optimizer, param)
        if decay is None:
            what = "the tied matrix" if param is model.head.weight else name
            return _verdict(False, "", f"{what} is in no group, so it never moves: every "
                            f"trainable Parameter needs one group.")
        wanted = 0.1 if param.dim() == 2 and id(param) not in embeddings else 0.0
        if math.isclose(decay, wanted):
            continue
        if wanted == 0.0 and math.isclose(decay, 0.01):
            what = "The tied matrix" if param is model.head.weight else name
            hint = (f"{what} has weight_decay 0.01, AdamW's default: give its group "
                    f"weight_decay=0.0 explicitly.")
        elif param is model.head.weight:
            hint = (f"The tied matrix got weight_decay {decay:g}: through the head it looks like "
                    f"a Linear weight, but it is also the token embedding. Decide on the "
                    f"Parameter itself and give it the embeddings' 0.0.")
        elif id(param) in embeddings:
            hint = f"{name} is an embedding: weight_decay 0.0, like the tied matrix."
        elif wanted == 0.0:
            hint = f"{name} is a norm or bias parameter (1-D): weight_decay 0.0."
        else:
            hint = f"{name} is a 2-D weight of a block: weight_decay 0.1."
        return _verdict(False, "", hint)
    return _verdict(True, "Every Parameter is in one group and the tied matrix decays like the "
                    "other embeddings: audit(model, optimizer) is clean, and the blocks' "
                    "matrices decay at 0.1.", "")


@exercise_checker
def check_quantized_head_bytes(answer) -> bool:
    """Exercise 07.3: Gemma 2B is tied (one 256,000 × 2,048 matrix in bfloat16). By how many
    bytes does it grow when a 4-bit quantizer converts lm_head and leaves the embedding, without
    the quantizer's scales (huggingface/transformers #31474)?"""
    budget = _real_budget("google/gemma-2b")
    numbers_in_matrix = budget.vocab_size * budget.hidden_size
    value = _as_whole_number(answer)
    if value is None:
        return _verdict(False, "", "Answer with a whole number of bytes (negative if the model "
                        "shrinks).")
    truth = numbers_in_matrix // 2
    hints = {
        -3 * numbers_in_matrix // 2: "That is what an untied model saves (its bf16 head, 2 "
                                     "bytes a number, replaced by half a byte). Tied, the bf16 "
                                     "matrix stays for the embedding.",
        -truth: "The model grows: the head's copy is added and nothing is removed.",
        numbers_in_matrix: "That is how many numbers the matrix holds; in 4 bits each costs half "
                           "a byte.",
        2 * numbers_in_matrix: "That is the bf16 matrix itself, which stays for the embedding; "
                               "what is added is the head's 4-bit copy.",
        5 * numbers_in_matrix // 2: "That is what the matrix costs after quantizing (bf16 plus "
                                    "4 bits); the question asks how much it grows.",
        272_384_000: "That is what the thread measured, scales and zero points included; leave "
                     "them out: half a byte for each number.",
    }
    return _verdict(
        value == truth,
        f"{truth:,} bytes: the head gets its own 4-bit copy of the {numbers_in_matrix:,} "
        f"numbers while the bf16 matrix stays for the embedding.",
        hints.get(value, "The embedding keeps the bf16 matrix; the head adds a 4-bit copy of it: "
                         "half a byte for each of its V × d numbers."),
    )
