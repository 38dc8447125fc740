"""The "Check yourself" checkers: the placeholder, right answers, and a hint for each mistake.

Every checker of tying_utils.exercises (01.1 to 05.3, and any a later notebook adds) answers the
placeholder `...` with the not-answered line. For each exercise the right answer passes, and each
wrong answer listed in the exercise's design gets the hint that names its mistake (asserted by a
distinctive phrase). Where a hint states a fact about PyTorch or about tied models, a test here
runs the code that shows it.
"""

from __future__ import annotations

import copy
import inspect
import math

import numpy as np
import pytest
import torch
from torch import nn

from tying_utils import EmbedHead, RunConfig, build_model, train_many
from tying_utils import exercises as ex
from tying_utils.exercises import (
    LOGITS_HIDDEN,
    LOGITS_WEIGHT,
    NOT_ANSWERED,
    TIE_OPERATIONS,
    check_blog_heads,
    check_fraction_tied_faster,
    check_linear_weight_shape,
    check_logits,
    check_matched_config,
    check_paired_models,
    check_parameter_count,
    check_rows_changed,
    check_softmax_mse_gradient,
    check_tie_partner,
    check_tie_survivors,
    check_tied_lm_parameters,
    check_tied_names,
    check_uniform_perplexity,
    check_where_tying_hurts,
    tying_puzzle,
)
from tying_utils.lm import RecurrentLM
from tying_utils.models import SeedTied, SeedUntied

CHECKERS = sorted(name for name, value in vars(ex).items()
                  if name.startswith("check_") and callable(value))


def verdict(capsys, checker, *args, **kwargs):
    """The checker's return value and its verdict, unwrapped into one line: every printed line
    must fit in 100 columns (the emoji counts as two)."""
    ok = checker(*args, **kwargs)
    out = capsys.readouterr().out
    for line in out.splitlines():
        columns = len(line) + sum(line.count(mark) for mark in "✅❌⏳")
        assert columns <= 100, f"a verdict line of {columns} columns: {line!r}"
    return ok, " ".join(out.split())


def assert_right(capsys, checker, *args, phrase="", **kwargs):
    ok, out = verdict(capsys, checker, *args, **kwargs)
    assert ok is True, out
    assert out.startswith("✅ Right: ") and phrase in out, out


def assert_hint(capsys, checker, hint, *args, **kwargs):
    ok, out = verdict(capsys, checker, *args, **kwargs)
    assert ok is False, out
    assert out.startswith("❌ Not yet: "), out
    assert hint in out, f"expected {hint!r} in {out!r}"


# --- the placeholder, for every checker ----------------------------------------------------------


def test_the_not_answered_line_is_the_one_the_course_promises():
    assert NOT_ANSWERED == "⏳ Not answered yet: replace `...` with your answer"


def test_there_are_checkers_for_notebooks_01_to_05():
    assert len(CHECKERS) >= 15


@pytest.mark.parametrize("name", CHECKERS)
def test_every_checker_answers_the_placeholder(name, capsys):
    """Each required argument left as `...` prints exactly the not-answered line."""
    checker = getattr(ex, name)
    assert getattr(checker, "is_exercise_checker", False), f"decorate {name} with exercise_checker"
    required = [p for p in inspect.signature(checker).parameters.values()
                if p.default is inspect.Parameter.empty
                and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    ok, out = verdict(capsys, checker, *[...] * len(required))
    assert ok is False and out == NOT_ANSWERED


@pytest.mark.parametrize("call", [
    lambda: check_rows_changed((..., ..., ...), vocab=10, words_in_batch=3),
    lambda: check_rows_changed((3, 10, ...), vocab=10, words_in_batch=3),
    lambda: check_tied_names([["embedding.weight", "head.weight"]], ...),
    lambda: check_tied_names({"tied": ...}, []),
    lambda: check_uniform_perplexity(..., vocab=10),
])
def test_a_placeholder_left_inside_an_answer_is_not_answered_yet(call, capsys):
    assert call() is False
    assert capsys.readouterr().out.strip() == NOT_ANSWERED


def test_a_function_answer_that_returns_the_placeholder_is_not_answered_yet(capsys):
    def d_logits(probs, one_hot):
        return ...  # replace ... with your answer

    ok, out = verdict(capsys, check_softmax_mse_gradient, d_logits)
    assert ok is False and out == NOT_ANSWERED


def test_an_answer_the_checker_cannot_read_gets_one_line_not_a_traceback(capsys):
    assert_hint(capsys, check_tied_names, "could not be checked (TypeError:",
                [["embedding.weight", "head.weight"]])  # the second answer is missing


# --- notebook 01 ---------------------------------------------------------------------------------


@pytest.mark.parametrize("answer", [(1000, 64), [1000, 64], torch.Size([1000, 64]),
                                    tuple(nn.Linear(64, 1000).weight.shape),
                                    (np.int64(1000), np.int64(64))])
def test_linear_weight_shape_right(answer, capsys):
    assert_right(capsys, check_linear_weight_shape, answer, phrase="(out_features, in_features)")


@pytest.mark.parametrize("answer, hint", [
    ((64, 1000), "Keras"),  # the misconception: (in, out)
    ((1000, 65), "The bias is not a column"),  # the bias counted into the weight
    ((65, 1000), "The bias is not a column"),
    (64_000, "how many numbers the weight holds"),  # the size, not the shape
    ((1000, 63), "one row per output feature"),
    ((1000,), "tuple of two whole numbers"),
    ("1000x64", "tuple of two whole numbers"),
    ((1000.0, 64.0), "tuple of two whole numbers"),
])
def test_linear_weight_shape_wrong_gets_a_hint(answer, hint, capsys):
    assert_hint(capsys, check_linear_weight_shape, hint, answer)


@pytest.mark.parametrize("answer", [(8, 50), [8, 50], nn.Linear(8, 50)])
def test_tie_partner_right(answer, capsys):
    assert_right(capsys, check_tie_partner, answer, phrase="Linear(8, 50)")


@pytest.mark.parametrize("answer, hint", [
    ((50, 8), "the transpose"),  # the weight's shape given as the Linear's arguments
    (nn.Linear(50, 8), "the transpose"),
    ((8, 8), "one logit per token"),
    ((50, 50), "one logit per token"),
    (None, "(in_features, out_features)"),
    ("Linear(8, 50)", "(in_features, out_features)"),
])
def test_tie_partner_wrong_gets_a_hint(answer, hint, capsys):
    assert_hint(capsys, check_tie_partner, hint, answer)


def test_logits_right_computed_like_a_head(capsys):
    head = nn.Linear(3, 4, bias=False)
    with torch.no_grad():
        head.weight.copy_(torch.tensor(LOGITS_WEIGHT))
    logits = head(torch.tensor(LOGITS_HIDDEN)).detach()
    assert_right(capsys, check_logits, logits, phrase="[1.0, 2.0, 0.0, 3.0]")
    assert_right(capsys, check_logits, [1, 2, 0, 3])
    assert_right(capsys, check_logits, np.array([[1.0, 2.0, 0.0, 3.0]]))


@pytest.mark.parametrize("answer, hint", [
    (torch.tensor(LOGITS_WEIGHT) * torch.tensor(LOGITS_HIDDEN), "did not add"),  # no sum
    (torch.softmax(torch.tensor([1.0, 2.0, 0.0, 3.0]), 0), "Those are probabilities"),
    ([2, 3, 1, 4], "has no bias"),  # a bias of 1 added
    ([1, 2, 0], "4 numbers (you gave 3)"),
    ([1, 2, 0, 4], "ROW k"),
    (torch.tensor(LOGITS_WEIGHT).T @ torch.ones(4), "4 numbers (you gave 3)"),  # columns
    ("1 2 0 3", "list (or tensor) of numbers"),
    ([1, None, 0, 3], "list (or tensor) of numbers"),
])
def test_logits_wrong_gets_a_hint(answer, hint, capsys):
    assert_hint(capsys, check_logits, hint, answer)


# --- notebook 02 ---------------------------------------------------------------------------------

TIE = ["embedding.weight", "head.weight"]
ALIAS = ["decoder.bias", "head.bias"]


def test_the_puzzle_holds_one_tie_one_alias_and_one_clone():
    """The truth the checker computes, seen with `is` and data_ptr, as the exercise asks."""
    puzzle = tying_puzzle()
    assert puzzle.embedding.weight is puzzle.head.weight  # a tie: one Parameter
    assert puzzle.head.bias is not puzzle.decoder.bias  # an alias: two Parameters, one memory
    assert (puzzle.head.bias.untyped_storage().data_ptr()
            == puzzle.decoder.bias.untyped_storage().data_ptr())
    assert torch.equal(puzzle.decoder.weight, puzzle.head.weight)  # a clone: equal values…
    assert (puzzle.decoder.weight.untyped_storage().data_ptr()
            != puzzle.head.weight.untyped_storage().data_ptr())  # …in memory of its own


def test_an_optimizer_updates_the_aliased_memory_once_per_parameter():
    """The praise says so: plain SGD with lr 1 and a gradient of ones moves the alias by 2."""
    puzzle = tying_puzzle()
    before = puzzle.head.bias.detach().clone()
    params = list(puzzle.parameters())
    for param in params:
        param.grad = torch.ones_like(param)
    torch.optim.SGD(params, lr=1.0).step()
    assert torch.allclose(puzzle.head.bias, before - 2)
    assert sum(p is puzzle.head.weight for p in params) == 1  # the tie is stepped once


def test_tying_puzzle_leaves_the_global_random_stream_alone():
    torch.manual_seed(3)
    expected = torch.rand(2)
    torch.manual_seed(3)
    tying_puzzle()
    assert torch.equal(torch.rand(2), expected)


@pytest.mark.parametrize("tied, aliased", [
    ([TIE], [ALIAS]),
    ([tuple(reversed(TIE))], [set(ALIAS)]),
    ((TIE,), (ALIAS,)),
])
def test_tied_names_right(tied, aliased, capsys):
    assert_right(capsys, check_tied_names, tied, aliased, phrase="an alias made with `.data`")


@pytest.mark.parametrize("tied, aliased, hint", [
    ([TIE, ALIAS], [], "that is an alias, not a tie"),  # the alias listed as tied
    ([ALIAS], [TIE], "that is an alias, not a tie"),
    ([], [TIE, ALIAS], "one object with two names is a tie"),  # the tie listed as an alias
    ([TIE + ["decoder.weight"]], [ALIAS], "decoder.weight was built from a clone"),
    ([TIE], [ALIAS, ["decoder.weight", "head.weight"]], "decoder.weight was built from a clone"),
    ([], [ALIAS], "classic tie"),  # the tie missed
    ([TIE], [], "Look beyond `is`"),  # the alias missed (what an `is` check alone gives)
    ([["embedding.weight", "head.weights"]], [ALIAS], "did you mean 'head.weight'"),  # misspelt
    ([TIE], [["decoder.bais", "head.bias"]], "no parameter named 'decoder.bais'"),
    ([TIE, ["head.bias"]], [ALIAS], "two or more names"),
    ([TIE], [ALIAS, ["embedding.weight", "head.bias"]], "Put names in one group only"),
    ("embedding.weight", [ALIAS], "Answer `tied` with a list of groups"),
    (TIE, [ALIAS], "Answer `tied` with a list of groups"),
    ([TIE], 42, "Answer `aliased` with a list of groups"),
])
def test_tied_names_wrong_gets_a_hint(tied, aliased, hint, capsys):
    assert_hint(capsys, check_tied_names, hint, tied, aliased)


def test_parameter_count_right(capsys):
    model = EmbedHead(1000, 64, tied=True)
    unique = sum(p.numel() for p in model.parameters())  # parameters() lists a tie once
    assert_right(capsys, check_parameter_count, unique, phrase="65,000")
    assert_right(capsys, check_parameter_count, np.int64(65_000))


@pytest.mark.parametrize("answer, hint", [
    (129_000, "counted the shared matrix twice"),  # once per name: the state_dict's sum
    (128_000, "the head also has a bias"),
    (64_000, "add the head's bias"),
    (64_064, "not one per dimension"),  # a bias per dimension
    (66_000, "Count the (1000, 64) matrix once"),
    ("65000", "whole number"),
    (65000.0, "whole number"),
])
def test_parameter_count_wrong_gets_a_hint(answer, hint, capsys):
    assert_hint(capsys, check_parameter_count, hint, answer)


@pytest.mark.parametrize("answer", ["ace", "a, c, e", {"a", "c", "e"}, ["E", "C", "A"]])
def test_tie_survivors_right(answer, capsys):
    assert_right(capsys, check_tie_survivors, answer, phrase="b and d leave two")


@pytest.mark.parametrize("answer, hint", [
    ("abce", "(b) breaks the tie: assign=True"),  # the misconception: a load always keeps it
    ("acde", "(d) breaks the tie: a clone"),
    ("ac", "(e) keeps the tie: without assign=True"),  # the misconception: saving breaks it
    ("ce", "(a) keeps the tie: Module.to()"),  # the misconception: .to() makes new tensors
    ("ae", "(c) keeps the tie: deepcopy keeps a memo"),
    ("", "(a) keeps the tie"),
    ("acz", "letters from TIE_OPERATIONS"),
    (3, "letters from TIE_OPERATIONS"),
])
def test_tie_survivors_wrong_gets_a_hint(answer, hint, capsys):
    assert_hint(capsys, check_tie_survivors, hint, answer)


def test_tie_operations_are_the_letters_a_to_e():
    assert list(TIE_OPERATIONS) == ["a", "b", "c", "d", "e"]


def test_every_tie_survivor_hint_is_what_torch_does(tmp_path, capsys):
    """Run each operation of exercise 02.3 in the installed PyTorch and check each hint's claim."""
    def fresh():
        torch.manual_seed(0)
        return EmbedHead(10, 3, tied=True)

    def tied(model):
        return model.embedding.weight is model.head.weight

    def one_memory(model):
        return (model.embedding.weight.untyped_storage().data_ptr()
                == model.head.weight.untyped_storage().data_ptr())

    survivors = set()
    # (a) Module.to() changes each Parameter's data and keeps the Parameter object
    model = fresh()
    shared = model.head.weight
    model = model.to(torch.float64)
    assert model.head.weight is shared and shared.dtype == torch.float64
    survivors |= {"a"} if tied(model) else set()
    # (b) assign=True puts the two loaded clones into the model: two matrices
    model = fresh()
    model.load_state_dict({k: v.clone() for k, v in model.state_dict().items()}, assign=True)
    assert not tied(model) and not one_memory(model)
    survivors |= {"b"} if tied(model) else set()
    # (c) deepcopy copies the one Parameter once; both names get that copy
    model = fresh()
    duplicate = copy.deepcopy(model)
    assert duplicate.head.weight is not model.head.weight
    survivors |= {"c"} if tied(duplicate) else set()
    # (d) a clone has its own memory
    model = fresh()
    model.embedding.weight = nn.Parameter(model.head.weight.detach().clone())
    assert not one_memory(model)
    survivors |= {"d"} if tied(model) else set()
    # (e) without assign=True, load_state_dict copies values into the existing Parameters
    model = fresh()
    shared = model.head.weight
    torch.save(model.state_dict(), tmp_path / "tied.pt")
    model.load_state_dict(torch.load(tmp_path / "tied.pt", weights_only=True))
    assert model.head.weight is shared
    survivors |= {"e"} if tied(model) else set()

    assert survivors == {"a", "c", "e"}
    assert_right(capsys, check_tie_survivors, survivors)


# --- notebook 03 ---------------------------------------------------------------------------------


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
    assert_right(capsys, check_paired_models, *pair(), phrase="N(0, 1) draw (init='seed')")
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


# --- notebook 04 ---------------------------------------------------------------------------------

# Ten paired seeds by hand: tied first in 4 (2 of them because untied never got there, inf),
# equal in 2, untied first in 4 (1 because tied never got there). Of the 7 seeds where both got
# there, tied was first in 2.
TIED_STEPS = np.array([100, 200, 300, 400, 500, 600, 700, 800, 900, np.inf])
UNTIED_STEPS = np.array([150, 250, np.inf, np.inf, 500, 600, 650, 750, 850, 950])


def test_fraction_tied_faster_right(capsys):
    assert_right(capsys, check_fraction_tied_faster, 0.4, TIED_STEPS, UNTIED_STEPS,
                 phrase="40.0% of the 10 paired seeds")
    assert_right(capsys, check_fraction_tied_faster, np.mean(TIED_STEPS < UNTIED_STEPS),
                 TIED_STEPS, UNTIED_STEPS)
    assert_right(capsys, check_fraction_tied_faster, torch.tensor(0.4), TIED_STEPS, UNTIED_STEPS)


def test_fraction_tied_faster_right_on_a_real_run(capsys):
    from tying_utils import default_threshold, steps_to_threshold

    run = train_many(RunConfig(steps=400, lr=0.01), 20)
    threshold = default_threshold("mse", 10)
    tied = steps_to_threshold(run.losses["tied"], threshold)
    untied = steps_to_threshold(run.losses["untied"], threshold)
    answer = float(np.mean(tied < untied))
    assert_right(capsys, check_fraction_tied_faster, answer, tied, untied)
    assert_right(capsys, check_fraction_tied_faster, round(answer, 2), tied, untied)


@pytest.mark.parametrize("answer, hint", [
    (40, "is a percentage"),
    (4, "is a number of seeds"),
    (0.6, "counted equal steps as a win for tied"),  # tied <= untied
    (0.47, "Compare seed by seed"),
    (0.5, "Compare seed by seed"),
    (2 / 7, "You left out the seeds in which a model never reached"),  # finite seeds only
    ("0.4", "Answer with one number"),
    (True, "Answer with one number"),
])
def test_fraction_tied_faster_wrong_gets_a_hint(answer, hint, capsys):
    assert_hint(capsys, check_fraction_tied_faster, hint, answer, TIED_STEPS, UNTIED_STEPS)


def test_fraction_tied_faster_names_the_untied_fraction_and_the_complement(capsys):
    tied = np.array([1.0, 2, 3, 4, 4])
    untied = np.array([2.0, 1, 1, 1, 4])  # tied first 1/5, untied first 3/5, equal 1/5
    assert_hint(capsys, check_fraction_tied_faster, "UNTIED was first", 0.6, tied, untied)
    assert_hint(capsys, check_fraction_tied_faster, "tied was NOT first", 0.8, tied, untied)


@pytest.mark.parametrize("answer", ["shift", "Shift", " SHIFT ", "'shift'", "the shift task"])
def test_where_tying_hurts_right(answer, capsys):
    assert_right(capsys, check_where_tying_hurts, answer, phrase="Cauchy–Schwarz")


@pytest.mark.parametrize("answer, hint", [
    ("identity", "a tied model is at home"),  # the misconception: tying helps, so it hurts there
    ("Identity", "a tied model is at home"),
    ("both", 'answer "identity" or "shift"'),
    ("cycle", 'answer "identity" or "shift"'),
    (1, "as a string"),
    (None, "as a string"),
])
def test_where_tying_hurts_wrong_gets_a_hint(answer, hint, capsys):
    assert_hint(capsys, check_where_tying_hurts, hint, answer)


def tied_ranks_next_token_first(run, tokens):
    """Per seed: does the trained tied model rank (x + 1) first for every input x of `tokens`?"""
    weights = run.weights["tied"]
    logits = weights["W"] @ weights["W"].transpose(-1, -2) + weights["b"][:, None, :]
    vocab = logits.shape[-1]
    return (logits[:, tokens].argmax(-1) == (tokens + 1) % vocab).all(-1)


def test_the_shift_praise_no_tied_model_predicts_the_whole_cycle(one_thread):
    run = train_many(RunConfig(task="cycle", loss="ce", steps=1500, lr=0.01), 8)
    assert not tied_ranks_next_token_first(run, torch.arange(10)).any()


def test_the_shift_praise_a_tied_model_can_fit_a_batch_that_misses_a_token(one_thread):
    """The path 0 → 1 → … → 9 holds every constraint of a shift batch that misses a token of the
    cycle, up to renaming the tokens; some tied models of dimension 3 rank all of it first."""
    run = train_many(RunConfig(task="path", loss="ce", steps=1500, lr=0.01), 8)
    assert tied_ranks_next_token_first(run, torch.arange(9)).any()


@pytest.mark.parametrize("config", [RunConfig(init="matched"),
                                    RunConfig(init="matched", loss="ce", task="shift")])
def test_matched_config_right(config, capsys):
    assert_right(capsys, check_matched_config, config, phrase="differ only in sharing")


@pytest.mark.parametrize("answer, hint", [
    (RunConfig(), "With init='seed'"),  # the blog's setting, two differences
    (RunConfig(loss="ce"), "With init='seed'"),
    (RunConfig(data_seed=0), "already train on the same data"),  # the misconception: the data
    ("matched", "Right idea; now answer with a whole RunConfig"),
    ({"init": "matched"}, "you gave a dict"),
    (build_model(RunConfig(init="matched"), 0, tied=False), "you gave a EmbedHead"),
])
def test_matched_config_wrong_gets_a_hint(answer, hint, capsys):
    assert_hint(capsys, check_matched_config, hint, answer)


def test_matched_start_gives_equal_logits_at_step_zero():
    """The praise: with init='matched' the tied and untied model of a seed start identical."""
    config = RunConfig(init="matched")
    tied, untied = build_model(config, 3, tied=True), build_model(config, 3, tied=False)
    tokens = torch.arange(10)
    assert torch.equal(tied(tokens), untied(tokens))


# --- notebook 05 ---------------------------------------------------------------------------------


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
