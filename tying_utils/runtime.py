"""The thread policy: how many CPU threads the package's work uses, and why.

Every notebook's setup cell prints `describe()`, and `python -m tying_utils info` prints the same
line. The trainers (`train.py`, `lm_training.py`) and the explorer run their work inside
`threads_for(work)`.

Why a policy at all: PyTorch starts one thread per CPU it *sees*. On a shared machine that is the
wrong number. A Binder pod sees the host's cores but may use about one of them (a cgroup CPU
quota); a classroom server runs dozens of kernels on the same cores; a test run uses two workers.
PyTorch's threads then wait on each other and on everything else, and small work becomes several
times slower. The policy, in this order:

1. `set_threads(n)` from the reader wins (`set_threads(None)` goes back to the policy);
2. then an explicit `OMP_NUM_THREADS` in the environment, or `torch.set_num_threads(n)` called
   after `import tying_utils`;
3. otherwise the CPUs this process may really use (its CPU affinity and its cgroup's CPU quota,
   cgroup v2 `cpu.max` or v1 `cpu.cfs_quota_us` / `cpu.cfs_period_us`), but no more than the kind
   of work benefits from (`WORK_CAPS`, measured by `benchmarks/contention.py --caps`).

Both kinds of work ("toy": the batched toy trainers and the explorer; "lm": a language-model
epoch) get one thread. On an idle machine a second thread makes a thousand toy seeds or an LSTM
epoch somewhat faster, but beside one busy process two threads take several times as long as
one, and the course's readers share their CPUs (Binder, a classroom server, CI); so the default is
the choice that cannot stall, and on a machine of your own `set_threads(2)` buys the difference.
One thread everywhere also makes the notebooks' numbers the same on every machine's CPU count
(notebook 05 measures how much the count matters). The measurements: the README's Performance
section (`benchmarks/contention.py`).

Code outside the package (a Hugging Face model in notebook 07, a plain training loop) runs on
PyTorch's own thread count: `apply_to_torch()` sets it to the policy's.
"""

from __future__ import annotations

import math
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch

__all__ = ["WORK_CAPS", "CpuBudget", "cpu_budget", "cgroup_cpu_quota", "choose_threads",
           "set_threads", "threads_for", "apply_to_torch", "describe"]

# The most threads each kind of work gains from (the README's Performance section;
# benchmarks/contention.py --caps): "toy", the batched toy trainers and the explorer; "lm", a
# language-model epoch.
WORK_CAPS = {"toy": 1, "lm": 1}

_STARTED_WITH = torch.get_num_threads()  # what PyTorch chose before this package was imported
_chosen_by_reader: int | None = None
_applied: int | None = None  # what apply_to_torch() gave PyTorch: the policy's, not the reader's


@dataclass(frozen=True)
class CpuBudget:
    """The CPUs this process may use: its affinity, its cgroup quota, and the smaller of both."""

    visible: int  # os.cpu_count(): what PyTorch's default follows
    affinity: int  # CPUs the scheduler lets this process run on
    quota: float | None  # cgroup CPU quota in CPUs (1.5 = one and a half), None when unlimited
    usable: int  # whole CPUs this process can keep busy: min(affinity, quota rounded down), >= 1

    def __str__(self) -> str:
        quota = "no CPU quota" if self.quota is None else f"a CPU quota of {self.quota:g}"
        return (f"{self.usable} usable CPU{'s' if self.usable != 1 else ''}: "
                f"{self.visible} visible, {self.affinity} in this process's affinity, {quota}")


def cpu_budget(root: str | Path = "/") -> CpuBudget:
    """The CPUs this process may use. `root` is where /proc and /sys are (tests use a fake one)."""
    visible = os.cpu_count() or 1
    try:
        affinity = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # macOS and Windows have no sched_getaffinity
        affinity = visible
    quota = cgroup_cpu_quota(root)
    usable = affinity if quota is None else min(affinity, max(1, math.floor(quota)))
    return CpuBudget(visible, affinity, quota, max(1, usable))


def cgroup_cpu_quota(root: str | Path = "/") -> float | None:
    """The CPU quota of this process's cgroup (and of every cgroup above it), in CPUs, or None.

    cgroup v2: the file `cpu.max` holds "QUOTA PERIOD" or "max PERIOD". cgroup v1: the files
    `cpu.cfs_quota_us` (-1 means no limit) and `cpu.cfs_period_us`. The tightest limit wins.
    """
    root = Path(root)
    quotas = []
    for line in _read(root / "proc/self/cgroup").splitlines():
        hierarchy, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        if hierarchy == "0" and controllers == "":  # cgroup v2: one unified hierarchy
            quotas += [_v2_quota(folder) for folder in _folders(root / "sys/fs/cgroup", path)]
        elif "cpu" in controllers.split(","):  # cgroup v1: the cpu controller's hierarchy
            for mount in ("cpu", "cpu,cpuacct", "cpuacct,cpu"):
                base = root / "sys/fs/cgroup" / mount
                if base.is_dir():
                    quotas += [_v1_quota(folder) for folder in _folders(base, path)]
                    break
    found = [q for q in quotas if q is not None]
    return min(found) if found else None


def choose_threads(work: str = "toy") -> tuple[int, str]:
    """How many threads `work` ("toy" or "lm") runs on, and one phrase saying why."""
    if work not in WORK_CAPS:
        raise ValueError(f"unknown kind of work {work!r}; choose one of {', '.join(WORK_CAPS)}.")
    chosen = _chosen_elsewhere()
    if chosen is not None:
        return chosen
    budget = cpu_budget()
    return (min(budget.usable, WORK_CAPS[work]),
            f"{budget}; {work} work gains from at most {WORK_CAPS[work]}")


def _chosen_elsewhere() -> tuple[int, str] | None:
    """The thread count the reader or the environment asked for, and where, or None."""
    if _chosen_by_reader is not None:
        return _chosen_by_reader, "set with tying_utils.set_threads"
    if os.environ.get("OMP_NUM_THREADS", "").strip().isdigit():
        return max(1, int(os.environ["OMP_NUM_THREADS"])), "OMP_NUM_THREADS"
    if torch.get_num_threads() not in (_STARTED_WITH, _applied):
        return torch.get_num_threads(), "set with torch.set_num_threads"
    return None


def set_threads(threads: int | None) -> None:
    """Use `threads` CPU threads for all of the package's work; `None` returns to the policy."""
    global _chosen_by_reader
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int)
                                or not 1 <= threads <= 1024):
        raise ValueError(f"set_threads needs a whole number from 1 to 1024, or None, got "
                         f"{threads!r}.")
    _chosen_by_reader = threads


@contextmanager
def threads_for(work: str = "toy"):
    """Run the block on the policy's number of threads for `work`, then restore PyTorch's."""
    threads, _ = choose_threads(work)
    before = torch.get_num_threads()
    if threads != before:
        torch.set_num_threads(threads)
    try:
        yield threads
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


def apply_to_torch(work: str = "toy") -> int:
    """Set PyTorch's own thread count to the policy's for `work`, for code that does not run
    inside the package (a Hugging Face model, a plain training loop); return the count."""
    global _applied
    threads, _ = choose_threads(work)
    torch.set_num_threads(threads)
    _applied = threads
    return threads


def describe() -> str:
    """One line for a notebook's setup cell: the threads each kind of work uses, and why."""
    chosen = _chosen_elsewhere()
    if chosen is not None:
        threads, why = chosen
        plan = f"{threads} CPU thread{'s' if threads != 1 else ''} for all work ({why})"
    else:
        toy, lm = choose_threads("toy")[0], choose_threads("lm")[0]
        counts = (f"{toy} CPU thread{'s' if toy != 1 else ''} for all its work" if toy == lm else
                  f"{toy} CPU thread{'s' if toy != 1 else ''} for the toy models, {lm} for "
                  f"language models")
        plan = f"{counts} ({cpu_budget()})"
    return f"tying_utils: {plan}; change it with tying_utils.set_threads(n)."


def _folders(base: Path, path: str) -> list[Path]:
    """`base/path` and each folder above it up to `base`: limits are inherited downwards."""
    parts = [p for p in path.strip("/").split("/") if p]
    return [base.joinpath(*parts[:n]) for n in range(len(parts), -1, -1)]


def _v2_quota(folder: Path) -> float | None:
    fields = _read(folder / "cpu.max").split()
    if len(fields) != 2 or fields[0] == "max":
        return None
    return _ratio(fields[0], fields[1])


def _v1_quota(folder: Path) -> float | None:
    quota, period = _read(folder / "cpu.cfs_quota_us").strip(), _read(folder / "cpu.cfs_period_us")
    if not quota or quota.startswith("-"):
        return None
    return _ratio(quota, period.strip())


def _ratio(quota: str, period: str) -> float | None:
    try:
        quota_us, period_us = int(quota), int(period)
    except ValueError:
        return None
    return quota_us / period_us if quota_us > 0 and period_us > 0 else None


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""
