"""Notebook 03 (paired_training): its "Check yourself" checkers. For each exercise the right answer
passes, and each wrong answer listed in the exercise's design gets the hint that names its
mistake (asserted by a distinctive phrase). Where a hint states a fact about PyTorch or about
tied models, a test here runs the code that shows it.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from checking import assert_hint, assert_right
from torch import nn

from tying_utils import EmbedHead, RunConfig, build_model
from tying_utils.exercises import (
    check_blog_heads,
    check_paired_models,
    check_softmax_mse_gradient,
)
from tying_utils.toy_models import SeedTied, SeedUntied


def test_the_blog_heads_really_differ():
    torch.manual_seed(0)
    model_1, model_2 = SeedUntied(), SeedTied()
    assert not torch.equal(model_1.head.weight, model_2.head.weight)


@pytest.mark.parametrize("answer", [
    False, np.False_, torch.tensor(False), np.array(False),
    torch.equal(torch.zeros(2), torch.ones(2)), (torch.zeros(3) == torch.ones(3)).all(),
])
def test_blog_heads_right_with_any_boolean(answer, capsys):
    assert_right(capsys, check_blog_heads, answer, phrase="not paired")


@pytest.mark.parametrize("answer, hint", [
    (True, "one random generator"),  # the misconception: one seed, so equal heads
    (np.True_, "one random generator"),
    (torch.tensor(True), "one random generator"),
    ("False", "without quotes"),
    ("no", "without quotes"),
    (0, "not the number 0"),
    (1.0, "not the number 1.0"),
    (torch.zeros(3) == torch.ones(3), "3 True/False values"),  # element by element
    (None, "Answer with True or False"),
])
def test_blog_heads_wrong_gets_a_hint(answer, hint, capsys):
    assert_hint(capsys, check_blog_heads, hint, answer)


def test_blog_heads_leaves_the_global_random_stream_alone(capsys):
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    check_blog_heads(False)
    assert torch.equal(torch.rand(3), expected)


def right_gradient(probs, one_hot):
    g = 2 * (probs - one_hot) / probs.numel()
    return probs * (g - (g * probs).sum(-1, keepdim=True))


def raises(probs, one_hot):
    return probs @ one_hot  # (6, 10) @ (6, 10)


@pytest.mark.parametrize("d_logits", [
    right_gradient,
    lambda p, t: right_gradient(p, t).float(),  # float32 is close enough
    lambda p, t: (lambda g: p * g - p * (p * g).sum(-1, keepdim=True))(2 * (p - t) / p.numel()),
])
def test_softmax_mse_gradient_right(d_logits, capsys):
    assert_right(capsys, check_softmax_mse_gradient, d_logits, phrase="matches autograd")


@pytest.mark.parametrize("d_logits, hint", [
    (lambda p, t: -right_gradient(p, t), "the sign is flipped"),
    (lambda p, t: right_gradient(p, t) / 2, "the factor 2 of d/dp (p − t)² = 2 (p − t) is "
                                            "missing"),
    (lambda p, t: 2 * right_gradient(p, t), "one factor 2 too many"),
    (lambda p, t: 2 * (p - t) / p.numel(), "You returned d(loss)/d(probs)"),  # no Jacobian
    (lambda p, t: (p - t) * 2 / p.numel(), "You returned d(loss)/d(probs)"),
    (lambda p, t: p - t, "gradient of cross-entropy"),  # the cross-entropy habit
    (lambda p, t: (p - t) / (p.numel() // p.shape[-1]), "gradient of cross-entropy"),
    (lambda p, t: right_gradient(p, t) * p.numel(), "yours is the gradient of the sum"),  # sum
    (lambda p, t: right_gradient(p, t) * p.shape[-1], "not by the 6 rows"),  # rows, not all
    (lambda p, t: right_gradient(p, t) * (p.numel() // p.shape[-1]), "not by the 10 tokens"),
    (lambda p, t: -right_gradient(p, t) / 2, "the sign is flipped (the gradient of (p − t)² is "
                                             "2 (p − t), pointing from t to p); the factor 2"),
    (lambda p, t: 2 * (p - t) / p.numel() * p * (1 - p), "only the diagonal of the softmax "
                                                         "Jacobian"),
    (lambda p, t: right_gradient(p, t).sum(-1), "a tensor of shape (6, 10); yours has shape "
                                                "(6,)"),
    (lambda p, t: right_gradient(p, t).numpy(), "your function returned a ndarray"),
    (lambda p, t: right_gradient(p, t).tolist(), "your function returned a list"),
    (lambda p, t: None, "returned None"),
    (lambda p, t: right_gradient(p, t) / 0, "nan or inf"),
    (lambda p, t: right_gradient(p, t) + 1e-3, "Go through the softmax"),
    (raises, "Your function raised RuntimeError: mat1 and mat2 shapes cannot be multiplied"),
    (lambda p: p, "Your function raised TypeError:"),  # one argument instead of two
    ("2 * (p - t)", "Answer with a function"),
])
def test_softmax_mse_gradient_wrong_gets_a_hint(d_logits, hint, capsys):
    assert_hint(capsys, check_softmax_mse_gradient, hint, d_logits)


def test_softmax_mse_gradient_does_not_let_the_answer_change_its_inputs(capsys):
    def in_place(probs, one_hot):
        probs.sub_(one_hot)  # a function that spoils its arguments still gets a fair check
        return right_gradient(probs + one_hot, one_hot)

    assert_right(capsys, check_softmax_mse_gradient, in_place)


PAIR = RunConfig(vocab=50, dim=8)


def pair(seed=7, config=PAIR, untied_config=None):
    return (build_model(untied_config or config, seed, tied=False),
            build_model(config, seed, tied=True))


def test_paired_models_right(capsys):
    assert_right(capsys, check_paired_models, *pair(), phrase="N(0, 1) draw (init='default')")
    matched = RunConfig(vocab=50, dim=8, init="matched")
    assert_right(capsys, check_paired_models, *pair(untied_config=matched),
                 phrase="a copy of the head (init='matched')")
    torch.manual_seed(7)  # built by hand, in the order build_model uses
    untied = EmbedHead(50, 8, tied=False)
    torch.manual_seed(7)
    assert_right(capsys, check_paired_models, untied, EmbedHead(50, 8, tied=True))
    assert_right(capsys, check_paired_models, *(m.double() for m in pair()))


def aliased_tie():
    untied, tied = pair()
    tied.embedding.weight = nn.Parameter(tied.head.weight.data)  # one memory, two Parameters
    return untied, tied


def unpaired():
    torch.manual_seed(7)  # one seed, then two models drawn one after the other
    return EmbedHead(50, 8, tied=False), EmbedHead(50, 8, tied=True)


def other_embedding():
    untied, tied = pair()
    with torch.no_grad():
        untied.embedding.weight.normal_()
    return untied, tied


@pytest.mark.parametrize("models, hint", [
    (pair(seed=0), "of seed 0: the exercise asks for seed 7"),  # the wrong seed
    (pair(seed=123), "not of seed 7"),
    (pair(config=RunConfig()), "a 10-token vocabulary with 3 dimensions"),  # the default sizes
    (pair(config=RunConfig(vocab=8, dim=50)), "8-token vocabulary with 50 dimensions"),
    (pair()[::-1], "The first model is tied and the second untied"),  # swapped order
    ((pair()[1], pair()[1]), "both are tied"),
    ((pair()[0], pair()[0]), "both are untied"),
    (unpaired(), "The two heads differ"),
    ((pair(seed=7)[0], pair(seed=8)[1]), "The two heads differ"),
    (aliased_tie(), "two Parameter objects over one memory"),
    (other_embedding(), "the untied model's embedding is not"),
    ((pair()[0], "tied"), "the tied one is a str"),
    ((nn.Linear(8, 50), pair()[1]), "the untied one is a Linear"),
])
def test_paired_models_wrong_gets_a_hint(models, hint, capsys):
    assert_hint(capsys, check_paired_models, hint, *models)
