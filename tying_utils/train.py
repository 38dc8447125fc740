"""Train tied and untied models side by side: the faithful loop and the many-seed trainer.

Introduced in notebook 03 (paired_training); used by notebook 04, the explorer and the `compare`
command.

`train_pair` is the blog's experiment, written as a student would: two `nn.Module`s, autograd,
`torch.optim.Adam`, one step at a time. `train_many` trains every seed of both variants at once
and gives the same numbers (a test holds it to the loop within float tolerance). It is fast
because it does by hand what autograd and the optimizer do in general: the gradient of this one
small model is a few batched matrix products, and all parameters of all models live in one flat
tensor, so one Adam update is five tensor operations for the whole batch of models.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from .models import EmbedHead
from .tasks import TASKS, make_batch

__all__ = [
    "RunConfig", "PairRun", "ManyRun", "LIMITS", "build_model", "loss_of", "train_pair",
    "train_many", "estimated_bytes",
]

LOSSES = ("mse", "ce")
INITS = ("seed", "matched")
VARIANTS = ("tied", "untied")

# What a run may ask for. The limits keep one run within a few GB and a few minutes on a laptop.
LIMITS = {"vocab": 5000, "dim": 512, "steps": 100_000, "seeds": 20_000, "bytes": 4_000_000_000}


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines one paired experiment; the defaults are the blog's setting."""

    task: str = "identity"  # see tasks.TASKS
    loss: str = "mse"  # "mse" on the softmax output (the blog) or "ce" cross-entropy on logits
    init: str = "seed"  # "seed": each module's own init (the blog); "matched": untied E = head W
    vocab: int = 10
    dim: int = 3
    steps: int = 2000
    lr: float = 1e-3
    batch: tuple[int, ...] = (2, 3)  # the shape of the token batch, the blog's (2, 3)
    data_seed: int | None = None  # None: seed s trains on the data of seed s; an int: every seed
    # trains on that seed's batch (the blog's script always draws the data of seed 0)

    def __post_init__(self):
        for name, allowed in (("task", TASKS), ("loss", LOSSES), ("init", INITS)):
            if getattr(self, name) not in allowed:
                raise ValueError(
                    f"unknown {name} {getattr(self, name)!r}; choose one of {', '.join(allowed)}."
                )
        for name in ("vocab", "dim", "steps"):
            _check_count(name, getattr(self, name), low=2 if name == "vocab" else 1)
        lr = self.lr
        if isinstance(lr, bool) or not isinstance(lr, int | float) or not 0 < lr <= 10:
            raise ValueError(f"lr must be a number in (0, 10], got {lr!r}.")
        batch = tuple(self.batch)
        if not batch or any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in batch):
            raise ValueError(f"batch must be a shape of whole numbers >= 1, got {self.batch!r}.")
        object.__setattr__(self, "batch", batch)
        data_seed = self.data_seed
        if data_seed is not None and (
            isinstance(data_seed, bool) or not isinstance(data_seed, int) or data_seed < 0
        ):
            raise ValueError(f"data_seed must be None or a whole number >= 0, got {data_seed!r}.")

    def batch_of(self, seed: int):
        """The (inputs, targets) that seed `seed` trains on."""
        data_seed = seed if self.data_seed is None else self.data_seed
        return make_batch(self.task, self.vocab, data_seed, self.batch)


@dataclass
class PairRun:
    """One seed of the faithful loop: the loss at every step and the trained models."""

    config: RunConfig
    seed: int
    losses: dict[str, np.ndarray]  # variant -> (steps,)
    models: dict[str, EmbedHead]


@dataclass
class ManyRun:
    """Many seeds of both variants: losses `(seeds, steps)` and the final weights."""

    config: RunConfig
    seeds: np.ndarray
    losses: dict[str, np.ndarray]  # variant -> (seeds, steps)
    weights: dict[str, dict[str, torch.Tensor]] = field(repr=False)  # variant -> name -> tensor


def build_model(
    config: RunConfig, seed: int, tied: bool, dtype: torch.dtype = torch.float32
) -> EmbedHead:
    """The model of seed `seed`: built under `torch.manual_seed(seed)`, so both variants of one
    seed share the head weight and bias. The global random state is left as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = EmbedHead(config.vocab, config.dim, tied=tied)
    if config.init == "matched" and not tied:
        with torch.no_grad():
            model.embedding.weight.copy_(model.head.weight)
    return model.to(dtype)


def loss_of(logits: torch.Tensor, targets: torch.Tensor, loss: str) -> torch.Tensor:
    """The blog's MSE between the softmax and the one-hot target, or cross-entropy."""
    vocab = logits.shape[-1]
    if loss == "mse":
        one_hot = F.one_hot(targets, vocab).to(logits.dtype)
        return F.mse_loss(F.softmax(logits, dim=-1), one_hot)
    return F.cross_entropy(logits.reshape(-1, vocab), targets.reshape(-1))


def train_pair(config: RunConfig, seed: int, dtype: torch.dtype = torch.float32) -> PairRun:
    """The blog's loop for one seed: both variants, Adam, the loss of every forward pass."""
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


def train_many(
    config: RunConfig,
    seeds: int | Sequence[int],
    dtype: torch.dtype = torch.float32,
    progress: Callable[[int, int], None] | None = None,
) -> ManyRun:
    """Train every seed of both variants at once; `seeds=n` means seeds 0..n-1.

    Seed `s` starts exactly where `train_pair(config, s)` starts. `progress(done, total)` is
    called about 50 times while training (the explorer's progress bar uses it).
    """
    seeds = _seed_list(seeds)
    n, vocab, dim, steps = len(seeds), config.vocab, config.dim, config.steps
    _check_memory(config, n, torch.finfo(dtype).bits // 8)

    # Starting weights and data, seed by seed (cheap), then stacked. Rows 0..n-1 of the batch of
    # models are the untied ones, rows n..2n-1 the tied ones; a tied row keeps E equal to W.
    untied = [build_model(config, s, tied=False, dtype=dtype) for s in seeds]
    tied = [build_model(config, s, tied=True, dtype=dtype) for s in seeds]
    models = untied + tied
    E0 = torch.stack([m.embedding.weight.detach() for m in models])
    W0 = torch.stack([m.head.weight.detach() for m in models])
    b0 = torch.stack([m.head.bias.detach() for m in models])
    batches = [config.batch_of(s) for s in seeds]
    inputs = torch.stack([x.reshape(-1) for x, _ in batches]).repeat(2, 1)  # (2n, tokens)
    targets = torch.stack([y.reshape(-1) for _, y in batches]).repeat(2, 1)
    tokens = inputs.shape[1]
    one_hot_targets = F.one_hot(targets, vocab).to(dtype)  # (2n, tokens, vocab)
    lookup = inputs.unsqueeze(-1).expand(-1, -1, dim)  # where each token's row sits in E

    # All parameters in one flat tensor; E, W, b are views into it, and so are their gradients.
    params = torch.cat([E0.flatten(1), W0.flatten(1), b0], dim=1)
    grads = torch.zeros_like(params)
    E, W, b = _views(params, vocab, dim)
    gE, gW, gb = _views(grads, vocab, dim)
    adam = _Adam(params, config.lr)

    losses = torch.empty(2 * n, steps, dtype=dtype)
    report_every = max(1, steps // 50)
    for step in range(steps):
        # Forward: look up each token's row, take its dot product with every row of W, add b.
        h = E.gather(1, lookup)  # (2n, tokens, dim)
        logits = torch.baddbmm(b.unsqueeze(1), h, W.transpose(1, 2))  # (2n, tokens, vocab)
        # softmax written out: for rows of a few logits it is several times faster than
        # torch.softmax on a CPU, and subtracting the row maximum keeps exp() from overflowing.
        shifted = logits - logits.amax(dim=-1, keepdim=True)
        exp = shifted.exp()
        total = exp.sum(dim=-1, keepdim=True)
        probs = exp.div_(total)

        # Backward by hand: first d(loss)/d(logits), then the chain rule through W, b and E.
        if config.loss == "mse":
            diff = probs - one_hot_targets
            losses[:, step] = diff.square().mean(dim=(1, 2))
            d_probs = diff * (2.0 / (tokens * vocab))
            # softmax backward: dz_j = p_j (dp_j - sum_k dp_k p_k)
            d_logits = probs * (d_probs - (d_probs * probs).sum(-1, keepdim=True))
        else:
            log_probs = shifted - total.log()
            losses[:, step] = -(log_probs * one_hot_targets).sum(-1).mean(-1)
            d_logits = (probs - one_hot_targets) / tokens
        torch.bmm(d_logits.transpose(1, 2), h, out=gW)  # each head row: sum of d_logit * h
        torch.sum(d_logits, dim=1, out=gb)
        d_h = torch.bmm(d_logits, W)  # (2n, tokens, dim)
        gE.zero_().scatter_add_(1, lookup, d_h)  # each token sends d_h back to its own row
        # A tied matrix is used twice, so its gradient is the sum of both uses (notebook 02).
        gW[n:] += gE[n:]
        gE[n:] = gW[n:]

        adam.step(grads)
        if progress is not None and ((step + 1) % report_every == 0 or step + 1 == steps):
            progress(step + 1, steps)

    losses = losses.numpy()
    weights = {
        "untied": {"E": E[:n].clone(), "W": W[:n].clone(), "b": b[:n].clone()},
        "tied": {"W": W[n:].clone(), "b": b[n:].clone()},
    }
    return ManyRun(config, np.asarray(seeds), {"untied": losses[:n], "tied": losses[n:]}, weights)


class _Adam:
    """`torch.optim.Adam` (its default, single-tensor form) for one flat tensor of parameters.

    Same arithmetic in the same order as PyTorch's, so it matches the loop step for step.
    """

    def __init__(self, params: torch.Tensor, lr: float, betas=(0.9, 0.999), eps=1e-8):
        self.params, self.lr, self.betas, self.eps = params, lr, betas, eps
        self.exp_avg = torch.zeros_like(params)
        self.exp_avg_sq = torch.zeros_like(params)
        self.steps_taken = 0
        self._denom = torch.empty_like(params)

    def step(self, grad: torch.Tensor) -> None:
        beta1, beta2 = self.betas
        self.steps_taken += 1
        self.exp_avg.lerp_(grad, 1 - beta1)
        self.exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        bias_correction1 = 1 - beta1**self.steps_taken
        bias_correction2 = 1 - beta2**self.steps_taken
        step_size = self.lr / bias_correction1
        torch.sqrt(self.exp_avg_sq, out=self._denom)
        self._denom.div_(math.sqrt(bias_correction2)).add_(self.eps)
        self.params.addcdiv_(self.exp_avg, self._denom, value=-step_size)


def _views(flat: torch.Tensor, vocab: int, dim: int):
    """E, W and b as views of one flat `(models, 2·vocab·dim + vocab)` tensor."""
    size = vocab * dim
    E = flat[:, :size].view(-1, vocab, dim)
    W = flat[:, size : 2 * size].view(-1, vocab, dim)
    b = flat[:, 2 * size :]
    return E, W, b


def _seed_list(seeds: int | Sequence[int]) -> list[int]:
    if isinstance(seeds, int):
        _check_count("seeds", seeds, low=1)
        return list(range(seeds))
    if isinstance(seeds, str) or not isinstance(seeds, Sequence | np.ndarray):
        raise ValueError(f"seeds must be a count or a list of seeds, got {seeds!r}.")
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("seeds must name at least one seed, got none.")
    if len(seeds) > LIMITS["seeds"]:
        raise ValueError(f"at most {LIMITS['seeds']} seeds per run, got {len(seeds)}.")
    return seeds


def estimated_bytes(config: RunConfig, n_seeds: int, bytes_per_number: int = 4) -> int:
    """Roughly how much memory `train_many` needs: the loss of every step, and about eight
    copies of the parameters (values, gradients, Adam's two averages, …) and of the logits."""
    models = 2 * n_seeds
    tokens = math.prod(config.batch)
    numbers_per_model = 2 * config.vocab * config.dim + config.vocab
    per_model = config.steps + 8 * numbers_per_model + 8 * tokens * max(config.vocab, config.dim)
    return models * per_model * bytes_per_number


def _check_memory(config: RunConfig, n_seeds: int, bytes_per_number: int) -> None:
    needed = estimated_bytes(config, n_seeds, bytes_per_number)
    if needed > LIMITS["bytes"]:
        raise ValueError(
            f"this run would need about {needed / 1e9:.1f} GB, over the "
            f"{LIMITS['bytes'] / 1e9:.0f} GB "
            "limit: use fewer seeds or steps, or a smaller vocabulary or dimension."
        )


def _check_count(name: str, value, low: int) -> None:
    high = LIMITS[name]
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be a whole number from {low} to {high}, got {value!r}.")
