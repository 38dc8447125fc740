"""How much faster is the many-seed trainer than the faithful loop, and how much memory does it use?

    python benchmarks/paired_training.py [--pairs 3] [--seeds 1000] [--repeats 3]

In one process: `train_pair` (the blog's loop: two nn.Modules, autograd, torch.optim.Adam) on a
few seeds, then `train_many` on 1000 seeds of both variants, both in the blog's setting (2000
steps).
It prints seconds per pair for each, their ratio (the goal is at least 200×), and the process's
peak resident memory (an upper bound for both; the goal is under 1 GB). Process start-up and
imports are not timed; each trainer runs once untimed first to warm up.
"""

from __future__ import annotations

import argparse
import platform
import resource
import statistics
import sys
import time

import torch

from tying_utils import RunConfig, train_many, train_pair


def seconds(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=3, help="seeds for the loop (default 3)")
    parser.add_argument("--seeds", type=int, default=1000, help="seeds for train_many")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of train_many")
    args = parser.parse_args(argv)
    config = RunConfig()  # the blog's setting: identity, MSE on softmax, Adam 1e-3, 2000 steps

    train_pair(RunConfig(steps=50), 0)  # warm up
    train_many(RunConfig(steps=50), args.seeds)

    loop = [seconds(lambda s=s: train_pair(config, s)) for s in range(args.pairs)]
    loop_per_pair = statistics.median(loop)
    many = [seconds(lambda: train_many(config, args.seeds)) for _ in range(args.repeats)]
    many_total = statistics.median(many)
    many_per_pair = many_total / args.seeds
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux

    print(f"machine: {platform.machine()}, {torch.get_num_threads()} torch threads, "
          f"torch {torch.__version__}, Python {platform.python_version()}")
    print(f"setting: {config.task}/{config.loss}, vocab {config.vocab}, dim {config.dim}, "
          f"{config.steps} steps, both variants")
    print(f"faithful loop (train_pair):   {loop_per_pair:.3f} s per pair "
          f"(median of {args.pairs}: {', '.join(f'{t:.3f}' for t in loop)})")
    print(f"many-seed (train_many, {args.seeds} seeds): {many_total:.2f} s in all, "
          f"{many_per_pair * 1e3:.2f} ms per pair (median of {args.repeats}: "
          f"{', '.join(f'{t:.2f}' for t in many)})")
    print(f"per-pair throughput ratio: {loop_per_pair / many_per_pair:.0f}x (goal: >= 200x)")
    print(f"peak resident memory of this process: {peak_mb:.0f} MB (goal: < 1024 MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
