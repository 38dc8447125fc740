"""Notebook 05 (language_model): its "Check yourself" checkers. For each exercise the right answer
passes, and each wrong answer listed in the exercise's design gets the hint that names its
mistake (asserted by a distinctive phrase). Where a hint states a fact about PyTorch or about
tied models, a test here runs the code that shows it.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from checking import assert_hint, assert_right
from torch import nn

from tying_utils.exercises import (
    check_rows_changed,
    check_tied_lm_parameters,
    check_uniform_perplexity,
)
from tying_utils.recurrent_lm import RecurrentLM, lm_parameter_count


def test_tied_lm_parameters_right(capsys):
    model = RecurrentLM(1000, 32, 32, tied=True)
    unique = sum(p.numel() for p in model.parameters())  # parameters() lists the tie once
    assert_right(capsys, check_tied_lm_parameters, unique, phrase="41,448")
    assert_right(capsys, check_tied_lm_parameters,
                 1000 * 32 + 1000 + 4 * (32 * 32 + 32 * 32 + 2 * 32))


@pytest.mark.parametrize("answer, hint", [
    (sum(p.numel() for p in RecurrentLM(1000, 32, 32, tied=False).parameters()),
     "That is the untied count"),  # the misconception: the matrix counted twice
    (41_448 - 1000, "the head also has a bias"),
    (32_000 + 1000 + 4 * (2 * 32 * 32 + 32), "two bias vectors"),
    (32_000 + 1000 + (2 * 32 * 32 + 2 * 32), "An LSTM has 4 gates"),
    (32_000 + 1000 + 4 * (32 * 32 + 2 * 32), "recurrent weights"),
    (12_345, "Add up"),
    (41_448.0, "whole number"),
    ("41448", "whole number"),
])
def test_tied_lm_parameters_wrong_gets_a_hint(answer, hint, capsys):
    assert_hint(capsys, check_tied_lm_parameters, hint, answer)


@pytest.mark.parametrize("answer", [1000, 1000.0, math.exp(-math.log(1 / 1000)),
                                    torch.tensor(1000.0), np.float64(1000)])
def test_uniform_perplexity_right(answer, capsys):
    assert_right(capsys, check_uniform_perplexity, answer, 1000, phrase="perplexity 1000")


@pytest.mark.parametrize("answer, hint", [
    (math.log(1000), "That is the cross-entropy, ln V"),  # the misconception: ppl = loss
    (math.log2(1000), "in bits"),
    (1 / 1000, "the probability of each word"),
    (500, "Perplexity is exp(mean cross-entropy)"),
    ("1000", "Answer with a number"),
])
def test_uniform_perplexity_wrong_gets_a_hint(answer, hint, capsys):
    assert_hint(capsys, check_uniform_perplexity, hint, answer, 1000)


@pytest.mark.parametrize("answer", [(234, 1000, 1000), [234, 1000, 1000],
                                    (torch.tensor(234), 1000, 1000)])
def test_rows_changed_right(answer, capsys):
    assert_right(capsys, check_rows_changed, answer, vocab=1000, words_in_batch=234,
                 phrase="all 1000 rows of a tied matrix")


@pytest.mark.parametrize("answer, hint", [
    ((234, 1000, 234), "The tied matrix is also the output matrix"),  # the main misconception
    ((234, 1000, 1234), "The tied matrix has 1000 rows"),
    ((1000, 1000, 1000), "only if its word is read"),  # every input row
    ((300, 1000, 1000), "The batch reads 234 distinct words"),
    ((234, 234, 234), "every output row gets a gradient"),
    ((234, 1000), "three whole numbers"),
    ("234, 1000, 1000", "three whole numbers"),
])
def test_rows_changed_wrong_gets_a_hint(answer, hint, capsys):
    assert_hint(capsys, check_rows_changed, hint, answer, vocab=1000, words_in_batch=234)


def test_rows_changed_truth_is_what_one_sgd_step_does(one_thread):
    """One plain-SGD step: input rows of the words read, every output row, every tied row."""
    vocab, tokens = 50, torch.tensor([[1, 2, 3, 2, 7, 9]])
    changed = {}
    for tied in (False, True):
        torch.manual_seed(0)
        model = RecurrentLM(vocab, 8, 8, tied=tied, dropout=0.0)
        before = {name: p.detach().clone()
                  for name, p in model.named_parameters(remove_duplicate=False)}
        logits, _ = model(tokens[:, :-1])
        loss = nn.functional.cross_entropy(logits.reshape(-1, vocab), tokens[:, 1:].reshape(-1))
        loss.backward()
        torch.optim.SGD(model.parameters(), lr=0.1).step()
        for name in ("embedding.weight", "head.weight"):
            rows = (model.get_parameter(name) != before[name]).any(-1)
            changed[tied, name] = int(rows.sum())
    words_read = len(tokens[:, :-1].unique())
    truth = (changed[False, "embedding.weight"], changed[False, "head.weight"],
             changed[True, "embedding.weight"])
    assert truth == (words_read, vocab, vocab)
    assert check_rows_changed(truth, vocab=vocab, words_in_batch=words_read)


def test_check_tied_lm_parameters_accepts_the_formula_and_explains_near_misses(capsys):
    from tying_utils.exercises import check_tied_lm_parameters

    truth = lm_parameter_count(1000, 32, 32, True)
    assert check_tied_lm_parameters(truth) and "✅" in capsys.readouterr().out
    assert not check_tied_lm_parameters(lm_parameter_count(1000, 32, 32, False))
    assert "untied count" in capsys.readouterr().out
    assert not check_tied_lm_parameters(truth - 1000)
    assert "bias" in capsys.readouterr().out
    assert not check_tied_lm_parameters("many") and not check_tied_lm_parameters(True)
    assert check_tied_lm_parameters(np.int64(lm_parameter_count(50, 8, 8, True)), 50, 8)


def test_check_uniform_perplexity(capsys):
    from tying_utils.exercises import check_uniform_perplexity

    assert check_uniform_perplexity(1000.0, 1000)
    assert not check_uniform_perplexity(math.log(1000), 1000)
    assert "cross-entropy" in capsys.readouterr().out
    assert not check_uniform_perplexity(None, 1000)


def test_check_rows_changed(capsys):
    from tying_utils.exercises import check_rows_changed

    assert check_rows_changed((300, 1000, 1000))
    assert not check_rows_changed((1000, 1000, 1000))
    assert "read in the batch" in capsys.readouterr().out
    assert not check_rows_changed((300, 300, 300))
    assert "every output row" in capsys.readouterr().out
    assert not check_rows_changed("all of them")
