"""Checkers for the "Check yourself" exercises at the end of every notebook.

Used by notebooks 01–05. Each checker takes the reader's answer, prints a short verdict and
returns True or False; a wrong answer gets a hint that points at the idea, not just "wrong".

    from tying_utils.exercises import check_...
    check_...(your_answer)
"""

from __future__ import annotations


def _verdict(ok: bool, praise: str, hint: str) -> bool:
    """Print ✅ and `praise`, or ❌ and `hint`; return `ok` so a notebook can assert on it."""
    print(("✅ " + praise) if ok else ("❌ Not yet. " + hint))
    return ok


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


def check_linear_weight_shape(answer) -> bool:
    """Exercise 01.1: the shape of `nn.Linear(64, 1000).weight`, as a tuple `(rows, columns)`."""
    shape = _as_int_tuple(answer)
    if shape is None or len(shape) != 2:
        return _verdict(False, "", "Answer with a tuple of two whole numbers, (rows, columns).")
    if shape == (64, 1000):
        return _verdict(False, "", "(in, out) is how Keras stores a Dense kernel. PyTorch's "
                        "nn.Linear(in, out) stores one ROW per output feature.")
    return _verdict(
        shape == (1000, 64),
        "nn.Linear(64, 1000) stores (out_features, in_features) = (1000, 64) and computes "
        "x @ W.T + b.",
        "nn.Linear(in_features, out_features) stores one row per output feature, each row as long "
        "as the input.",
    )


def check_tie_partner(answer) -> bool:
    """Exercise 01.2: `(in_features, out_features)` of the nn.Linear that can be tied with
    `nn.Embedding(50, 8)`."""
    shape = _as_int_tuple(answer)
    if shape is None or len(shape) != 2:
        return _verdict(False, "", "Answer with the two arguments of nn.Linear, "
                        "(in_features, out_features).")
    if shape == (50, 8):
        return _verdict(False, "", "nn.Linear(50, 8) has a weight of shape (8, 50), the transpose "
                        "of the embedding's (50, 8). Which Linear has a (50, 8) weight?")
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


def check_logits(answer) -> bool:
    """Exercise 01.3: the 4 logits of the bias-free head with weight `LOGITS_WEIGHT` at the
    hidden state `LOGITS_HIDDEN`."""
    expected = [sum(w * h for w, h in zip(row, LOGITS_HIDDEN)) for row in LOGITS_WEIGHT]
    try:
        values = _as_number_list(answer)
    except (TypeError, ValueError):
        return _verdict(False, "", "Answer with a list (or tensor) of numbers, one logit per "
                        "token.")
    if len(values) != len(expected):
        return _verdict(False, "", f"There is one logit per token, so {len(expected)} numbers "
                        f"(you gave {len(values)}): the weight has one row per token.")
    return _verdict(
        all(abs(v - e) < 1e-4 for v, e in zip(values, expected)),
        f"Logit k is the dot product of h with row k of the weight: {expected}.",
        "Logit k is the dot product of h with ROW k of the weight (that is x @ W.T): multiply "
        "element by element, then add.",
    )



# --- notebook 02: parameter sharing --------------------------------------------------------------


def tying_puzzle():
    """Exercise 02.1: a small model with some tied parameters. Which names share memory?

    Read the code, then answer without `tied_groups` (try `is` and `untyped_storage().data_ptr()`).
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


_PUZZLE_NAMES = ("embedding.weight", "head.weight", "head.bias", "decoder.weight", "decoder.bias")
_PUZZLE_GROUPS = {frozenset({"embedding.weight", "head.weight"}),
                  frozenset({"decoder.bias", "head.bias"})}


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


def check_tied_names(answer) -> bool:
    """Exercise 02.1: the groups of tied names in `tying_puzzle()`, as a list of lists of names."""
    groups = _as_name_groups(answer)
    if groups is None:
        return _verdict(False, "", 'Answer with a list of groups, each a list of names, e.g. '
                        '[["embedding.weight", "head.weight"]].')
    unknown = sorted(n for g in groups for n in g if n not in _PUZZLE_NAMES)
    if unknown:
        return _verdict(False, "", f"The puzzle has no parameter named {unknown[0]!r}; its names "
                        f"are {', '.join(_PUZZLE_NAMES)}.")
    if any(len(g) < 2 for g in groups):
        return _verdict(False, "", "Each group needs two or more names: a name alone is not tied "
                        "to anything.")
    if any("decoder.weight" in g for g in groups):
        return _verdict(False, "", "decoder.weight was built from a clone: equal values at the "
                        "start, but its own memory, so training moves it apart.")
    if frozenset({"embedding.weight", "head.weight"}) not in groups:
        return _verdict(False, "", "`model.embedding.weight = model.head.weight` is the classic "
                        "tie: both names hold one Parameter (check with `is`).")
    if frozenset({"decoder.bias", "head.bias"}) not in groups:
        return _verdict(False, "", "Look beyond `is`: two different Parameter objects can share "
                        "one memory (an assignment to `.data`). Compare "
                        "p.untyped_storage().data_ptr().")
    return _verdict(
        groups == _PUZZLE_GROUPS,
        "embedding.weight and head.weight are one Parameter; head.bias and decoder.bias are two "
        "Parameters over one memory (the kind of tie only a memory check finds).",
        "Put names in one group only when they share memory; check each pair with `is` and "
        "untyped_storage().data_ptr().",
    )


def check_parameter_count(answer) -> bool:
    """Exercise 02.2: how many numbers does `EmbedHead(1000, 64, tied=True)` really hold?"""
    if isinstance(answer, bool) or not hasattr(answer, "__index__"):
        return _verdict(False, "", "Answer with a whole number.")
    answer = int(answer)
    matrix, bias = 1000 * 64, 1000
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

def check_blog_heads(same: bool) -> bool:
    """Do the blog's Model_1 and Model_2 start with the same head weight? Answer True or False."""
    import torch

    from .models import SeedTied, SeedUntied

    torch.manual_seed(0)
    model_1, model_2 = SeedUntied(), SeedTied()  # built one after the other, as in the blog
    truth = torch.equal(model_1.head.weight, model_2.head.weight)
    return _verdict(
        same is truth,
        "Right: the second model draws its weights after the first has used the generator, so "
        "the two heads differ and the comparison is not paired.",
        "Both models draw from one random generator, one after the other. Does the second "
        "model see the same random numbers as the first?",
    )


def check_softmax_mse_gradient(d_logits) -> bool:
    """`d_logits(probs, one_hot)` should return d(loss)/d(logits) for the blog's loss,
    `loss = mean((softmax(logits) - one_hot) ** 2)` over all elements."""
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
        got = d_logits(probs.detach(), target)
        if not isinstance(got, torch.Tensor) or got.shape != expected.shape:
            return _verdict(False, "", f"Return a tensor of the logits' shape {tuple(shape)}.")
        if not torch.allclose(got.to(expected.dtype), expected, atol=1e-10):
            scale = (got / expected).nanmedian().item()
            hint = (
                f"Your gradient is about {scale:.3g} times autograd's: the mean divides by the "
                "number of elements, and d/dp of (p - t)² is 2 (p - t)."
                if abs(scale - 1) > 1e-3 and torch.allclose(got / scale, expected, atol=1e-8)
                else "Go through the softmax: d(loss)/d(logit_j) = p_j (g_j - Σ_k g_k p_k), "
                "with g = d(loss)/d(p)."
            )
            return _verdict(False, "", hint)
    return _verdict(True, "It matches autograd on two shapes: this is what train_many computes.",
                    "")


def check_paired_models(untied, tied) -> bool:
    """Are `untied` and `tied` (two EmbedHead models) a fair pair: same head, tied really tied?"""
    import torch

    from .tying import tied_groups

    heads_equal = torch.equal(untied.head.weight, tied.head.weight) and torch.equal(
        untied.head.bias, tied.head.bias
    )
    tied_ok = ["embedding.weight", "head.weight"] in tied_groups(tied)
    untied_ok = not tied_groups(untied)
    if not heads_equal:
        return _verdict(False, "", "The heads differ: build both models right after the same "
                        "torch.manual_seed(s), or use tying_utils.build_model(config, s, tied).")
    if not (tied_ok and untied_ok):
        return _verdict(False, "", "One model is not what its name says: the tied one must share "
                        "embedding.weight and head.weight, the untied one must not.")
    return _verdict(True, "A fair pair: same head and bias, and only the tied model shares.", "")


# --- notebook 04: loss curves --------------------------------------------------------------------

def check_fraction_tied_faster(answer: float, tied_steps, untied_steps) -> bool:
    """`answer`: the fraction of seeds in which tied reached the threshold in strictly fewer
    steps, given the paired arrays of steps to threshold (inf = never)."""
    import numpy as np

    tied_steps, untied_steps = np.asarray(tied_steps, float), np.asarray(untied_steps, float)
    truth = float(np.mean(tied_steps < untied_steps))
    with_equal = float(np.mean(tied_steps <= untied_steps))
    close = abs(float(answer) - truth) < 1e-9
    hint = (
        "You counted equal steps as a win for tied; only strictly fewer steps count."
        if abs(float(answer) - with_equal) < 1e-9 and with_equal != truth
        else "Compare seed by seed (the arrays are paired), count tied < untied, divide by the "
        "number of seeds; a seed that never got there has inf steps."
    )
    return _verdict(close, f"Right: {truth:.1%}.", hint)


def check_where_tying_hurts(task: str) -> bool:
    """Which task, "identity" or "shift", does tying make harder to learn, and why?"""
    return _verdict(
        task == "shift",
        "Yes: a tied model's logits E Eᵀ + b are symmetric, so it cannot make token i point to "
        "i + 1 without making i + 1 point back to i, and its diagonal is large.",
        "Look at the tied model's logit matrix: it is symmetric with a large diagonal. Which "
        "task wants a large diagonal, and which wants the entry next to it?",
    )


def check_matched_config(config) -> bool:
    """A RunConfig in which sharing is the only difference between the tied and untied model."""
    ok = getattr(config, "init", None) == "matched"
    return _verdict(
        ok,
        "Right: with init='matched' the untied embedding starts as a copy of the head weight.",
        "With init='seed' the untied embedding keeps nn.Embedding's N(0, 1) start, so the two "
        "models differ in two ways. Which init makes the untied E start equal to W?",
    )


# --- notebook 05: language model -----------------------------------------------------------------

def check_tied_lm_parameters(answer, vocab: int = 1000, dim: int = 32) -> bool:
    """How many unique parameters has the tied one-layer LSTM language model with `vocab` words
    and embedding = hidden = `dim`?"""
    import numbers

    from .lm import lm_parameter_count

    truth = lm_parameter_count(vocab, dim, dim, tied=True)
    lstm_one_bias = 4 * (2 * dim * dim + dim)
    near_misses = {
        lm_parameter_count(vocab, dim, dim, tied=False):
            "That is the untied count: tied, the embedding and the head are one (V, d) matrix, "
            "so count it once.",
        truth - vocab: "Almost: the head also has a bias, one number per word.",
        vocab * dim + vocab + lstm_one_bias:
            "Almost: PyTorch's LSTM keeps two bias vectors (b_ih and b_hh), 4·d numbers each.",
    }
    whole = isinstance(answer, numbers.Integral) and not isinstance(answer, bool)
    ok = whole and int(answer) == truth
    hint = near_misses.get(int(answer) if whole else None,
                           "Add up: one shared V·d matrix, the head bias (V), and the LSTM: "
                           "4 gates × (d·d input weights + d·d recurrent weights + 2·d biases).")
    return _verdict(ok, f"Right: {truth:,} parameters.", hint)


def check_uniform_perplexity(answer, vocab: int) -> bool:
    """The perplexity of a model that gives each of `vocab` words probability 1/vocab."""
    import math

    try:
        value = float(answer)
    except (TypeError, ValueError):
        value = math.nan
    ok = math.isclose(value, vocab, rel_tol=1e-6)
    hint = ("That is the cross-entropy, ln V; perplexity is exp of it." if
            math.isclose(value, math.log(vocab), rel_tol=1e-6) else
            "Perplexity is exp(mean cross-entropy), and each token costs -ln(1/V) nats.")
    return _verdict(ok, f"Right: a uniform guess over {vocab} words has perplexity {vocab}, "
                    "as if choosing among V equally likely words.", hint)


def check_rows_changed(answer, vocab: int = 1000, words_in_batch: int = 300) -> bool:
    """One plain-SGD step of the untied model reads `words_in_batch` distinct words. How many
    rows change in (input embedding, output matrix, and the tied matrix of a tied model)?"""
    truth = (words_in_batch, vocab, vocab)
    try:
        given = tuple(int(v) for v in answer)
    except (TypeError, ValueError):
        given = ()
    if given[:1] == (vocab,):
        hint = ("An input row gets a gradient only if its word is read in the batch: the other "
                "rows of nn.Embedding get zeros.")
    elif len(given) == 3 and given[1] != vocab:
        hint = ("The softmax gives every word some probability, so every output row gets a "
                "gradient at every step.")
    else:
        hint = "Answer with three numbers: (input rows, output rows, tied rows)."
    return _verdict(given == truth,
                    f"Right: {words_in_batch} input rows, all {vocab} output rows, and all "
                    f"{vocab} rows of a tied matrix (it is the output matrix too).", hint)
