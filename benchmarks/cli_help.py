"""How long `python -m tying_utils --help` takes against `python -c "import torch"` (issue 17:
the help must answer in under half the time of importing PyTorch, since it imports no torch).

    python benchmarks/cli_help.py [--repeats 10]

Runs the two commands alternately, each as a whole new process, so that the machine's load
falls on both alike, and prints each one's median and the ratio of the medians. `make bench`
runs it; the README quotes it with the load the machine had.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

COMMANDS = {
    "python -m tying_utils --help": [sys.executable, "-m", "tying_utils", "--help"],
    "python -m tying_utils lm --help": [sys.executable, "-m", "tying_utils", "lm", "--help"],
    'python -c "import torch"': [sys.executable, "-c", "import torch"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    repeats = parser.parse_args().repeats
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(repeats):
        for name, command in COMMANDS.items():
            start = time.perf_counter()
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
            times[name].append(time.perf_counter() - start)
    print(f"{repeats} runs each, alternating; load average {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} CPUs")
    torch_median = statistics.median(times['python -c "import torch"'])
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:34} median {median:.2f} s (min {min(values):.2f}, max {max(values):.2f})"
              f"  = {median / torch_median:.2f} x import torch")


if __name__ == "__main__":
    main()
