"""Execute notebooks top to bottom, in place, and print how long each took.

    python tools/execute_notebooks.py notebooks/01_linear_weight_shapes.ipynb …

`make notebooks` runs it on every notebook, so committed outputs match the package. Each notebook
runs in a fresh kernel started in notebooks/ (as JupyterLab would), with timing metadata off so
that re-executing a notebook changes only what its cells print.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient


def execute(path: Path, timeout: int = 300) -> float:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        record_timing=False,
    )
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    nbformat.write(nb, path)
    return seconds


def main(paths: list[str]) -> int:
    if not paths:
        print("usage: python tools/execute_notebooks.py NOTEBOOK.ipynb …", file=sys.stderr)
        return 2
    for name in paths:
        seconds = execute(Path(name))
        print(f"{name}: executed in {seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
