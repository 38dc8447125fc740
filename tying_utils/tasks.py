"""Toy tasks for the embedding → head models, and their data.

Introduced in notebook 03 (paired_training); used by notebook 04, `train.py` and the explorer.

Every task maps an input token id to a target token id:

- `identity`: predict the input token itself (the blog's task);
- `shift`: predict the next token id, `(x + 1) mod vocab`;
- `permutation`: predict `perm[x]` for a random permutation drawn from the seed.

Data for seed `s` comes from its own `torch.Generator` seeded with `s`; the blog's batch
(`torch.manual_seed(0)` then `torch.randint(0, 10, (2, 3))`) is the data of seed 0.
"""

from __future__ import annotations

import torch

__all__ = ["TASKS", "make_batch", "target_of"]

TASKS = ("identity", "shift", "permutation")


def make_batch(
    task: str, vocab: int, seed: int, shape: tuple[int, ...] = (2, 3)
) -> tuple[torch.Tensor, torch.Tensor]:
    """The input token ids of shape `shape` and their targets for `task`, drawn from `seed`."""
    check_task(task)
    generator = torch.Generator().manual_seed(seed)
    inputs = torch.randint(0, vocab, shape, generator=generator)
    perm = torch.randperm(vocab, generator=generator) if task == "permutation" else None
    return inputs, target_of(task, inputs, vocab, perm)


def target_of(
    task: str, inputs: torch.Tensor, vocab: int, perm: torch.Tensor | None = None
) -> torch.Tensor:
    """The target token id of every input token id under `task`."""
    check_task(task)
    if task == "identity":
        return inputs.clone()
    if task == "shift":
        return (inputs + 1) % vocab
    if perm is None:
        raise ValueError("the permutation task needs `perm`, a permutation of range(vocab).")
    return perm[inputs]


def check_task(task: str) -> None:
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}.")
