"""Arithmetic on many small models at once, the models on the last axis: matrix products and Adam.

The building blocks of the many-seed trainer (`many_seeds.py`; notebook 03's section 4, "A thousand
seeds in one call"): `PerModelProduct` multiplies the small matrices of every model in the way that
is fastest for their sizes, and `FlatAdam` updates all parameters of all models, kept in one flat
tensor, with `torch.optim.Adam`'s numbers. `matmul_per_model` is one product, for the benchmarks and
tests.
"""

from __future__ import annotations

import math

import torch
from torch.optim.adam import adam

__all__ = ["PerModelProduct", "share_scratch", "matmul_per_model", "FlatAdam", "has_fused_adam",
           "FEW_TERMS", "LARGE_RESULT", "SMALL_PRODUCT", "SMALL_PRODUCT_TOTAL"]

# How `PerModelProduct` multiplies the small matrices of all models (measured with
# benchmarks/paired_training.py --crossover): sums of at most FEW_TERMS terms with results of at
# least LARGE_RESULT numbers term by term; products of at most SMALL_PRODUCT multiplications per
# model (and SMALL_PRODUCT_TOTAL for all models together, 32 MB in float32) in one elementwise
# step; larger ones with torch.bmm.
FEW_TERMS = 4
LARGE_RESULT = 2**16
SMALL_PRODUCT = 4096
SMALL_PRODUCT_TOTAL = 2**23


class PerModelProduct:
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
            self.scratch = None  # a new tensor for the terms at every call, until share_scratch
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
            return torch.sum(torch.mul(self.a, self.b, out=self.scratch), dim=1, out=out)
        product = torch.bmm(self.a.contiguous(), self.b.contiguous())
        if out is None:
            return product.permute(1, 2, 0).contiguous()
        return out.copy_(product.permute(1, 2, 0))


def share_scratch(products: list[PerModelProduct]) -> None:
    """Let the elementwise products among `products`, which run one after another, write their
    terms (i, k, j, models) into one tensor made once instead of a new one at every call.

    Each gets a view laid out as PyTorch lays out `a * b`, so that the sum over k adds the same
    numbers in the same order, bit for bit.
    """
    layouts = {}
    for product in products:
        if product.way == "elementwise":
            terms = product.a * product.b  # made once, to read its layout
            layouts[product] = terms.shape, terms.stride(), terms.numel(), terms.dtype
    if layouts:
        scratch = torch.empty(max(n for _, _, n, _ in layouts.values()),
                              dtype=next(iter(layouts.values()))[3])
        for product, (shape, stride, _, _) in layouts.items():
            product.scratch = scratch.as_strided(shape, stride)


def matmul_per_model(a: torch.Tensor, b: torch.Tensor,
                     out: torch.Tensor | None = None) -> torch.Tensor:
    """`a[:, :, m] @ b[:, :, m]` for every model m (the last axis), once, the way a training step
    multiplies (see `PerModelProduct`; benchmarks/paired_training.py --crossover times each way)."""
    return PerModelProduct(a, b)(out)


class FlatAdam:
    """`torch.optim.Adam` for one flat tensor of parameters and its gradient, with the same numbers.

    `step` runs `torch.optim.adam.adam(..., fused=True)`, the function that
    `torch.optim.Adam(fused=True).step()` calls, with the lists it takes made once: the update is
    one fused operation after the step count's increment (PyTorch 2.4 and later have it for the
    CPU), without the optimizer's bookkeeping at every step, which costs more than the update
    itself for the explorer's 100 seeds. Where PyTorch cannot run it on the CPU, `step` runs
    `step_written_out`: the same update as a few tensor operations, in the order of PyTorch's
    default (single-tensor) Adam. Read that one to see what Adam does; tests hold each to
    `torch.optim.Adam` bit for bit.
    """

    def __init__(self, params: torch.Tensor, grad: torch.Tensor, lr: float, betas=(0.9, 0.999),
                 eps=1e-8, fused: bool | None = None):
        self.params, self.grad, self.lr, self.betas, self.eps = params, grad, lr, betas, eps
        self.exp_avg = torch.zeros_like(params)
        self.exp_avg_sq = torch.zeros_like(params)
        self.steps_taken = 0
        self.fused = has_fused_adam() if fused is None else fused
        step_count = torch.zeros((), dtype=torch.float32)  # the fused update counts in it
        self._lists = ([params], [grad], [self.exp_avg], [self.exp_avg_sq], [], [step_count])
        self._options = dict(fused=True, amsgrad=False, beta1=betas[0], beta2=betas[1], lr=lr,
                             weight_decay=0.0, eps=eps, maximize=False)
        self._denom = torch.empty_like(params)
        # The constants as numbers of the parameters' type: the same arithmetic as Python
        # numbers, without converting them at every step.
        self._beta2, self._eps = (torch.tensor(x, dtype=params.dtype) for x in (betas[1], eps))
        self._tiny = torch.finfo(params.dtype).tiny

    def step(self) -> None:
        """One update of `params` from the numbers now in `grad`."""
        if not self.fused:
            self.step_written_out()
            return
        self.steps_taken += 1
        adam(*self._lists, **self._options)

    def step_written_out(self) -> None:
        grad = self.grad
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


def has_fused_adam() -> bool:
    """Whether this PyTorch runs `torch.optim.Adam(fused=True)` on the CPU (2.4 and later do)."""
    global _FUSED_ADAM
    if _FUSED_ADAM is None:
        one = [torch.zeros(1)]
        try:
            adam(one, [torch.zeros(1)], [torch.zeros(1)], [torch.zeros(1)], [], [torch.zeros(())],
                 fused=True, amsgrad=False, beta1=0.9, beta2=0.999, lr=0.1, weight_decay=0.0,
                 eps=1e-8, maximize=False)
            _FUSED_ADAM = True
        except (AttributeError, NotImplementedError, RuntimeError, TypeError):
            _FUSED_ADAM = False
    return _FUSED_ADAM


_FUSED_ADAM: bool | None = None  # found out on first use
