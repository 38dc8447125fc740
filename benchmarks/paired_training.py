"""How much faster is the many-seed trainer than the faithful loop, and how much memory does it use?

    python benchmarks/paired_training.py [--pairs 3] [--seeds 1000] [--repeats 3] [--threads 1]
    python benchmarks/paired_training.py --crossover

In one process and on the same number of threads (one, unless told): `train_pair` (the blog's
loop: two nn.Modules, autograd, torch.optim.Adam) on a few seeds, then `train_many` on 1000
seeds of both variants, both in the blog's setting (2000 steps). It prints seconds per pair for
each, their ratio (the goal is at least 500×), and the process's peak resident memory (an upper
bound for both; the goal is under 1 GB). Process start-up and imports are not timed; each
trainer runs once untimed first to warm up.

`--crossover` times the three ways the many-seed trainer can multiply the matrices of all models
(term by term, elementwise in one step, or `torch.bmm`) on the products of a few settings: what
`per_model.FEW_TERMS`, `per_model.LARGE_RESULT` and `per_model.SMALL_PRODUCT` are set from.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import sys
import time
from functools import partial

import torch
from contention import wait_until_idle  # benchmarks/contention.py, beside this file

from tying_utils import RunConfig, per_model, set_threads, train_many, train_pair


def seconds(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def crossover() -> None:
    """The three ways `per_model.matmul_per_model` can multiply, for the three products of a
    training step."""
    print("| tokens × vocab × dim, models | product | term by term | elementwise | torch.bmm |")
    print("|---|---|---|---|---|")
    settings = [(6, 10, 3, 2000), (6, 10, 3, 200), (6, 40, 6, 400), (20, 40, 6, 400),
                (6, 16, 100, 200), (6, 100, 16, 200), (6, 64, 200, 20), (6, 1000, 256, 2)]
    ways = {"term by term": (10**9, 10**12), "elementwise": (0, 10**12), "torch.bmm": (0, 0)}
    limits = ("FEW_TERMS", "SMALL_PRODUCT", "SMALL_PRODUCT_TOTAL", "LARGE_RESULT")
    chosen = {name: getattr(per_model, name) for name in limits}
    per_model.LARGE_RESULT = 0
    for tokens, vocab, dim, models in settings:
        h, W = torch.randn(tokens, dim, models), torch.randn(vocab, dim, models)
        d_logits = torch.randn(tokens, vocab, models)
        products = {"logits = h Wᵀ": (h, W.transpose(0, 1)),
                    "head gradient": (d_logits.transpose(0, 1), h),
                    "embedding gradient": (d_logits, W)}
        for name, (a, b) in products.items():
            times = {}
            for way, (few, small) in ways.items():
                per_model.FEW_TERMS, per_model.SMALL_PRODUCT = few, small
                per_model.SMALL_PRODUCT_TOTAL = small
                product = partial(per_model.matmul_per_model, a, b)
                product()  # warm-up
                times[way] = min(seconds(product) for _ in range(20))
            print(f"| {tokens}×{vocab}×{dim}, {models} | {name} | "
                  + " | ".join(f"{times[way] * 1e6:.0f} µs" for way in ways) + " |")
    for name, value in chosen.items():
        setattr(per_model, name, value)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=3, help="seeds for the loop (default 3)")
    parser.add_argument("--seeds", type=int, default=1000, help="seeds for train_many")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of train_many")
    parser.add_argument("--threads", type=int, default=1, help="threads for both (default 1)")
    parser.add_argument("--crossover", action="store_true",
                        help="time the ways of multiplying small matrices instead")
    args = parser.parse_args(argv)
    set_threads(args.threads)
    if args.crossover:
        torch.set_num_threads(args.threads)
        crossover()
        return 0
    config = RunConfig()  # the blog's setting: identity, MSE on softmax, Adam 1e-3, 2000 steps

    train_pair(RunConfig(steps=50), 0)  # warm up
    train_many(RunConfig(steps=50), args.seeds)
    wait_until_idle()  # up to a minute, for other processes to finish

    loop = [seconds(lambda s=s: train_pair(config, s)) for s in range(args.pairs)]
    loop_per_pair = statistics.median(loop)
    many = [seconds(lambda: train_many(config, args.seeds)) for _ in range(args.repeats)]
    many_total = statistics.median(many)
    many_per_pair = many_total / args.seeds
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")

    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {args.threads} torch "
          f"thread(s) for both trainers, torch {torch.__version__}, Python "
          f"{platform.python_version()}, load average {load:.2f}")
    print(f"setting: {config.task}/{config.loss}, vocab {config.vocab}, dim {config.dim}, "
          f"{config.steps} steps, both variants")
    print(f"faithful loop (train_pair):   {loop_per_pair:.3f} s per pair "
          f"(median of {args.pairs}: {', '.join(f'{t:.3f}' for t in loop)})")
    print(f"many-seed (train_many, {args.seeds} seeds): {many_total:.2f} s in all, "
          f"{many_per_pair * 1e3:.2f} ms per pair (median of {args.repeats}: "
          f"{', '.join(f'{t:.2f}' for t in many)})")
    print(f"per-pair throughput ratio: {loop_per_pair / many_per_pair:.0f}x (goal: >= 500x)")
    print(f"peak resident memory of this process: {peak_mb:.0f} MB (goal: < 1024 MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
