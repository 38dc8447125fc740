"""The many-seed trainer: every seed of both variants at once, with the same numbers as the loop.

Introduced in notebook 03 (paired_training); used by notebook 04, the explorer and the `compare`
command, through `train.py`. `train_many` gives the numbers of `train.train_pair` (a test holds it
to the loop within float tolerance). It is fast because it does by hand what autograd and the
optimizer do in general:

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
  (`torch.optim.adam.adam(..., fused=True)`) for the whole batch of models;
- at the explorer's 100 seeds, starting a step's operations takes a large share of its time, so a
  step does as few as it can: a loss's sums are scaled once after training, not at every step,
  and the products are set up once on tensors that each step overwrites.

The products and Adam are in `per_model.py`. How fast it is, and against what: the README's
Performance section.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from . import per_model
from .options import LIMITS
from .per_model import FlatAdam, PerModelProduct, share_scratch
from .run_config import ManyRun, RunConfig, seed_list, starting_weights
from .runtime import threads_for
from .tasks import batch_tokens

__all__ = ["train_many", "estimated_bytes", "memory_parts"]


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
    seeds = seed_list(seeds)
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
    logits_of_h = PerModelProduct(h, W.transpose(0, 1))  # (tokens, vocab, models)
    head_gradient = PerModelProduct(d_logits.transpose(0, 1), h)  # (vocab, dim, models)
    input_gradient = PerModelProduct(d_logits, W)  # (tokens, dim, models)
    share_scratch([logits_of_h, head_gradient, input_gradient])
    adam = FlatAdam(params, grads, config.lr)
    # Each step adds up each model's loss terms into `losses[:, step]`; the division that makes
    # the sums means comes once, after the last step.
    mse = config.loss == "mse"
    # Both gradients carry a constant c: MSE's dloss/dp is c (p - y) with c = 2 / (tokens · vocab),
    # cross-entropy's dloss/dz is c (p - y) with c = 1 / tokens (p = softmax(logits), y the one-hot
    # targets). Two tensors made once let each step apply c inside an operation it does anyway:
    c = 2.0 / (tokens * vocab) if mse else 1.0 / tokens
    minus_c_targets = one_hot_targets * -c  # cross-entropy: c p + (-c y), one operation
    zero = torch.zeros((), dtype=params.dtype)  # MSE: 0 + c (p - y) p, one operation
    # The tensors each step overwrites, made once, with the views the step reads them through.
    logits, diff, terms, weighted = (torch.empty_like(d_logits) for _ in range(4))
    weighted_sum = torch.empty(tokens, 1, models, dtype=params.dtype)
    d_h = torch.empty_like(h)
    h_flat, d_h_flat, terms_by_model = h.view(-1), d_h.view(-1), terms.view(-1, models)
    loss_columns = losses.unbind(1)  # losses[:, step]
    report_every = max(1, steps // 50)
    for step in range(steps):
        # Forward: look up each token's row of E, take its dot product with every row of W, add b.
        # h[t, d, m] = E[x[t, m], d, m] (W for a tied model)
        # logits[t, v, m] = sum_d h[t, d, m] W[v, d, m] + b[v, m]
        torch.index_select(params, 0, lookup, out=h_flat)
        logits_of_h(out=logits).add_(b)

        # Backward by hand: first d(loss)/d(logits), then the chain rule through W, b and E.
        if mse:  # loss = mean over tokens and vocabulary of (p - y)^2, p = softmax(logits)
            probs = torch.softmax(logits, dim=1)  # over the vocabulary
            torch.sub(probs, one_hot_targets, out=diff)
            torch.mul(diff, diff, out=terms)
            torch.sum(terms_by_model, dim=0, out=loss_columns[step])
            # dloss/dp = c (p - y), then softmax's backward: dz_j = p_j dp_j - p_j sum_k p_k dp_k
            torch.addcmul(zero, diff, probs, value=c, out=weighted)  # c (p - y) p
            torch.sum(weighted, 1, keepdim=True, out=weighted_sum)
            torch.addcmul(weighted, probs, weighted_sum, value=-1, out=d_logits)
        else:  # loss = mean over tokens of -log p_y, p = softmax(logits)
            log_probs = torch.log_softmax(logits, dim=1)
            torch.mul(log_probs, one_hot_targets, out=terms)
            torch.sum(terms_by_model, dim=0, out=loss_columns[step])
            # dz = (p - y) / tokens
            torch.add(minus_c_targets, log_probs.exp_(), alpha=c, out=d_logits)
        # gW[v, d, m] = sum_t d_logits[t, v, m] h[t, d, m];  gb[v, m] = sum_t d_logits[t, v, m]
        head_gradient(out=gW)
        torch.sum(d_logits, dim=0, out=gb)
        # d_h[t, d, m] = sum_v d_logits[t, v, m] W[v, d, m]
        input_gradient(out=d_h)
        # Each token sends d_h back to the row it was read from. For a tied model that row is
        # in W, so its gradient becomes the sum of both uses of the one matrix (notebook 02).
        gE.zero_()
        grads.index_add_(0, lookup, d_h_flat)

        adam.step()
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
    if (product <= per_model.SMALL_PRODUCT
            and product * models <= per_model.SMALL_PRODUCT_TOTAL):
        matmul = product  # the elementwise product (see per_model.PerModelProduct)
    else:
        matmul = 6 * vocab * dim + 3 * tokens * vocab  # the batched product's contiguous copies
    parameters = 6 * _parameter_count(vocab, dim, n_seeds)  # values, gradients, Adam's state
    each_model = 12 * tokens * max(vocab, dim) + matmul  # logits, softmax, gradients of a step
    bootstrap = 3 * 8 * min(2000 * n_seeds, 2**20)
    plot = 2 * 8 * 400 * n_seeds
    return {
        "losses": models * config.steps * bytes_per_number,
        # a tenth more for the memory allocator's slack (measured: freed blocks are reused late)
        "training": (parameters + models * each_model) * bytes_per_number * 11 // 10,
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
