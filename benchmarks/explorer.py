"""How long does the explorer of notebook 04 take from a click on Train to the new plot?

    python benchmarks/explorer.py [--repeats 5]

Times `Explorer.train()` at the explorer's default setting (the blog's: identity, MSE, 10 tokens,
dimension 3, 2000 steps, 100 seeds): training every seed of both variants, the paired summary
with its bootstrap intervals, and drawing the PNG, which is what one click does. It prints the
median over the repeats on an idle machine (the goal is at most 0.3 s) and beside one busy
process (`python -c "while True: pass"`; the goal is at most 0.6 s), then the three parts timed on
their own (the plot both as a click draws it, in the explorer's kept figure, and in a figure made
anew), and the size of the PNG. One untimed click warms up first.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

import torch
from contention import Competitors, stop_cleanly_on_sigterm, wait_until_idle  # beside this

from tying_utils import runtime
from tying_utils.explorer import DEFAULTS, Explorer, render_png
from tying_utils.stats import compare_curves, default_threshold
from tying_utils.train import train_many


def timings(function, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return times


def median_seconds(function, repeats: int) -> float:
    return statistics.median(timings(function, repeats))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed clicks (default 5)")
    args = parser.parse_args(argv)
    stop_cleanly_on_sigterm()

    explorer = Explorer(train_now=True)  # the first click, untimed: warms up
    config, seeds = explorer.settings()
    wait_until_idle()  # (up to a minute) so that "idle" means it
    clicks = timings(explorer.train, args.repeats)
    wait_until_idle()
    with Competitors(1):
        busy_clicks = timings(explorer.train, args.repeats)

    run = explorer.last_run
    threshold = default_threshold(config.loss, config.vocab)
    summary = compare_curves(run.losses["tied"], run.losses["untied"], threshold)
    parts = {
        "train_many": median_seconds(lambda: train_many(config, seeds), args.repeats),
        "compare_curves": median_seconds(
            lambda: compare_curves(run.losses["tied"], run.losses["untied"], threshold),
            args.repeats,
        ),
        # what a click draws with: the explorer's kept figure, redrawn with new data
        "redraw the PNG": median_seconds(lambda: explorer._plot.render_png(run, summary),
                                         args.repeats),
        # for comparison: a figure made anew for one picture (render_png)
        "new figure+PNG": median_seconds(lambda: render_png(run, summary), args.repeats),
    }

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"Python {sys.version.split()[0]}, torch {torch.__version__}, "
          f"{platform.machine()}, {os.cpu_count()} CPUs, load average {load:.2f}")
    print(runtime.describe())
    print(f"setting: {DEFAULTS}")
    print(f"click to new plot, idle, median of {args.repeats}: {statistics.median(clicks):.2f} s "
          f"(goal: at most 0.3 s), fastest {min(clicks):.2f} s")
    print(f"click to new plot, beside 1 busy process: {statistics.median(busy_clicks):.2f} s "
          f"(goal: at most 0.6 s), fastest {min(busy_clicks):.2f} s")
    print(f"  each click, idle: {', '.join(f'{t:.2f}' for t in clicks)} s; busy: "
          f"{', '.join(f'{t:.2f}' for t in busy_clicks)} s")
    for name, seconds in parts.items():
        print(f"  {name:<16} {seconds:.3f} s")
    print(f"PNG size: {len(bytes(explorer.image.value)) / 1000:.0f} KB")
    print(f"summary: {summary.sentence()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
