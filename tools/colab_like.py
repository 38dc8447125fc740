"""Run every notebook as Colab would: `make test-colab` calls this with .venv-colab's Python.

    .venv-colab/bin/python tools/colab_like.py notebooks/01_….ipynb …

What makes the kernel Colab-like (the Makefile builds .venv-colab): Python 3.12, PyTorch and the
other packages Colab preinstalls (numpy, matplotlib, tqdm, ipywidgets 7.7.1) already there, and no
copy of the course. Each notebook runs from a fresh temporary folder (as Colab's /content holds
no checkout), with its first cell's own install line made to run: the `google.colab` test is
forced true and the repository address is pointed at this checkout, so pip installs tying_utils
(and the notebook's extras) as a Colab user's kernel would, from the files under test. Then every
cell runs top to bottom; an error fails the run. After the installs, the torch that was
preinstalled must still be the one imported: the course must not replace Colab's PyTorch.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import tomllib
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parents[1]
COLAB_TEST = 'if "google.colab" in sys.modules:'


def repository() -> str:
    with open(ROOT / "pyproject.toml", "rb") as file:
        return tomllib.load(file)["project"]["urls"]["Repository"]


def pointed_at_checkout(notebook) -> str:
    """Make the first code cell's install line run, and install from this checkout; return the
    pip line as it will run."""
    first = next(cell for cell in notebook.cells if cell.cell_type == "code")
    source = first.source
    if COLAB_TEST not in source or "%pip install" not in source:
        raise SystemExit("the first code cell has no Colab install line (tools/sync_notebooks.py "
                         "writes it)")
    source = source.replace(COLAB_TEST, "if True:  # Colab-like run: the install line runs")
    source = source.replace(f"git+{repository()}", ROOT.as_uri())
    first.source = source
    return next(line.strip() for line in source.splitlines() if "%pip install" in line)


def torch_in_use() -> str:
    code = "import torch; print(torch.__version__, torch.__file__)"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip()


def run(path: Path) -> float:
    notebook = nbformat.read(path, as_version=4)
    install = pointed_at_checkout(notebook)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="colab-content-") as content:
        client = NotebookClient(notebook, timeout=600, kernel_name="python3",
                                resources={"metadata": {"path": content}})
        try:
            client.execute()
        except CellExecutionError as error:
            raise SystemExit(f"{path.name} failed in the Colab-like kernel:\n{error}") from None
    seconds = time.perf_counter() - started
    print(f"{path.name}: ran every cell in {seconds:.0f} s (install line: {install})", flush=True)
    return seconds


def main(paths: list[str]) -> int:
    if sys.version_info[:2] != (3, 12):
        print(f"the Colab-like kernel is Python 3.12; this is {sys.version.split()[0]}",
              file=sys.stderr)
        return 2
    before = torch_in_use()
    print(f"preinstalled: torch {before}")
    total = sum(run(Path(p)) for p in paths)
    after = torch_in_use()
    if after != before:
        print(f"the notebooks' install lines replaced PyTorch: {before} became {after}",
              file=sys.stderr)
        return 1
    print(json.dumps({"notebooks": len(paths), "seconds": round(total), "torch": after}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
