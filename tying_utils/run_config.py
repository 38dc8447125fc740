"""What one paired run of the toy experiment is: its settings, its results, where each seed starts.

Introduced in notebook 03 (paired_training); used by notebook 04, the explorer and the `compare`
command, through `train.py`, which trains what is set here. Seed `s` gives the tied and the untied
model the same head and the same batch (a paired comparison): `build_model` builds seed `s`'s
`nn.Module`s, `starting_weights` draws the same numbers fast for the many-seed trainer.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from .checks import check_in_range
from .options import INIT_ALIASES, INITS, LIMITS, LOSSES, TOY_RANGES
from .tasks import TASKS, make_batch
from .toy_models import EmbedHead

__all__ = ["RunConfig", "PairRun", "ManyRun", "VARIANTS", "LIMITS", "build_model",
           "starting_weights"]

VARIANTS = ("tied", "untied")

MAX_SEED = 2**63 - 1  # seeds are stored as 64-bit integers


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines one paired experiment; the defaults are the blog's setting."""

    task: str = "identity"  # see tasks.TASKS
    loss: str = "mse"  # "mse" on the softmax output (the blog) or "ce" cross-entropy on logits
    # How the untied model's embedding starts: "default", each module's own initialisation (the
    # blog's); "matched", a copy of the head weight. "seed", its old name, is read as "default".
    init: str = "default"
    vocab: int = 10
    dim: int = 3
    steps: int = 2000
    lr: float = 1e-3
    batch: tuple[int, ...] = (2, 3)  # the shape of the token batch, the blog's (2, 3)
    data_seed: int | None = None  # None: seed s trains on the data of seed s; an int: every seed
    # trains on that seed's batch (the blog's script always draws the data of seed 0)

    def __post_init__(self):
        if isinstance(self.init, str):
            object.__setattr__(self, "init", INIT_ALIASES.get(self.init, self.init))
        for name, allowed in (("task", TASKS), ("loss", LOSSES), ("init", INITS)):
            if getattr(self, name) not in allowed:
                raise ValueError(
                    f"unknown {name} {getattr(self, name)!r}; choose one of {', '.join(allowed)}."
                )
        for name in ("vocab", "dim", "steps"):
            check_in_range(name, getattr(self, name), TOY_RANGES[name])
        lr = self.lr
        if isinstance(lr, bool) or not isinstance(lr, int | float) or not 0 < lr <= 10:
            raise ValueError(f"lr must be a number in (0, 10], got {lr!r}.")
        batch = tuple(self.batch)
        if not batch or any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in batch):
            raise ValueError(f"batch must be a shape of whole numbers >= 1, got {self.batch!r}.")
        object.__setattr__(self, "batch", batch)
        data_seed = self.data_seed
        if data_seed is not None and (
            isinstance(data_seed, bool) or not isinstance(data_seed, int)
            or not 0 <= data_seed <= MAX_SEED
        ):
            raise ValueError(f"data_seed must be None or a whole number from 0 to 2**63 - 1, "
                             f"got {data_seed!r}.")

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
    seed = check_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = EmbedHead(config.vocab, config.dim, tied=tied)
    if config.init == "matched" and not tied:
        with torch.no_grad():
            model.embedding.weight.copy_(model.head.weight)
    return model.to(dtype)


def starting_weights(config: RunConfig, seed: int, dtype: torch.dtype = torch.float32):
    """`(E, W, b)` of seed `seed`'s untied model, the same numbers `build_model` gives.

    `build_model` builds two modules under `torch.manual_seed`, which takes about a millisecond
    (it seeds every device's generator); for 2000 models that is seconds. Here the same random
    numbers are drawn in the same order from the seed's own generator: `nn.Embedding`'s N(0, 1)
    rows first, then `nn.Linear`'s weight and bias. The tied model of the seed is `(W, W, b)`.
    A test holds this to `build_model` number for number.
    """
    generator = torch.Generator().manual_seed(check_seed(seed))
    default = torch.get_default_dtype()  # what the modules are built in before .to(dtype)
    E = torch.empty(config.vocab, config.dim, dtype=default)
    W, b = torch.empty_like(E), torch.empty(config.vocab, dtype=default)
    with torch.no_grad():
        nn.init.normal_(E, generator=generator)  # nn.Embedding.reset_parameters
        nn.init.kaiming_uniform_(W, a=math.sqrt(5), generator=generator)  # nn.Linear's, then
        bound = 1 / math.sqrt(config.dim)  # its bias, from the weight's fan-in
        nn.init.uniform_(b, -bound, bound, generator=generator)
    if config.init == "matched":
        E = W.clone()
    return E.to(dtype), W.to(dtype), b.to(dtype)


def check_seed(seed) -> int:
    """One seed: a whole number from 0 to 2**63 - 1 (a Python or NumPy integer)."""
    if not isinstance(seed, bool):
        try:
            value = operator.index(seed)  # ints and NumPy integers; not 1.7, not "3"
        except TypeError:
            value = None
        if value is not None and 0 <= value <= MAX_SEED:
            return value
    raise ValueError(f"a seed must be a whole number from 0 to 2**63 - 1, got {seed!r}.")


def seed_list(seeds: int | Sequence[int]) -> list[int]:
    if isinstance(seeds, int | np.integer) and not isinstance(seeds, bool):
        if not 1 <= seeds <= LIMITS["seeds"]:
            raise ValueError(f"seeds must be a count from 1 to {LIMITS['seeds']} or a list of "
                             f"seeds, got {seeds!r}.")
        return list(range(int(seeds)))
    if isinstance(seeds, str) or not isinstance(seeds, Sequence | np.ndarray | range):
        raise ValueError(f"seeds must be a count or a list of seeds, got {seeds!r}.")
    if len(seeds) == 0:
        raise ValueError("seeds must name at least one seed, got none.")
    if len(seeds) > LIMITS["seeds"]:
        raise ValueError(f"at most {LIMITS['seeds']} seeds per run, got {len(seeds)}.")
    checked = [check_seed(s) for s in (seeds.tolist() if isinstance(seeds, np.ndarray)
                                        else seeds)]
    if len(set(checked)) != len(checked):
        repeated = sorted({s for s in checked if checked.count(s) > 1})[:3]
        raise ValueError(f"each seed may appear once, but {', '.join(map(str, repeated))} "
                         "appears more than once.")
    return checked
