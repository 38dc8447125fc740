"""Train tied and untied models side by side: the faithful loop and the many-seed trainer.

Introduced in notebook 03 (paired_training); used by notebook 04, the explorer and the `compare`
command.

`train_pair` is the blog's experiment, written as a student would: two `nn.Module`s, autograd,
`torch.optim.Adam`, one step at a time. `train_many` trains every seed of both variants at once
and gives the same numbers (a test holds it to the loop within float tolerance). It is fast
because it does by hand what autograd and the optimizer do in general:

- the gradient of this small model is three products of small matrices, written out
  (`_train_steps` gives each in index notation);
- the models sit side by side with *the batch of models on the last axis*: `W[v, d, m]` is entry
  (v, d) of model m's head. Every line of the training loop is one operation on all models at
  once, and each reads long runs of neighbouring numbers (one per model), which a CPU does
  fastest. (With the models first, half the time went into batched products of thousands of
  3 × 10 matrices, which a matrix-product routine handles one by one.)
- a tied model has one matrix, W: its embedding lookups read rows of W and send their gradient
  back into W, which is what tying means (notebook 02);
- all parameters of all models live in one flat tensor, so one Adam update is one operation
  (PyTorch's fused Adam kernel) for the whole batch of models;
- at the explorer's 100 seeds, starting a step's operations takes a large share of its time, so a
  step does as few as it can: a loss's sums are scaled once after training, not at every step,
  and the products are set up once on tensors that each step overwrites.

How fast it is, and against what: the README's Performance section (benchmarks/paired_training.py).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .models import EmbedHead
from .options import INITS, LIMITS, LOSSES
from .runtime import threads_for
from .tasks import TASKS, batch_tokens, make_batch

__all__ = [
    "RunConfig", "PairRun", "ManyRun", "LIMITS", "build_model", "starting_weights", "loss_of",
    "train_pair", "train_many", "estimated_bytes", "memory_parts", "matmul_per_model",
]

VARIANTS = ("tied", "untied")

MAX_SEED = 2**63 - 1  # seeds are stored as 64-bit integers

# How `_Product` multiplies the small matrices of all models (measured with
# benchmarks/paired_training.py --crossover): sums of at most FEW_TERMS terms with results of at
# least LARGE_RESULT numbers term by term; products of at most SMALL_PRODUCT multiplications per
# model (and SMALL_PRODUCT_TOTAL for all models together, 32 MB in float32) in one elementwise
# step; larger ones with torch.bmm.
FEW_TERMS = 4
LARGE_RESULT = 2**16
SMALL_PRODUCT = 4096
SMALL_PRODUCT_TOTAL = 2**23


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
    seed = _check_seed(seed)
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
    generator = torch.Generator().manual_seed(_check_seed(seed))
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


def loss_of(logits: torch.Tensor, targets: torch.Tensor, loss: str) -> torch.Tensor:
    """The blog's MSE between the softmax and the one-hot target, or cross-entropy."""
    vocab = logits.shape[-1]
    if loss == "mse":
        one_hot = F.one_hot(targets, vocab).to(logits.dtype)
        return F.mse_loss(F.softmax(logits, dim=-1), one_hot)
    return F.cross_entropy(logits.reshape(-1, vocab), targets.reshape(-1))


def train_pair(config: RunConfig, seed: int, dtype: torch.dtype = torch.float32) -> PairRun:
    """The blog's loop for one seed: both variants, Adam, the loss of every forward pass."""
    seed = _check_seed(seed)
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
    _check_memory(config, len(seeds), torch.finfo(dtype).bits // 8)
    with threads_for("toy"):
        return _train_many(config, seeds, dtype, progress)


def _train_many(config, seeds, dtype, progress) -> ManyRun:
    n, vocab, dim = len(seeds), config.vocab, config.dim
    models = 2 * n  # models 0..n-1 (the last axis) are the untied ones, n..2n-1 the tied ones

    # Starting weights and data, seed by seed, with the models last: W[:, :, m] is model m's
    # head, and token t of model m is inputs[t, m]. Both variants of a seed start from the same
    # head and get the same batch. Only untied models have an E: a tied model's one matrix is W.
    tokens = batch_tokens(config.task, vocab, config.batch)
    params = torch.empty(_parameter_count(vocab, dim, n), dtype=dtype)
    E, W, b = _views(params, vocab, dim, n)  # (vocab, dim, n), (vocab, dim, 2n), (vocab, 2n)
    inputs = torch.empty(tokens, models, dtype=torch.long)
    targets = torch.empty_like(inputs)
    for column, seed in enumerate(seeds):
        E[..., column], W[..., column], b[..., column] = starting_weights(config, seed, dtype)
        W[..., n + column], b[..., n + column] = W[..., column], b[..., column]
        x, y = config.batch_of(seed)
        inputs[:, column] = inputs[:, n + column] = x.flatten()
        targets[:, column] = targets[:, n + column] = y.flatten()
    one_hot_targets = F.one_hot(targets, vocab).to(dtype).permute(0, 2, 1).contiguous()
    lookup = _embedding_positions(inputs, vocab, dim)

    losses = torch.empty(models, config.steps, dtype=dtype)
    with torch.inference_mode():  # no autograd here: each operation is dispatched faster
        _train_steps(config, params, lookup, one_hot_targets, losses, progress)
    losses = losses.numpy()

    def models_first(tensor):  # (..., seeds) -> (seeds, ...)
        return tensor.movedim(-1, 0).contiguous()

    weights = {
        "untied": {"E": models_first(E), "W": models_first(W[..., :n]),
                   "b": models_first(b[..., :n])},
        "tied": {"W": models_first(W[..., n:]), "b": models_first(b[..., n:])},
    }
    return ManyRun(config, np.asarray(seeds, dtype=np.int64),
                   {"untied": losses[:n], "tied": losses[n:]}, weights)


def _train_steps(config, params, lookup, one_hot_targets, losses, progress) -> None:
    """Every training step of every model, on `params` in place; `losses[:, step]` gets each
    model's loss at `step`."""
    tokens, vocab, models = one_hot_targets.shape
    dim, steps = config.dim, config.steps
    grads = torch.zeros_like(params)
    _, W, b = _views(params, vocab, dim, models // 2)  # E is read through `lookup`
    gE, gW, gb = _views(grads, vocab, dim, models // 2)  # views of the flat `grads`
    # Each step writes the looked-up rows into `h` and the gradient of the logits into
    # `d_logits`, so that the three matrix products can be set up once, on these tensors and on
    # views of W that follow its updates.
    h = torch.empty(tokens, dim, models, dtype=params.dtype)
    d_logits = torch.empty(tokens, vocab, models, dtype=params.dtype)
    logits_of_h = _Product(h, W.transpose(0, 1))  # (tokens, vocab, models)
    head_gradient = _Product(d_logits.transpose(0, 1), h)  # (vocab, dim, models)
    input_gradient = _Product(d_logits, W)  # (tokens, dim, models)
    adam = _Adam(params, config.lr)
    # Each step adds up each model's loss terms into `losses[:, step]`; the division that makes
    # the sums means comes once, after the last step.
    mse = config.loss == "mse"
    # Both gradients carry a constant c: MSE's dloss/dp is c (p - y) with c = 2 / (tokens · vocab),
    # cross-entropy's dloss/dz is c (p - y) with c = 1 / tokens (p = softmax(logits), y the one-hot
    # targets). Two tensors made once let each step apply c inside an operation it does anyway:
    c = 2.0 / (tokens * vocab) if mse else 1.0 / tokens
    minus_c_targets = one_hot_targets * -c  # cross-entropy: c p + (-c y), one operation
    zero = torch.zeros((), dtype=params.dtype)  # MSE: 0 + c (p - y) p, one operation
    report_every = max(1, steps // 50)
    for step in range(steps):
        # Forward: look up each token's row of E, take its dot product with every row of W, add b.
        # h[t, d, m] = E[x[t, m], d, m] (W for a tied model)
        # logits[t, v, m] = sum_d h[t, d, m] W[v, d, m] + b[v, m]
        torch.index_select(params, 0, lookup, out=h.view(-1))
        logits = logits_of_h().add_(b)

        # Backward by hand: first d(loss)/d(logits), then the chain rule through W, b and E.
        if mse:  # loss = mean over tokens and vocabulary of (p - y)^2, p = softmax(logits)
            probs = torch.softmax(logits, dim=1)  # over the vocabulary
            diff = probs - one_hot_targets
            torch.sum((diff * diff).view(-1, models), dim=0, out=losses[:, step])
            # dloss/dp = c (p - y), then softmax's backward: dz_j = p_j dp_j - p_j sum_k p_k dp_k
            weighted = torch.addcmul(zero, diff, probs, value=c)  # c (p - y) p
            torch.addcmul(weighted, probs, weighted.sum(1, keepdim=True), value=-1,
                          out=d_logits)
        else:  # loss = mean over tokens of -log p_y, p = softmax(logits)
            log_probs = torch.log_softmax(logits, dim=1)
            torch.sum((log_probs * one_hot_targets).view(-1, models), dim=0, out=losses[:, step])
            # dz = (p - y) / tokens
            torch.add(minus_c_targets, log_probs.exp_(), alpha=c, out=d_logits)
        # gW[v, d, m] = sum_t d_logits[t, v, m] h[t, d, m];  gb[v, m] = sum_t d_logits[t, v, m]
        head_gradient(out=gW)
        torch.sum(d_logits, dim=0, out=gb)
        # d_h[t, d, m] = sum_v d_logits[t, v, m] W[v, d, m]
        d_h = input_gradient()
        # Each token sends d_h back to the row it was read from. For a tied model that row is
        # in W, so its gradient becomes the sum of both uses of the one matrix (notebook 02).
        gE.zero_()
        grads.index_add_(0, lookup, d_h.view(-1))

        adam.step(grads)
        if progress is not None and ((step + 1) % report_every == 0 or step + 1 == steps):
            progress(step + 1, steps)
    # Sums to means: MSE summed (p - y)^2 over tokens × vocabulary, cross-entropy log p_y over
    # tokens.
    losses.mul_(1 / (tokens * vocab) if mse else -1 / tokens)


def _parameter_count(vocab: int, dim: int, n_seeds: int) -> int:
    """Numbers in the flat parameters of `n_seeds` untied and `n_seeds` tied models."""
    return vocab * dim * n_seeds + (vocab * dim + vocab) * 2 * n_seeds


def _views(flat: torch.Tensor, vocab: int, dim: int, n_seeds: int):
    """E (vocab, dim, n_seeds) of the untied models, then W (vocab, dim, 2·n_seeds) and
    b (vocab, 2·n_seeds) of all models, as views of one flat tensor in that order."""
    models, size = 2 * n_seeds, vocab * dim
    E = flat[: size * n_seeds].view(vocab, dim, n_seeds)
    W = flat[size * n_seeds : size * (n_seeds + models)].view(vocab, dim, models)
    b = flat[size * (n_seeds + models) :].view(vocab, models)
    return E, W, b


def _embedding_positions(inputs: torch.Tensor, vocab: int, dim: int) -> torch.Tensor:
    """Where the embedding rows of the tokens `inputs` (tokens, models) sit in the flat
    parameters: the (tokens, dim, models) positions, flattened, whose numbers make `h`.

    Entry (r, d, m) of a (rows, dim, columns) block is number `(r * dim + d) * columns + m` of
    it (see `_views`). An untied model m reads row x of E (n columns); a tied model reads row x
    of W (2n columns, after E), its one matrix.
    """
    tokens, models = inputs.shape
    n = models // 2
    untied = (inputs[:, :n].unsqueeze(1) * dim + torch.arange(dim).unsqueeze(-1)) * n
    untied += torch.arange(n)
    tied = (inputs[:, n:].unsqueeze(1) * dim + torch.arange(dim).unsqueeze(-1)) * models
    tied += torch.arange(n, models) + vocab * dim * n  # W starts after E's vocab·dim·n numbers
    return torch.cat([untied, tied], dim=-1).flatten()  # (tokens, dim, models), flattened


class _Product:
    """For every model m (the last axis), the matrix product `a[:, :, m] @ b[:, :, m]`.

    `a` is (i, k, models) and `b` is (k, j, models); calling the product gives the result
    (i, j, models), into `out` when it is given. A training step multiplies the same tensors at
    every step while their numbers change in place, so the views each way of multiplying needs
    are made once, here, and each call only computes.
    """

    def __init__(self, a: torch.Tensor, b: torch.Tensor):
        i, k, models = a.shape
        j = b.shape[1]
        if k <= FEW_TERMS and i * j * models >= LARGE_RESULT:
            # A few terms (the blog's dimension 3) and many models: add up k outer products
            # (column k of a times row k of b), each one elementwise multiply-add on all models.
            self.way = "term by term"
            self.terms = [(a[:, term].unsqueeze(1), b[term].unsqueeze(0)) for term in range(k)]
        elif i * k * j <= SMALL_PRODUCT and i * k * j * models <= SMALL_PRODUCT_TOTAL:
            # Small matrices: a matrix-product routine would spend most of its time per matrix,
            # not per number. So multiply every a[i, k] with every b[k, j], all models at once,
            # and add up over k: (i, k, 1, models) * (1, k, j, models), summed over axis 1.
            self.way = "elementwise"
            self.a, self.b = a.unsqueeze(2), b.unsqueeze(0)
        else:
            # Larger matrices: a batched matrix product with the models as its batch (models
            # first, each matrix contiguous), then back to models last.
            self.way = "batched"
            self.a, self.b = a.permute(2, 0, 1), b.permute(2, 0, 1)

    def __call__(self, out: torch.Tensor | None = None) -> torch.Tensor:
        if self.way == "term by term":
            (a, b), *rest = self.terms
            out = torch.mul(a, b, out=out)
            for a, b in rest:
                out.addcmul_(a, b)
            return out
        if self.way == "elementwise":
            return torch.sum(self.a * self.b, dim=1, out=out)
        product = torch.bmm(self.a.contiguous(), self.b.contiguous())
        if out is None:
            return product.permute(1, 2, 0).contiguous()
        return out.copy_(product.permute(1, 2, 0))


def matmul_per_model(a: torch.Tensor, b: torch.Tensor,
                     out: torch.Tensor | None = None) -> torch.Tensor:
    """`a[:, :, m] @ b[:, :, m]` for every model m (the last axis), once, the way a training step
    multiplies (see `_Product`; benchmarks/paired_training.py --crossover times each way)."""
    return _Product(a, b)(out)


class _Adam:
    """`torch.optim.Adam` for one flat tensor of parameters, with the same numbers.

    `step` runs PyTorch's fused Adam kernel, the one operation that `torch.optim.Adam(fused=True)`
    runs for the whole update (PyTorch 2.4 and later have it for the CPU). Without it, it runs
    `step_written_out`: the same update as a few tensor operations, in the order of PyTorch's
    default (single-tensor) Adam. Read that one to see what Adam does; tests hold each to
    `torch.optim.Adam` bit for bit. The kernel is a private function: the public functional
    form, `torch.optim.adam.adam(..., fused=True)`, gives the same numbers but measured 1.13-1.22x
    as slow at the explorer's 100 seeds (1.02-1.05x at 1000), over the 10% a change may cost, so
    it waits for a measurement on an idle machine (the README's Performance section).
    """

    def __init__(self, params: torch.Tensor, lr: float, betas=(0.9, 0.999), eps=1e-8,
                 fused: bool | None = None):
        self.params, self.lr, self.betas, self.eps = params, lr, betas, eps
        self.exp_avg = torch.zeros_like(params)
        self.exp_avg_sq = torch.zeros_like(params)
        self.steps_taken = 0
        self.fused = _has_fused_adam() if fused is None else fused
        self._step_count = torch.zeros((), dtype=torch.float32)  # the fused kernel reads it
        self._denom = torch.empty_like(params)
        # The constants as numbers of the parameters' type: the same arithmetic as Python
        # numbers, without converting them at every step.
        self._beta2, self._eps = (torch.tensor(x, dtype=params.dtype) for x in (betas[1], eps))
        self._tiny = torch.finfo(params.dtype).tiny

    def step(self, grad: torch.Tensor) -> None:
        if not self.fused:
            self.step_written_out(grad)
            return
        self.steps_taken += 1
        self._step_count += 1
        torch._fused_adam_([self.params], [grad], [self.exp_avg], [self.exp_avg_sq], [],
                           [self._step_count], amsgrad=False, lr=self.lr, beta1=self.betas[0],
                           beta2=self.betas[1], weight_decay=0.0, eps=self.eps, maximize=False)

    def step_written_out(self, grad: torch.Tensor) -> None:
        beta1, beta2 = self.betas
        self.steps_taken += 1
        self.exp_avg.lerp_(grad, 1 - beta1)
        self.exp_avg_sq.mul_(self._beta2).addcmul_(grad, grad, value=1 - beta2)
        bias_correction1 = 1 - beta1**self.steps_taken
        bias_correction2 = 1 - beta2**self.steps_taken
        step_size = self.lr / bias_correction1
        # sqrt is several times slower on 0 and 30 times slower on numbers below the smallest
        # normal float ("denormals", e.g. the square of a gradient of 1e-20) than on others.
        # The square root of any of them is far below eps, so the denominator is eps either way:
        # raising them to the smallest normal number first changes no result, bit for bit.
        torch.clamp_min(self.exp_avg_sq, self._tiny, out=self._denom).sqrt_()
        self._denom.div_(math.sqrt(bias_correction2)).add_(self._eps)
        self.params.addcdiv_(self.exp_avg, self._denom, value=-step_size)


def _has_fused_adam() -> bool:
    """Whether this PyTorch has the fused Adam kernel for the CPU (2.4 and later do), with the
    arguments it is called with here (a private function, so a later PyTorch may change them)."""
    global _FUSED_ADAM
    if _FUSED_ADAM is None:
        one = [torch.zeros(1)]
        try:
            torch._fused_adam_(one, [torch.zeros(1)], [torch.zeros(1)], [torch.zeros(1)], [],
                               [torch.ones(())], amsgrad=False, lr=0.1, beta1=0.9, beta2=0.999,
                               weight_decay=0.0, eps=1e-8, maximize=False)
            _FUSED_ADAM = True
        except (AttributeError, NotImplementedError, RuntimeError, TypeError):
            _FUSED_ADAM = False
    return _FUSED_ADAM


_FUSED_ADAM: bool | None = None  # found out on first use


def _check_seed(seed) -> int:
    """One seed: a whole number from 0 to 2**63 - 1 (a Python or NumPy integer)."""
    if not isinstance(seed, bool):
        try:
            value = operator.index(seed)  # ints and NumPy integers; not 1.7, not "3"
        except TypeError:
            value = None
        if value is not None and 0 <= value <= MAX_SEED:
            return value
    raise ValueError(f"a seed must be a whole number from 0 to 2**63 - 1, got {seed!r}.")


def _seed_list(seeds: int | Sequence[int]) -> list[int]:
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
    checked = [_check_seed(s) for s in (seeds.tolist() if isinstance(seeds, np.ndarray)
                                        else seeds)]
    if len(set(checked)) != len(checked):
        repeated = sorted({s for s in checked if checked.count(s) > 1})[:3]
        raise ValueError(f"each seed may appear once, but {', '.join(map(str, repeated))} "
                         "appears more than once.")
    return checked


def estimated_bytes(config: RunConfig, n_seeds: int, bytes_per_number: int = 4) -> int:
    """About how much memory a many-seed run needs, from training to its statistics and plot:
    the sum of `memory_parts`."""
    return sum(memory_parts(config, n_seeds, bytes_per_number).values())


def memory_parts(config: RunConfig, n_seeds: int, bytes_per_number: int = 4) -> dict[str, int]:
    """The bytes of a many-seed run's parts: "losses", "training" (everything else in
    `train_many`) and "statistics" (`stats.compare_curves` and the explorer's plot).

    Training (`train_many`): the loss of every step of every model; six copies of all parameters
    (values, gradients, Adam's two averages and its denominator, and one more for a temporary or
    the final weights); per model, about a dozen tensors of the size of one step's logits and
    the elementwise product of small matrices, or the copies a batched product makes of larger
    ones.
    Statistics (`stats.compare_curves`) and the explorer's plot: one byte per recorded loss
    ("below the threshold?"), the bootstrap's resamples (at most 2**20 at a time, three 8-byte
    arrays) and two float64 copies of the plotted steps. tests/test_memory.py measures runs
    against this estimate.
    """
    models = 2 * n_seeds
    tokens = batch_tokens(config.task, config.vocab, config.batch)
    vocab, dim = config.vocab, config.dim
    product = tokens * vocab * dim
    if product <= SMALL_PRODUCT and product * models <= SMALL_PRODUCT_TOTAL:
        matmul = product  # the elementwise product (see _Product)
    else:
        matmul = 6 * vocab * dim + 3 * tokens * vocab  # the batched product's contiguous copies
    parameters = 6 * _parameter_count(vocab, dim, n_seeds)  # values, gradients, Adam's state
    per_model = 12 * tokens * max(vocab, dim) + matmul  # logits, softmax, gradients of a step
    bootstrap = 3 * 8 * min(2000 * n_seeds, 2**20)
    plot = 2 * 8 * 400 * n_seeds
    return {
        "losses": models * config.steps * bytes_per_number,
        # a tenth more for the memory allocator's slack (measured: freed blocks are reused late)
        "training": (parameters + models * per_model) * bytes_per_number * 11 // 10,
        "statistics": n_seeds * config.steps + bootstrap + plot,
    }


def _check_memory(config: RunConfig, n_seeds: int, bytes_per_number: int) -> None:
    needed = estimated_bytes(config, n_seeds, bytes_per_number)
    if needed > LIMITS["bytes"]:
        # Rounded up, so that the printed need is always above the printed limit.
        raise ValueError(
            f"this run would need about {math.ceil(needed / 1e8) / 10:.1f} GB, over the "
            f"{LIMITS['bytes'] / 1e9:.1f} GB "
            "limit: use fewer seeds or steps, or a smaller vocabulary or dimension."
        )


def _check_count(name: str, value, low: int) -> None:
    high = LIMITS[name]
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be a whole number from {low} to {high}, got {value!r}.")
