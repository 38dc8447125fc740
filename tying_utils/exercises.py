"""Checkers for the "Check yourself" exercises at the end of every notebook.

Used by the "Check yourself" section of every notebook (01–07; tests/test_exercises.py holds each
checker to its hints). An exercise cell holds the placeholder `...` until the reader answers it:

    your_answer = ...  # replace ... with your answer
    _ = check_linear_weight_shape(your_answer)

Each checker prints one verdict and returns True or False, so Run All runs top to bottom. The
verdict starts with a word, so it reads right where the emoji shows as a box, and is wrapped to at
most 100 columns (`WIDTH`), so JupyterLab does not wrap it mid-word:

- "⏳ Not answered yet: …" (the constant `NOT_ANSWERED`) while the answer is still `...`, or, where
  the answer is a function, while that function still returns `...`;
- "✅ Right: " and why the answer is right;
- "❌ Not yet: " and a hint that names the mistake, not just "wrong".

How to write a checker (notebooks 06 and 07 add theirs at the end of this file):

    @exercise_checker
    def check_something(answer) -> bool:
        # no need to look for `...`: the decorator answers "not answered yet" for you
        result = call_answer(answer, x)  # only where the answer is a function: call it like this
        return _verdict(ok, "why it is right", "a hint that names the mistake")

`exercise_checker` prints `NOT_ANSWERED` when any argument is `...` (or holds `...` in a list,
tuple, set or dict), or when `call_answer` finds the reader's function returning `...`.
`call_answer` turns an exception in the reader's function into one ❌ line with the exception's
type and message, and the decorator does the same for an answer the checker itself cannot read.
"""

from __future__ import annotations

import difflib
import functools
import math
import numbers
import textwrap

NOT_ANSWERED = "⏳ Not answered yet: replace `...` with your answer"
RIGHT = "✅ Right: "
NOT_YET = "❌ Not yet: "
WIDTH = 100  # columns; the emoji counts as two


def wrapped(line: str) -> str:
    """`line` cut at spaces into lines of at most `WIDTH` columns, the later ones indented."""
    return textwrap.fill(line, WIDTH - 1, subsequent_indent="   ", break_long_words=False,
                         break_on_hyphens=False)


def _verdict(ok: bool, praise: str, hint: str) -> bool:
    """Print "✅ Right: " and `praise`, or "❌ Not yet: " and `hint`, wrapped to `WIDTH`
    columns; return `ok` so a notebook can assert on it."""
    print(wrapped((RIGHT + praise) if ok else (NOT_YET + hint)))
    return ok


class _NotAnswered(Exception):
    """Raised by `call_answer` when the reader's function still returns `...`."""


class _AnswerRaised(Exception):
    """Raised by `call_answer` when the reader's function fails; the message is the hint."""


def _one_line(error: BaseException) -> str:
    """`TypeError: the message`, on one line and not too long."""
    message = " ".join(str(error).split())
    text = f"{type(error).__name__}: {message}" if message else type(error).__name__
    return text if len(text) <= 200 else text[:199] + "…"


def _holds_placeholder(value, depth: int = 0) -> bool:
    """True if `value` is `...` or a list, tuple, set or dict (nested up to 3 deep) holding it."""
    if value is ...:
        return True
    if depth < 3 and isinstance(value, (list, tuple, set, frozenset)):
        return any(_holds_placeholder(item, depth + 1) for item in value)
    if depth < 3 and isinstance(value, dict):
        return any(_holds_placeholder(item, depth + 1) for item in value.values())
    return False


def call_answer(function, *args):
    """Call the reader's `function` with `args` and return what it returns.

    Inside a checker wearing `exercise_checker`: a function that still returns `...` ends the
    check with "not answered yet", one that raises ends it with a ❌ line naming the exception.
    """
    if not callable(function):
        raise _AnswerRaised(f"Answer with a function (def …), not a {type(function).__name__}.")
    try:
        result = function(*args)
    except Exception as error:  # the reader's code: report any failure in one line
        raise _AnswerRaised(f"Your function raised {_one_line(error)}") from None
    if result is ...:
        raise _NotAnswered
    return result


def exercise_checker(check):
    """Decorator worn by every `check_…` function: it handles the placeholder `...`.

    Any argument that is (or holds) `...`, or an answer function that returns `...` (see
    `call_answer`), prints `NOT_ANSWERED` and returns False. An answer the checker cannot read
    (an exception inside the checker) gets one ❌ line instead of a traceback.
    """

    @functools.wraps(check)
    def checked(*args, **kwargs) -> bool:
        if any(_holds_placeholder(value) for value in (*args, *kwargs.values())):
            print(NOT_ANSWERED)
            return False
        try:
            return check(*args, **kwargs)
        except _NotAnswered:
            print(NOT_ANSWERED)
            return False
        except _AnswerRaised as error:
            return _verdict(False, "", str(error))
        except Exception as error:  # an answer of a shape this checker did not foresee
            return _verdict(False, "", f"This answer could not be checked ({_one_line(error)}); "
                            "answer in the form the question asks for.")

    checked.is_exercise_checker = True
    return checked


# --- notebook 01: linear weight shapes -----------------------------------------------------------


def _as_int_tuple(answer) -> tuple | None:
    """`answer` as a tuple of ints (from a tuple, list or torch.Size), or None if it is not one."""
    if isinstance(answer, (str, bytes)):
        return None
    try:
        items = tuple(answer)
    except TypeError:
        return None
    if not all(hasattr(n, "__index__") and not isinstance(n, bool) for n in items):
        return None
    return tuple(int(n) for n in items)


def _as_number_list(answer) -> list[float]:
    """A flat list of floats from a list, tuple, tensor or array; TypeError/ValueError if not."""
    if hasattr(answer, "tolist"):
        answer = answer.tolist()
    if isinstance(answer, (list, tuple)):
        return [v for item in answer for v in _as_number_list(item)]
    if isinstance(answer, (str, bytes, bool)) or answer is None:
        raise TypeError(f"{answer!r} is not a number")
    return [float(answer)]


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


# --- notebook 02: parameter sharing --------------------------------------------------------------


def tying_puzzle():
    """Exercise 02.1: a small model whose names share memory in two different ways. Which ones?

    Read the code, then answer with `is` and `untyped_storage().data_ptr()`.
    """
    import torch
    from torch import nn

    with torch.random.fork_rng(devices=[]):  # leave the reader's random stream untouched
        torch.manual_seed(0)
        model = nn.Module()
        model.embedding = nn.Embedding(6, 4)
        model.head = nn.Linear(4, 6)
        model.decoder = nn.Linear(4, 6)
    model.embedding.weight = model.head.weight
    model.decoder.weight = nn.Parameter(model.head.weight.detach().clone())
    model.decoder.bias.data = model.head.bias.data
    return model


def _puzzle_truth() -> tuple[list[str], set[frozenset], set[frozenset], list[str]]:
    """The puzzle's names, its ties (names of one Parameter), its aliases (different Parameters
    over one memory) and its clones (names with equal values in memory of their own)."""
    import torch

    params = list(tying_puzzle().named_parameters(remove_duplicate=False))
    by_object: dict[int, set] = {}
    by_memory: dict[int, list] = {}
    for name, param in params:
        by_object.setdefault(id(param), set()).add(name)
        by_memory.setdefault(param.untyped_storage().data_ptr(), []).append((name, param))
    tied = {frozenset(names) for names in by_object.values() if len(names) > 1}
    aliased = {frozenset(name for name, _ in members) for members in by_memory.values()
               if len({id(param) for _, param in members}) > 1}
    alone = [members[0] for members in by_memory.values() if len(members) == 1]
    clones = [name for name, param in alone
              if any(other is not param and other.shape == param.shape
                     and torch.equal(other, param) for _, other in params)]
    return [name for name, _ in params], tied, aliased, clones


def _as_name_groups(answer) -> set[frozenset] | None:
    """`answer` as a set of groups of names, or None if it is not a list of lists of strings."""
    if isinstance(answer, (str, bytes)):
        return None
    try:
        groups = list(answer)
        if any(isinstance(group, (str, bytes)) for group in groups):
            return None
        result = {frozenset(group) for group in groups}
    except TypeError:
        return None
    return result if all(isinstance(n, str) for g in result for n in g) else None


def _names(group) -> str:
    return " and ".join(sorted(group))


@exercise_checker
def check_tied_names(tied, aliased) -> bool:
    """Exercise 02.1: in `tying_puzzle()`, the groups of names that are one Parameter object
    (`tied`) and the groups of different Parameter objects over one memory (`aliased`), each a
    list of lists of names, `[]` for none."""
    names, true_tied, true_aliased, clones = _puzzle_truth()
    answers = {"tied": _as_name_groups(tied), "aliased": _as_name_groups(aliased)}
    for label, groups in answers.items():
        if groups is None:
            return _verdict(False, "", f"Answer `{label}` with a list of groups, each a list of "
                            'names, e.g. [["embedding.weight", "head.weight"]], or [] for none.')
    given = answers["tied"] | answers["aliased"]
    for name in sorted(n for group in given for n in group):
        if name not in names:
            close = difflib.get_close_matches(name, names, n=1)
            maybe = f" (did you mean {close[0]!r}?)" if close else ""
            return _verdict(False, "", f"The puzzle has no parameter named {name!r}{maybe}; its "
                            f"names are {', '.join(names)}.")
    if any(len(group) < 2 for group in given):
        return _verdict(False, "", "Each group needs two or more names: a name alone shares "
                        "nothing.")
    for clone in clones:
        if any(clone in group for group in given):
            return _verdict(False, "", f"{clone} was built from a clone: equal values at the "
                            "start, but its own memory, so training moves it apart. It belongs "
                            "in no group.")
    for group in true_aliased:
        if group in answers["tied"]:
            return _verdict(False, "", f"{_names(group)} are two different Parameter objects "
                            "(`is` gives False) over one memory, made by assigning to `.data`: "
                            "that is an alias, not a tie. Put them in `aliased`.")
    for group in true_tied:
        if group in answers["aliased"]:
            return _verdict(False, "", f"{_names(group)} are one Parameter object (`is` gives "
                            "True): one object with two names is a tie. Put them in `tied`.")
        if group not in answers["tied"]:
            return _verdict(False, "", "`model.embedding.weight = model.head.weight` is the "
                            "classic tie: both names hold one Parameter (check with `is`).")
    for group in true_aliased:
        if group not in answers["aliased"]:
            return _verdict(False, "", "Look beyond `is`: two different Parameter objects can "
                            "share one memory (an assignment to `.data`). Compare "
                            "p.untyped_storage().data_ptr().")
    return _verdict(
        answers["tied"] == true_tied and answers["aliased"] == true_aliased,
        "embedding.weight and head.weight are one Parameter, a tie: an optimizer sees one matrix. "
        "head.bias and decoder.bias are two Parameters over one memory, an alias made with "
        "`.data`: `is` misses it, the memory address finds it, and an optimizer updates that "
        "memory once for each of the two Parameters.",
        "Put names in one group only when they share memory: `tied` when `is` is True, "
        "`aliased` when only untyped_storage().data_ptr() is equal.",
    )


@exercise_checker
def check_parameter_count(answer) -> bool:
    """Exercise 02.2: how many numbers does `EmbedHead(1000, 64, tied=True)` really hold?"""
    if isinstance(answer, bool) or not hasattr(answer, "__index__"):
        return _verdict(False, "", "Answer with a whole number.")
    answer = int(answer)
    matrix, bias = 1000 * 64, 1000
    if answer in (matrix + 64, 2 * matrix + 64):
        return _verdict(False, "", "The head's bias has one number per OUTPUT, one per token "
                        "(1000), not one per dimension (64).")
    if answer == 2 * matrix + bias:
        return _verdict(False, "", "You counted the shared matrix twice, once per name (what the "
                        "state_dict's entries add up to). Tied, it is one matrix.")
    if answer == 2 * matrix:
        return _verdict(False, "", "The shared matrix is counted once, not once per name; and "
                        "the head also has a bias.")
    if answer == matrix:
        return _verdict(False, "", "The matrix is counted once, right; now add the head's bias "
                        "(one number per token).")
    return _verdict(
        answer == matrix + bias,
        f"{matrix + bias:,}: one 1000×64 matrix shared by both names plus the head's 1000 biases.",
        "Count the (1000, 64) matrix once, then the head's bias; the embedding has no bias.",
    )


TIE_OPERATIONS = {
    "a": "model.to(torch.float64)",
    "b": "model.load_state_dict({k: v.clone() for k, v in model.state_dict().items()}, "
         "assign=True)",
    "c": "copy.deepcopy(model)",
    "d": "model.embedding.weight = nn.Parameter(model.head.weight.detach().clone())",
    "e": "torch.save(model.state_dict(), path), then "
         "model.load_state_dict(torch.load(path, weights_only=True))",
}
"""Exercise 02.3: operations on a tied `EmbedHead`; which ones leave it tied?"""

_SURVIVORS = {"a", "c", "e"}
_SURVIVOR_HINTS = {
    "a": "Module.to() changes the data of each Parameter and keeps the Parameter object, so "
         "both names still hold one.",
    "b": "assign=True puts the loaded tensors into the model as they are; two cloned tensors are "
         "two matrices.",
    "c": "deepcopy keeps a memo: the one Parameter is copied once and both names get that copy.",
    "d": "a clone has its own memory: equal values now, separate training later.",
    "e": "without assign=True, load_state_dict copies values INTO the existing Parameters, so the "
         "tie stays.",
}


@exercise_checker
def check_tie_survivors(answer) -> bool:
    """Exercise 02.3: the letters of the `TIE_OPERATIONS` after which the model is still tied,
    e.g. `"ab"` or `{"a", "b"}`."""
    try:
        letters = {str(letter).strip().lower() for letter in answer} - {"", ","}
    except TypeError:
        letters = None
    if letters is None or not letters <= set(TIE_OPERATIONS):
        return _verdict(False, "", "Answer with letters from TIE_OPERATIONS, e.g. \"ab\" or "
                        "{\"a\", \"b\"}.")
    wrongly_in = sorted(letters - _SURVIVORS)
    wrongly_out = sorted(_SURVIVORS - letters)
    if wrongly_in:
        return _verdict(False, "", f"({wrongly_in[0]}) breaks the tie: "
                        f"{_SURVIVOR_HINTS[wrongly_in[0]]}")
    if wrongly_out:
        return _verdict(False, "", f"({wrongly_out[0]}) keeps the tie: "
                        f"{_SURVIVOR_HINTS[wrongly_out[0]]}")
    return _verdict(True, "a, c and e keep one matrix; b and d leave two.", "")


# --- notebook 03: paired training ----------------------------------------------------------------

def _as_bool(answer) -> bool | None:
    """A Python bool, NumPy bool or one-element bool tensor/array as a bool; None otherwise."""
    import numpy as np
    import torch

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
    import torch

    from .models import SeedTied, SeedUntied

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
        "Right: the second model draws its weights after the first has used the generator, so "
        "the two heads differ and the comparison is not paired.",
        "Both models draw from one random generator, one after the other. Does the second "
        "model see the same random numbers as the first?",
    )


_SOFTMAX_JACOBIAN = "d(loss)/d(z_j) = p_j (g_j − Σ_k g_k p_k), with g = d(loss)/d(p)"


def _gradient_mistake(got, expected, probs, one_hot) -> str | None:
    """What is wrong with `got` as d(loss)/d(logits) of mean((probs - one_hot)²); None if right."""
    import itertools

    import torch

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
    import torch

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
    from torch import nn

    return (isinstance(model, nn.Module)
            and isinstance(getattr(model, "embedding", None), nn.Embedding)
            and isinstance(getattr(model, "head", None), nn.Linear))


def _same_values(a, b) -> bool:
    """Equal tensors (None equals None), whatever their floating dtype."""
    import torch

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
    from .train import RunConfig, build_model

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
             else "nn.Embedding's N(0, 1) draw (init='seed')")
    return _verdict(True, f"A fair pair of seed {PAIR_SEED}: the same head weight and bias, one "
                    "Parameter shared by the tied model's embedding and head, and the untied "
                    f"model's embedding starting from {start}.", "")


# --- notebook 04: loss curves --------------------------------------------------------------------

def _as_number(answer) -> float | None:
    """A real number (int, float, NumPy scalar, one-element tensor or array) as a float, or
    None (a bool, a string or anything else)."""
    if hasattr(answer, "tolist"):
        answer = answer.tolist()
        while isinstance(answer, list) and len(answer) == 1:
            answer = answer[0]
    if isinstance(answer, bool) or not isinstance(answer, numbers.Real):
        return None
    return float(answer)


@exercise_checker
def check_fraction_tied_faster(answer, tied_steps, untied_steps) -> bool:
    """Exercise 04.1: `answer`, the fraction of seeds in which tied reached the threshold in
    strictly fewer steps, given the paired arrays of steps to threshold (inf = never)."""
    import numpy as np

    tied_steps, untied_steps = np.asarray(tied_steps, float), np.asarray(untied_steps, float)
    seeds = len(tied_steps)
    value = _as_number(answer)
    if value is None:
        return _verdict(False, "", "Answer with one number, a fraction between 0 and 1.")
    truth = float(np.mean(tied_steps < untied_steps))
    half_a_seed = 0.5 / seeds  # a fraction rounded to the nearest seed still counts

    def near(x: float, scale: float = 1.0) -> bool:
        return abs(value - x * scale) < half_a_seed * scale

    if near(truth):
        return _verdict(True, f"Right: tied is first in {truth:.1%} of the {seeds} paired seeds "
                        "(equal steps count for neither).", "")
    with_equal = float(np.mean(tied_steps <= untied_steps))
    untied_first = float(np.mean(untied_steps < tied_steps))
    both_finite = np.isfinite(tied_steps) & np.isfinite(untied_steps)
    finite_only = (float(np.mean(tied_steps[both_finite] < untied_steps[both_finite]))
                   if both_finite.any() else truth)
    if value > 1 and near(truth, 100):
        hint = f"{value:g} is a percentage: answer with a fraction between 0 and 1."
    elif value > 1 and value.is_integer() and near(truth, seeds):
        hint = (f"{value:g} is a number of seeds: divide by the number of seeds ({seeds}) for "
                "the fraction.")
    elif near(with_equal) and with_equal != truth:
        hint = "You counted equal steps as a win for tied; only strictly fewer steps count."
    elif near(untied_first):
        hint = ("That is the fraction of seeds in which UNTIED was first; the question asks for "
                "tied.")
    elif near(1 - truth):
        hint = ("That is the fraction in which tied was NOT first (untied first, or equal steps); "
                "the question asks for the seeds where tied was first.")
    elif near(finite_only) and finite_only != truth:
        hint = ("You left out the seeds in which a model never reached the threshold (inf "
                "steps). They count too: tied getting there when untied never does is a win for "
                "tied.")
    else:
        hint = ("Compare seed by seed (the arrays are paired), count tied < untied, divide by the "
                "number of seeds; a seed that never got there has inf steps.")
    return _verdict(False, "", hint)


@exercise_checker
def check_where_tying_hurts(task) -> bool:
    """Exercise 04.2: which task, "identity" or "shift", does tying make harder to learn?"""
    if not isinstance(task, str):
        return _verdict(False, "", 'Answer with the task\'s name as a string, "identity" or '
                        '"shift".')
    name = task.strip().strip("'\"").strip().lower()
    name = name.removeprefix("the ").removesuffix(" task").strip()
    if name == "identity":
        return _verdict(False, "", "Identity is where a tied model is at home: its logits "
                        "W Wᵀ + b are a symmetric matrix with each row's squared length on the "
                        "diagonal, and identity wants the diagonal. Which task wants the entry "
                        "beside it?")
    if name != "shift":
        return _verdict(False, "", f'{task!r} is not one of the two tasks: answer "identity" or '
                        '"shift".')
    return _verdict(
        True,
        "Right: shift. A tied model scores token j after token i as W_i·W_j + b_j. To predict "
        "the whole cycle 0 → 1 → … → 9 → 0 it must score i + 1 above i for every i; adding "
        "those inequalities, the biases cancel and Σ W_i·W_{i+1} > Σ |W_i|² is left, which "
        "Cauchy–Schwarz forbids. The shift task's batches of 6 tokens never hold the whole "
        "cycle, and a tied model can fit such a batch: there it is not incapable, only much "
        "slower.",
        "",
    )


@exercise_checker
def check_matched_config(config) -> bool:
    """Exercise 04.3: a RunConfig in which sharing is the only difference between the tied and
    the untied model."""
    from .train import RunConfig

    if not isinstance(config, RunConfig):
        if isinstance(config, str) and config.strip().lower() == "matched":
            return _verdict(False, "", "Right idea; now answer with a whole RunConfig, "
                            "RunConfig(init=…), not only the name of the start.")
        return _verdict(False, "", "Answer with a RunConfig, the settings of one paired "
                        f"experiment, e.g. RunConfig(task=\"identity\"); you gave a "
                        f"{type(config).__name__}.")
    if config.init == "matched":
        return _verdict(True, "Right: with init='matched' the untied embedding starts as a copy "
                        "of the head weight, so at step 0 both models compute the same logits "
                        "and differ only in sharing.", "")
    if config.data_seed is not None:
        return _verdict(False, "", "Both models of a seed already train on the same data (the "
                        "comparison is paired), so fixing data_seed changes nothing between "
                        "them. What else differs between the two models at step 0?")
    return _verdict(False, "", "With init='seed' the untied embedding keeps nn.Embedding's "
                    "N(0, 1) start, so the two models differ in two ways. Which init makes the "
                    "untied E start equal to W?")


# --- notebook 05: language model -----------------------------------------------------------------

@exercise_checker
def check_tied_lm_parameters(answer, vocab: int = 1000, dim: int = 32) -> bool:
    """Exercise 05.1: how many unique parameters has the tied one-layer LSTM language model with
    `vocab` words and embedding = hidden = `dim`?"""
    from .lm import lm_parameter_count

    if isinstance(answer, bool) or not hasattr(answer, "__index__"):
        return _verdict(False, "", "Answer with a whole number (an int), the count of numbers "
                        "the model holds.")
    answer = int(answer)
    truth = lm_parameter_count(vocab, dim, dim, tied=True)
    shared_and_bias = vocab * dim + vocab
    near_misses = {
        lm_parameter_count(vocab, dim, dim, tied=False):
            "That is the untied count: tied, the embedding and the head are one (V, d) matrix, "
            "so count it once.",
        truth - vocab: "Almost: the head also has a bias, one number per word.",
        shared_and_bias + 4 * (2 * dim * dim + dim):
            "Almost: PyTorch's LSTM keeps two bias vectors (b_ih and b_hh), 4·d numbers each.",
        shared_and_bias + (2 * dim * dim + 2 * dim):
            "An LSTM has 4 gates (input, forget, cell, output), each with its own weights and "
            "biases: multiply the LSTM part by 4.",
        shared_and_bias + 4 * (dim * dim + 2 * dim):
            "Each gate also has recurrent weights, d·d numbers that read the previous hidden "
            "state.",
    }
    hint = near_misses.get(answer, "Add up: one shared V·d matrix, the head bias (V), and the "
                           "LSTM: 4 gates × (d·d input weights + d·d recurrent weights + 2·d "
                           "biases).")
    return _verdict(answer == truth, f"Right: {truth:,} parameters.", hint)


@exercise_checker
def check_uniform_perplexity(answer, vocab: int) -> bool:
    """Exercise 05.2: the perplexity of a model that gives each of `vocab` words probability
    1/vocab."""
    value = _as_number(answer)
    if value is None:
        return _verdict(False, "", "Answer with a number.")

    def near(x: float) -> bool:
        return math.isclose(value, x, rel_tol=1e-6)

    if near(math.log(vocab)):
        hint = "That is the cross-entropy, ln V nats; perplexity is exp of it."
    elif near(math.log2(vocab)):
        hint = ("That is the cross-entropy in bits, log₂ V; perplexity is 2 to that power (or exp "
                "of the cross-entropy in nats).")
    elif near(1 / vocab):
        hint = ("That is the probability of each word, 1/V. Perplexity is exp(cross-entropy), "
                "and one token costs −ln(1/V) nats.")
    else:
        hint = "Perplexity is exp(mean cross-entropy), and each token costs −ln(1/V) nats."
    return _verdict(near(vocab), f"Right: a uniform guess over {vocab} words has perplexity "
                    f"{vocab}, as if choosing among V equally likely words.", hint)


@exercise_checker
def check_rows_changed(answer, vocab: int = 1000, words_in_batch: int = 300) -> bool:
    """Exercise 05.3: one plain-SGD step reads `words_in_batch` distinct words. How many rows
    change in the untied input embedding, the untied output matrix, and the tied matrix?"""
    given = _as_int_tuple(answer)
    if given is None or len(given) != 3:
        return _verdict(False, "", "Answer with three whole numbers: (input rows, output rows, "
                        "tied rows).")
    truth = (words_in_batch, vocab, vocab)
    input_rows, output_rows, tied_rows = given
    if given == truth:
        hint = ""
    elif input_rows != words_in_batch:
        hint = ("An input row gets a gradient only if its word is read in the batch: the other "
                f"rows of nn.Embedding get zeros. The batch reads {words_in_batch} distinct "
                "words.")
    elif output_rows != vocab:
        hint = ("The softmax gives every word some probability, so every output row gets a "
                "gradient at every step.")
    elif tied_rows == words_in_batch:
        hint = ("The tied matrix is also the output matrix: the softmax's gradient reaches all "
                f"{vocab} of its rows at every step, not only the rows of the words read.")
    else:
        hint = (f"The tied matrix has {vocab} rows, one per word: it serves as input embedding "
                "and as output matrix, and as the output matrix every row gets a gradient.")
    return _verdict(given == truth,
                    f"Right: {words_in_batch} input rows, all {vocab} output rows, and all "
                    f"{vocab} rows of a tied matrix (it is the output matrix too).", hint)


# --- notebook 06: transformer --------------------------------------------------------------------

def _real_budget(model_id: str):
    from .budget import REAL_MODELS, parameter_budget

    return parameter_budget(REAL_MODELS[model_id]["config"])


def _as_whole_number(answer) -> int | None:
    """A whole number (an int, or a float or NumPy scalar with no fraction) as an int, or None."""
    value = _as_number(answer)
    if value is None or not math.isfinite(value) or value != int(value):
        return None
    return int(value)


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
        f"About √{dim} = {truth:g}. That spread is one part of why such a model's first loss is "
        f"far above ln V; the other is the input word's logit for itself, about d, because the "
        f"final hidden state is mostly that word's own row.",
        hint,
    )


@exercise_checker
def check_adam_bytes_saved(answer) -> bool:
    """Exercise 06.3: how many bytes of training state does tying save in Gemma 2B (vocabulary
    256,000, hidden size 2,048) when it trains with Adam in mixed precision (bf16 weight and
    gradient, fp32 master weight, Adam's two fp32 moments)?"""
    from .budget import BYTES_PER_PARAMETER

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


# --- notebook 07: tie lifecycle ------------------------------------------------------------------

@exercise_checker
def check_copied_head_count(answer, config) -> bool:
    """Exercise 07.1: the parameter count a loader reports when it copies the embedding of the
    tied model that `config` describes (a config dict of `budget.REAL_MODELS`) into the head
    instead of tying them, as in rasbt/LLMs-from-scratch #822."""
    from .budget import parameter_budget

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
    import torch
    from torch import nn

    from .audit import audit
    from .transformer import TransformerLM

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


# --- notebooks 08 and 09: their checkers live in exercises_nb08.py and exercises_nb09.py ----------
from .exercises_nb08 import check_dcp_names, check_pipeline_sync  # noqa: E402,F401,I001
from .exercises_nb09 import (  # noqa: E402,F401,I001
    check_gguf_head,
    check_int8_head_bytes,
    check_onnx_copy_bytes,
)
