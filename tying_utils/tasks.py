"""Toy tasks for the embedding → head models, and their data.

Introduced in notebook 03 (paired_training); used by notebook 04, `train.py` and the explorer.

Every task maps an input token id to a target token id. Three tasks draw a random batch of
`shape` input tokens from the seed:

- `identity`: predict the input token itself (the blog's task);
- `shift`: predict the next token id, `(x + 1) mod vocab`, for the tokens of a random batch
  (a batch of the blog's 6 tokens never holds all 10 tokens of the cycle);
- `permutation`: predict `perm[x]` for a random permutation drawn from the seed.

Two tasks have one fixed batch, the same for every seed, and ignore `shape`; notebook 04 uses them
to test what a tied model can and cannot express:

- `cycle`: the whole cycle, every token `0, 1, …, vocab - 1` once with target `(x + 1) mod vocab`
  (`vocab` tokens). No tied model can rank the next token first for every one of them;
- `path`: the cycle without its closing step, tokens `0, 1, …, vocab - 2` with target `x + 1`
  (`vocab - 1` tokens), so `0 → 1 → … → vocab - 1` and nothing goes back to 0.

Data for seed `s` comes from its own `torch.Generator` seeded with `s`; the blog's batch
(`torch.manual_seed(0)` then `torch.randint(0, 10, (2, 3))`) is the data of seed 0.
"""

from __future__ import annotations

import math

import torch

from .options import TASKS

__all__ = ["TASKS", "FIXED_BATCH_TASKS", "make_batch", "target_of", "batch_tokens"]

FIXED_BATCH_TASKS = ("cycle", "path")  # one batch for every seed; `shape` is ignored


def make_batch(
    task: str, vocab: int, seed: int, shape: tuple[int, ...] = (2, 3)
) -> tuple[torch.Tensor, torch.Tensor]:
    """The input token ids and their targets for `task`.

    Random tasks draw `shape` input tokens from `seed`; `cycle` and `path` return their one fixed
    batch (1-D, `batch_tokens(task, vocab)` tokens) whatever `seed` and `shape` are.
    """
    check_task(task)
    if task == "cycle":
        inputs = torch.arange(vocab)
        return inputs, target_of("shift", inputs, vocab)
    if task == "path":
        inputs = torch.arange(vocab - 1)
        return inputs, inputs + 1
    generator = torch.Generator().manual_seed(seed)
    inputs = torch.randint(0, vocab, shape, generator=generator)
    perm = torch.randperm(vocab, generator=generator) if task == "permutation" else None
    return inputs, target_of(task, inputs, vocab, perm)


def batch_tokens(task: str, vocab: int, shape: tuple[int, ...] = (2, 3)) -> int:
    """How many tokens one batch of `task` holds (what memory estimates should count)."""
    check_task(task)
    if task == "cycle":
        return vocab
    if task == "path":
        return vocab - 1
    return math.prod(shape)


def target_of(
    task: str, inputs: torch.Tensor, vocab: int, perm: torch.Tensor | None = None
) -> torch.Tensor:
    """The target token id of every input token id under `task`."""
    check_task(task)
    if task == "identity":
        return inputs.clone()
    if task in ("shift", "cycle"):
        return (inputs + 1) % vocab
    if task == "path":
        if inputs.numel() and int(inputs.max()) >= vocab - 1:
            raise ValueError(f"the path task has inputs 0 to {vocab - 2}; token {vocab - 1} ends "
                             "the path and has no target.")
        return inputs + 1
    if perm is None:
        raise ValueError("the permutation task needs `perm`, a permutation of range(vocab).")
    return perm[inputs]


def check_task(task: str) -> None:
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}.")
