"""Train tied and untied models side by side: the faithful loop and the many-seed trainer.

Introduced in notebook 03 (paired_training); used by notebook 04, the explorer and the `compare`
command.

`train_pair` is the blog's experiment, written as a student would: two `nn.Module`s, autograd,
`torch.optim.Adam`, one step at a time. `train_many` (in `many_seeds.py`) trains every seed of
both variants at once and gives the same numbers, by doing by hand what autograd and the optimizer
do in general. What one run is, and where each seed starts, is in `run_config.py`; everything is
importable from here.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .many_seeds import estimated_bytes, memory_parts, train_many
from .options import INITS, LIMITS, LOSSES  # noqa: F401 (INITS, LOSSES: importable from here)
from .per_model import matmul_per_model
from .run_config import (
    MAX_SEED,  # noqa: F401 (importable from here, as before the trainer was split)
    VARIANTS,
    ManyRun,
    PairRun,
    RunConfig,
    build_model,
    check_seed,
    starting_weights,
)
from .runtime import threads_for

__all__ = [
    "RunConfig", "PairRun", "ManyRun", "LIMITS", "build_model", "starting_weights", "loss_of",
    "train_pair", "train_many", "estimated_bytes", "memory_parts", "matmul_per_model",
]


def loss_of(logits: torch.Tensor, targets: torch.Tensor, loss: str) -> torch.Tensor:
    """The blog's MSE between the softmax and the one-hot target, or cross-entropy."""
    vocab = logits.shape[-1]
    if loss == "mse":
        one_hot = F.one_hot(targets, vocab).to(logits.dtype)
        return F.mse_loss(F.softmax(logits, dim=-1), one_hot)
    return F.cross_entropy(logits.reshape(-1, vocab), targets.reshape(-1))


def train_pair(config: RunConfig, seed: int, dtype: torch.dtype = torch.float32) -> PairRun:
    """The blog's loop for one seed: both variants, Adam, the loss of every forward pass."""
    seed = check_seed(seed)
    with threads_for("toy"):
        inputs, targets = config.batch_of(seed)
        models = {v: build_model(config, seed, tied=(v == "tied"), dtype=dtype) for v in VARIANTS}
        optimizers = {v: torch.optim.Adam(models[v].parameters(), lr=config.lr) for v in VARIANTS}
        losses = {v: np.empty(config.steps) for v in VARIANTS}
        for step in range(config.steps):
            for variant in VARIANTS:
                loss = loss_of(models[variant](inputs), targets, config.loss)
                optimizers[variant].zero_grad()
                loss.backward()
                optimizers[variant].step()
                losses[variant][step] = loss.item()
    return PairRun(config, seed, losses, models)
