"""Notebook 03 (paired_training): the blog's unpaired heads, the gradient of softmax + MSE, and a
fair pair of models."""

from __future__ import annotations

import itertools
import math
import numbers

import numpy as np
import torch
from torch import nn

from ..toy_models import SeedTied, SeedUntied
from ..train import RunConfig, build_model
from .core import _verdict, call_answer, exercise_checker


def _as_bool(answer) -> bool | None:
    """A Python bool, NumPy bool or one-element bool tensor/array as a bool; None otherwise."""
    if isinstance(answer, (bool, np.bool_)):
        return bool(answer)
    if isinstance(answer, torch.Tensor) and answer.dtype == torch.bool and answer.numel() == 1:
        return bool(answer.item())
    if isinstance(answer, np.ndarray) and answer.dtype == np.bool_ and answer.size == 1:
        return bool(answer.item())
    return None


@exercise_checker
def check_blog_heads(same) -> bool:
    """Exercise 03.1: do the blog's Model_1 and Model_2 start with the same head weight? Answer
    True or False (a NumPy bool or a one-element bool tensor counts too)."""
    with torch.random.fork_rng(devices=[]):  # leave the reader's random stream untouched
        torch.manual_seed(0)
        model_1, model_2 = SeedUntied(), SeedTied()  # built one after the other, as in the blog
    truth = torch.equal(model_1.head.weight, model_2.head.weight)
    answer = _as_bool(same)
    if answer is None:
        if isinstance(same, str):
            return _verdict(False, "", f"Answer with the value True or False, without quotes: "
                            f"{same!r} is a string.")
        if str(getattr(same, "dtype", "")) in ("bool", "torch.bool"):
            count = math.prod(same.shape)
            return _verdict(False, "", f"That is {count} True/False values, one per element: "
                            "reduce the comparison to one answer, with torch.equal(a, b) or "
                            "(a == b).all().")
        if isinstance(same, numbers.Number):
            return _verdict(False, "", f"Answer with True or False, not the number {same!r}.")
        return _verdict(False, "", "Answer with True or False.")
    return _verdict(
        answer == truth,
        "the second model draws its weights after the first has used the generator, so "
        "the two heads differ and the comparison is not paired.",
        "Both models draw from one random generator, one after the other. Does the second "
        "model see the same random numbers as the first?",
    )


_SOFTMAX_JACOBIAN = "d(loss)/d(z_j) = p_j (g_j − Σ_k g_k p_k), with g = d(loss)/d(p)"


def _gradient_mistake(got, expected, probs, one_hot) -> str | None:
    """What is wrong with `got` as d(loss)/d(logits) of mean((probs - one_hot)²); None if right."""
    shape = tuple(expected.shape)
    if got is None:
        return "Your function returned None: end it with `return` and the gradient."
    if not isinstance(got, torch.Tensor):
        return (f"Return a torch tensor of the logits' shape {shape}; your function returned a "
                f"{type(got).__name__}.")
    if tuple(got.shape) != shape:
        return (f"Return one number per logit, a tensor of shape {shape}; yours has shape "
                f"{tuple(got.shape)}.")
    got = got.detach().to(torch.float64)
    if not torch.isfinite(got).all():
        return "Your gradient holds nan or inf values: look for a division by zero or a log."

    def close(a, b):
        return torch.allclose(a, b, rtol=1e-6, atol=1e-12)

    if close(got, expected):
        return None
    count, tokens = probs.numel(), shape[-1]
    rows = count // tokens
    scale = float((got * expected).sum() / (expected * expected).sum())
    if close(got, scale * expected):  # a multiple of the right answer: name the factors
        signs = [(1, None), (-1, "the sign is flipped (the gradient of (p − t)² is 2 (p − t), "
                                  "pointing from t to p)")]
        twos = [(1, None), (0.5, "the factor 2 of d/dp (p − t)² = 2 (p − t) is missing"),
                (2, "there is one factor 2 too many")]
        norms = [(1, None),
                 (count, f"the loss is a mean over all {count} elements, so divide by "
                         f"{count} (yours is the gradient of the sum)"),
                 (tokens, f"divide by all {count} elements (rows × tokens), not by the {rows} "
                          "rows"),
                 (rows, f"divide by all {count} elements (rows × tokens), not by the {tokens} "
                        "tokens of a row")]
        for (sign, a), (two, b), (norm, c) in itertools.product(signs, twos, norms):
            if abs(scale - sign * two * norm) < 1e-6 * norm:
                reasons = "; ".join(reason for reason in (a, b, c) if reason)
                return f"Yours is {scale:.3g} times autograd's: {reasons}."
        return (f"Yours is {scale:.3g} times autograd's: check the sign, the factor 2 of "
                "(p − t)² and the division by the number of elements.")
    d_probs = 2 * (probs - one_hot) / count
    if close(got, d_probs):
        return ("You returned d(loss)/d(probs) = 2 (p − t) / N, the gradient with respect to the "
                "probabilities. The logits reach the loss through the softmax: apply its "
                f"Jacobian, {_SOFTMAX_JACOBIAN}.")
    difference = probs - one_hot
    factor = float((got * difference).sum() / (difference * difference).sum())
    if close(got, factor * difference):
        return ("A multiple of (p − t) is the gradient of cross-entropy through a softmax, not of "
                "the squared error of the softmax: compute g = d(loss)/d(p) = 2 (p − t) / N, then "
                f"apply the softmax Jacobian, {_SOFTMAX_JACOBIAN}.")
    if close(got, d_probs * probs * (1 - probs)):
        return ("p (1 − p) is only the diagonal of the softmax Jacobian: logit j moves every "
                f"probability (∂p_k/∂z_j = −p_k p_j for k ≠ j). Use {_SOFTMAX_JACOBIAN}.")
    return f"Go through the softmax: {_SOFTMAX_JACOBIAN}."


@exercise_checker
def check_softmax_mse_gradient(d_logits) -> bool:
    """Exercise 03.2: `d_logits(probs, one_hot)` should return d(loss)/d(logits) for the blog's
    loss, `loss = mean((softmax(logits) - one_hot) ** 2)` over all elements."""
    generator = torch.Generator().manual_seed(0)
    for shape in [(6, 10), (2, 3, 7)]:
        logits = torch.randn(shape, generator=generator, dtype=torch.float64, requires_grad=True)
        target = torch.nn.functional.one_hot(
            torch.randint(0, shape[-1], shape[:-1], generator=generator), shape[-1]
        ).to(torch.float64)
        probs = torch.softmax(logits, dim=-1)
        loss = (probs - target).square().mean()
        (expected,) = torch.autograd.grad(loss, logits)
        probs = probs.detach()
        got = call_answer(d_logits, probs.clone(), target.clone())
        mistake = _gradient_mistake(got, expected, probs, target)
        if mistake:
            return _verdict(False, "", mistake)
    return _verdict(True, "It matches autograd on two shapes: this is what train_many computes.",
                    "")


PAIR_VOCAB, PAIR_DIM, PAIR_SEED = 50, 8, 7
"""Exercise 03.3 asks for the untied and the tied model of seed 7, vocabulary 50, 8 dimensions."""


def _is_embed_head(model) -> bool:
    return (isinstance(model, nn.Module)
            and isinstance(getattr(model, "embedding", None), nn.Embedding)
            and isinstance(getattr(model, "head", None), nn.Linear))


def _same_values(a, b) -> bool:
    """Equal tensors (None equals None), whatever their floating dtype."""
    if a is None or b is None:
        return a is None and b is None
    return a.shape == b.shape and torch.equal(a.detach().double(), b.detach().double())


def _same_head(a, b) -> bool:
    return _same_values(a.head.weight, b.head.weight) and _same_values(a.head.bias, b.head.bias)


def _shares_matrix(model) -> bool:
    """Do the model's embedding and head use one memory (one Parameter, or an alias)?"""
    embedding, head = model.embedding.weight, model.head.weight
    return embedding is head or (
        embedding.untyped_storage().data_ptr() == head.untyped_storage().data_ptr())


@exercise_checker
def check_paired_models(untied, tied) -> bool:
    """Exercise 03.3: `untied` and `tied` should be the fair pair of seed `PAIR_SEED` for a
    `PAIR_VOCAB`-token vocabulary with `PAIR_DIM` dimensions, in that order (the models of
    `build_model(RunConfig(vocab=50, dim=8), 7, tied=False)` and `tied=True`)."""
    models = (("untied", untied), ("tied", tied))
    build = f"build_model(RunConfig(vocab={PAIR_VOCAB}, dim={PAIR_DIM}), {PAIR_SEED}, tied=…)"
    for role, model in models:
        if not _is_embed_head(model):
            return _verdict(False, "", "Pass two models with an embedding and a head, built with "
                            f"{build}; the {role} one is a {type(model).__name__}.")
    for role, model in models:
        vocab, dim = model.embedding.weight.shape
        if (vocab, dim) != (PAIR_VOCAB, PAIR_DIM):
            return _verdict(False, "", f"The {role} model has a {vocab}-token vocabulary with "
                            f"{dim} dimensions; the exercise asks for {PAIR_VOCAB} tokens and "
                            f"{PAIR_DIM} dimensions: RunConfig(vocab={PAIR_VOCAB}, "
                            f"dim={PAIR_DIM}).")
    untied_shares, tied_shares = _shares_matrix(untied), _shares_matrix(tied)
    if untied_shares and not tied_shares:
        return _verdict(False, "", "The first model is tied and the second untied: swap them, "
                        "check_paired_models(untied, tied).")
    if untied_shares:
        return _verdict(False, "", "Both models share one matrix between embedding and head, so "
                        "both are tied: build the untied one with tied=False.")
    if not tied_shares:
        return _verdict(False, "", "Neither model shares its matrix, so both are untied: build "
                        "the tied one with tied=True.")
    if tied.embedding.weight is not tied.head.weight:
        return _verdict(False, "", "The tied model's embedding and head are two Parameter objects "
                        "over one memory (an alias): tie them as one Parameter, as "
                        "build_model(…, tied=True) does.")
    if not _same_head(untied, tied):
        return _verdict(False, "", "The two heads differ, so the comparison is not paired: build "
                        f"both models from seed {PAIR_SEED} with {build}, which reseeds before "
                        "each model.")
    config = RunConfig(vocab=PAIR_VOCAB, dim=PAIR_DIM)
    reference = build_model(config, PAIR_SEED, tied=False)
    if not _same_head(tied, reference):
        seed = next((s for s in range(100) if _same_head(tied, build_model(config, s, True))),
                    None)
        which = f"of seed {seed}" if seed is not None else f"not of seed {PAIR_SEED}"
        return _verdict(False, "", f"A fair pair, but {which}: the exercise asks for seed "
                        f"{PAIR_SEED}, {build}.")
    matched = _same_values(untied.embedding.weight, untied.head.weight)
    if not (matched or _same_values(untied.embedding.weight, reference.embedding.weight)):
        return _verdict(False, "", f"The heads are seed {PAIR_SEED}'s, but the untied model's "
                        f"embedding is not: build it with {build}.")
    start = ("a copy of the head (init='matched')" if matched
             else "nn.Embedding's N(0, 1) draw (init='default')")
    return _verdict(True, f"A fair pair of seed {PAIR_SEED}: the same head weight and bias, one "
                    "Parameter shared by the tied model's embedding and head, and the untied "
                    f"model's embedding starting from {start}.", "")

