"""Notebook 05 (language_model): the tied LSTM's parameter count, a uniform guess's perplexity,
and the rows one step changes."""

from __future__ import annotations

import math

from ..recurrent_lm import lm_parameter_count
from .core import _as_int_tuple, _as_number, _verdict, exercise_checker


@exercise_checker
def check_tied_lm_parameters(answer, vocab: int = 1000, dim: int = 32) -> bool:
    """Exercise 05.1: how many unique parameters has the tied one-layer LSTM language model with
    `vocab` words and embedding = hidden = `dim`?"""
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
    return _verdict(answer == truth, f"{truth:,} parameters.", hint)


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
    return _verdict(near(vocab), f"a uniform guess over {vocab} words has perplexity "
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
                    f"{words_in_batch} input rows, all {vocab} output rows, and all "
                    f"{vocab} rows of a tied matrix (it is the output matrix too).", hint)

