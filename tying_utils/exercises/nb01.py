"""Notebook 01 (linear_weight_shapes): the shape of a Linear's weight, the Linear that can be
tied with an Embedding, and logits as dot products."""

from __future__ import annotations

import math
import numbers

from .core import _as_int_tuple, _as_number_list, _verdict, exercise_checker


@exercise_checker
def check_linear_weight_shape(answer) -> bool:
    """Exercise 01.1: the shape of `nn.Linear(64, 1000).weight`, as a tuple `(rows, columns)`."""
    if isinstance(answer, numbers.Integral) and int(answer) == 64 * 1000:
        return _verdict(False, "", "64,000 is how many numbers the weight holds; the question asks "
                        "for its shape, a tuple (rows, columns).")
    shape = _as_int_tuple(answer)
    if shape is None or len(shape) != 2:
        return _verdict(False, "", "Answer with a tuple of two whole numbers, (rows, columns).")
    if shape == (64, 1000):
        return _verdict(False, "", "(in, out) is how Keras stores a Dense kernel. PyTorch's "
                        "nn.Linear(in, out) stores one ROW per output feature.")
    if shape in ((1000, 65), (65, 1000)):
        return _verdict(False, "", "The bias is not a column of the weight: nn.Linear keeps it "
                        "apart, in .bias, one number per output feature.")
    return _verdict(
        shape == (1000, 64),
        "nn.Linear(64, 1000) stores (out_features, in_features) = (1000, 64) and computes "
        "x @ W.T + b.",
        "nn.Linear(in_features, out_features) stores one row per output feature, each row as long "
        "as the input.",
    )


@exercise_checker
def check_tie_partner(answer) -> bool:
    """Exercise 01.2: `(in_features, out_features)` of the nn.Linear that can be tied with
    `nn.Embedding(50, 8)` (an `nn.Linear` itself is read as its two sizes)."""
    if hasattr(answer, "in_features") and hasattr(answer, "out_features"):
        answer = (answer.in_features, answer.out_features)
    shape = _as_int_tuple(answer)
    if shape is None or len(shape) != 2:
        return _verdict(False, "", "Answer with the two arguments of nn.Linear, "
                        "(in_features, out_features).")
    if shape == (50, 8):
        return _verdict(False, "", "(50, 8) is the shape the head's weight needs, but "
                        "nn.Linear(50, 8) has a weight of shape (8, 50), the transpose: "
                        "nn.Linear(in, out) stores (out, in). Which Linear has a (50, 8) weight?")
    return _verdict(
        shape == (8, 50),
        "nn.Linear(8, 50) has a (50, 8) weight, the shape of Embedding(50, 8).weight: it turns a "
        "size-8 hidden state into 50 logits.",
        "The embedding's weight is (50, 8), one row per token. The head must turn a size-8 hidden "
        "state into one logit per token.",
    )


LOGITS_HIDDEN = (1.0, 2.0, 0.0)
"""Exercise 01.3: the hidden state h."""

LOGITS_WEIGHT = ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0), (1.0, 1.0, 1.0))
"""Exercise 01.3: the weight of a bias-free head nn.Linear(3, 4), one row per token."""


def _close_lists(values, expected, tolerance: float = 1e-4) -> bool:
    return len(values) == len(expected) and all(
        abs(v - e) < tolerance for v, e in zip(values, expected))


@exercise_checker
def check_logits(answer) -> bool:
    """Exercise 01.3: the 4 logits of the bias-free head with weight `LOGITS_WEIGHT` at the
    hidden state `LOGITS_HIDDEN`."""
    expected = [sum(w * h for w, h in zip(row, LOGITS_HIDDEN)) for row in LOGITS_WEIGHT]
    products = [w * h for row in LOGITS_WEIGHT for w, h in zip(row, LOGITS_HIDDEN)]
    total = sum(math.exp(z) for z in expected)
    probabilities = [math.exp(z) / total for z in expected]
    try:
        values = _as_number_list(answer)
    except (TypeError, ValueError):
        return _verdict(False, "", "Answer with a list (or tensor) of numbers, one logit per "
                        "token.")
    if _close_lists(values, products):
        return _verdict(False, "", "You multiplied element by element but did not add: each logit "
                        "is ONE number, the sum of the products of h with one row.")
    if len(values) != len(expected):
        return _verdict(False, "", f"There is one logit per token, so {len(expected)} numbers "
                        f"(you gave {len(values)}): the weight has one row per token.")
    if _close_lists(values, probabilities):
        return _verdict(False, "", "Those are probabilities (they add up to 1), the softmax of the "
                        "logits. A logit is the dot product itself, before any softmax.")
    shift = values[0] - expected[0]
    if abs(shift) > 1e-4 and _close_lists(values, [e + shift for e in expected]):
        return _verdict(False, "", f"Each number is off by the same amount ({shift:+g}): this head "
                        "has no bias (bias=False), so a logit is the dot product alone.")
    return _verdict(
        _close_lists(values, expected),
        f"Logit k is the dot product of h with row k of the weight: {expected}.",
        "Logit k is the dot product of h with ROW k of the weight (that is x @ W.T): multiply "
        "element by element, then add.",
    )

