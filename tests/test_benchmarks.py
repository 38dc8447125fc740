"""The arithmetic the benchmarks report besides their timings (timings themselves are not tested:
speed goals live in benchmarks/, not in tests)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("threads", "usable", "competitors", "times_idle"),
    [
        (1, 2, 0, 1.0),  # idle: the idle time itself
        (2, 2, 0, 1.0),
        (1, 2, 1, 1.0),  # one busy process on 2 CPUs leaves one thread a whole CPU
        (2, 2, 1, 1.5),  # two threads share 2 CPUs with it: 4/3 of a CPU for work made for 2
        (1, 2, 2, 1.5),  # two busy processes: 2/3 of a CPU for one thread
        (2, 2, 2, 2.0),  # and 1 CPU for two threads
        (4, 16, 15, 19 / 16),  # 4 threads beside 15 busy processes on 16 CPUs: 16 · 4/19 CPUs
    ],
)
def test_fair_share_floor_is_the_idle_time_stretched_by_the_share_of_cpus(
        threads, usable, competitors, times_idle):
    contention = load("contention")
    assert contention.fair_share_floor(2.0, threads, usable, competitors) == \
        pytest.approx(2.0 * times_idle)
