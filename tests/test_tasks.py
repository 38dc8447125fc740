"""The toy tasks' data (tasks.py), above all the fixed-batch tasks `cycle` and `path`: notebook 04.

`cycle` is every token once with the next token as its target, so a batch holds the whole cycle;
`path` is the same without the closing step vocab - 1 → 0. The tests check the data, that the
trainers accept it, and the two facts notebook 04 builds on: no tied model ranks every token of
the cycle first (so its cross-entropy stays at or above ln 2 / vocab), while the path is within
its reach.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from tying_utils import RunConfig, train_many, train_pair
from tying_utils.tasks import FIXED_BATCH_TASKS, TASKS, batch_tokens, make_batch, target_of


@pytest.mark.parametrize("vocab", [2, 3, 10, 37])
@pytest.mark.parametrize("seed", [0, 1, 12345])
@pytest.mark.parametrize("shape", [(2, 3), (50,), (1,)])
def test_cycle_is_every_token_once_whatever_the_seed_and_shape(vocab, seed, shape):
    inputs, targets = make_batch("cycle", vocab, seed, shape)
    assert torch.equal(inputs, torch.arange(vocab))
    assert torch.equal(targets, (torch.arange(vocab) + 1) % vocab)
    assert sorted(zip(inputs.tolist(), targets.tolist())) == [
        (i, (i + 1) % vocab) for i in range(vocab)], "every step of the cycle, once"
    assert inputs.dtype == targets.dtype == torch.int64


@pytest.mark.parametrize("vocab", [2, 3, 10, 37])
@pytest.mark.parametrize("seed", [0, 7])
def test_path_is_the_cycle_without_its_closing_step(vocab, seed):
    inputs, targets = make_batch("path", vocab, seed, (2, 3))
    assert torch.equal(inputs, torch.arange(vocab - 1))
    assert torch.equal(targets, torch.arange(1, vocab))
    cycle_steps = set(zip(*(t.tolist() for t in make_batch("cycle", vocab, seed))))
    path_steps = set(zip(inputs.tolist(), targets.tolist()))
    assert cycle_steps - path_steps == {(vocab - 1, 0)}


def test_path_has_no_target_for_its_last_token():
    assert torch.equal(target_of("path", torch.tensor([0, 3]), 5), torch.tensor([1, 4]))
    with pytest.raises(ValueError, match="the path task has inputs 0 to 3; token 4 ends the path"):
        target_of("path", torch.tensor([4]), 5)


def test_random_tasks_keep_their_shape_and_never_hold_the_whole_cycle_in_the_blogs_batch():
    for seed in range(200):
        inputs, targets = make_batch("shift", 10, seed)
        assert inputs.shape == targets.shape == (2, 3)
        assert len(set(inputs.flatten().tolist())) < 10  # 6 tokens cannot cover 10 steps


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("shape", [(2, 3), (7,)])
def test_batch_tokens_counts_what_make_batch_returns(task, shape):
    inputs, targets = make_batch(task, 12, 3, shape)
    assert batch_tokens(task, 12, shape) == inputs.numel() == targets.numel()


def test_task_names():
    assert set(FIXED_BATCH_TASKS) <= set(TASKS)
    assert TASKS[:3] == ("identity", "shift", "permutation"), "the older tasks keep their order"
    with pytest.raises(ValueError, match="choose one of identity, shift, permutation, cycle, path"):
        make_batch("loop", 10, 0)
    with pytest.raises(ValueError, match="unknown task 'loop'"):
        batch_tokens("loop", 10)


@pytest.mark.parametrize("task", FIXED_BATCH_TASKS)
def test_run_config_and_trainers_accept_the_fixed_batch_tasks(task):
    config = RunConfig(task=task, vocab=6, dim=2, steps=30, loss="ce")
    assert torch.equal(config.batch_of(0)[0], config.batch_of(99)[0]), "one batch for all seeds"
    run = train_many(config, [0, 5])
    assert run.losses["tied"].shape == run.losses["untied"].shape == (2, 30)
    pair = train_pair(config, 5)
    for variant in ("tied", "untied"):
        np.testing.assert_allclose(run.losses[variant][1], pair.losses[variant], atol=1e-5)


def _cycle_right(weights: dict, tied: bool, vocab: int) -> torch.Tensor:
    """Per model: is the next token's logit strictly the largest for every token of the cycle?"""
    W, b = weights["W"], weights["b"]
    E = W if tied else weights["E"]
    logits = E @ W.transpose(1, 2) + b[:, None, :]
    tokens = torch.arange(vocab)
    target = logits[:, tokens, (tokens + 1) % vocab]
    others = logits.clone()
    others[:, tokens, (tokens + 1) % vocab] = -torch.inf
    return (target > others.amax(-1)).all(-1)


def test_no_tied_model_gets_the_whole_cycle_right_and_its_loss_stays_above_the_floor():
    vocab = 6
    config = RunConfig(task="cycle", vocab=vocab, dim=3, loss="ce", lr=0.05, steps=400,
                       init="matched")
    run = train_many(config, 16)
    floor = math.log(2) / vocab
    assert not _cycle_right(run.weights["tied"], True, vocab).any()
    assert run.losses["tied"].min() >= floor
    assert _cycle_right(run.weights["untied"], False, vocab).all()
    assert run.losses["untied"][:, -1].max() < floor


def test_random_tied_logits_never_rank_the_whole_cycle_but_untied_ones_can():
    """The sum of the margins z[i, i+1] - z[i, i] around the cycle is never positive when tied."""
    generator = torch.Generator().manual_seed(0)
    vocab, dim = 8, 3
    W = torch.randn(5000, vocab, dim, generator=generator, dtype=torch.float64) * 3
    b = torch.randn(5000, vocab, generator=generator, dtype=torch.float64) * 3
    tokens = torch.arange(vocab)
    logits = W @ W.transpose(1, 2) + b[:, None, :]
    margins = logits[:, tokens, (tokens + 1) % vocab] - logits[:, tokens, tokens]
    assert (margins.sum(-1) <= 1e-9).all()
    assert not _cycle_right({"W": W, "b": b}, True, vocab).any()
    # Untied, E_i may point where W_{i+1} points: here E_i = W_{i+1} for a unit-circle W.
    angles = 2 * math.pi * tokens / vocab
    circle = torch.stack([angles.cos(), angles.sin()], dim=-1).double()
    untied = {"E": circle[(tokens + 1) % vocab][None], "W": circle[None],
              "b": torch.zeros(1, vocab, dtype=torch.float64)}
    assert _cycle_right(untied, False, vocab).all()


def test_the_command_line_runs_the_cycle(capsys):
    from tying_utils.cli import main

    assert main(["compare", "--task", "cycle", "--seeds", "2", "--steps", "5"]) == 0
    assert "task=cycle" in capsys.readouterr().out
