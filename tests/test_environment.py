"""Every module the course imports is a declared dependency, in pyproject.toml and environment.yml.

Notebook 02 once failed at its first cell on Binder, conda and plain installs: it imported
safetensors, which only the dev setup happened to have. These tests collect every import of every
notebook (the code cells, after IPython turns `%pip` lines into Python) and of every module of
tying_utils (imports inside functions included), and look each one up:

- pyproject.toml: a runtime dependency, or an extra that the notebook's Colab setup line installs
  (tools/sync_notebooks.py EXTRAS_BY_IMPORT: transformers and peft come with the `hf` extra); in
  the package, an import inside a function may come from an extra too (an optional feature);
- environment.yml (conda, Binder): every one of them, since Binder runs every notebook.

The Python standard library (sys.stdlib_module_names) and tying_utils itself need no declaration;
in a notebook neither does IPython, which the Jupyter kernel that runs it always brings.
"""

from __future__ import annotations

import ast
import json
import re
import sys
from pathlib import Path

import pytest
from IPython.core.inputtransformer2 import TransformerManager
from tool_scripts import load_tool  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]




sync_notebooks = load_tool("sync_notebooks")

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
PACKAGE_FILES = sorted((ROOT / "tying_utils").rglob("*.py"))  # subpackages too
# Import name → distribution name, where they differ (pip and pyproject use distribution names).
DISTRIBUTIONS = {"PIL": "pillow", "yaml": "pyyaml", "sklearn": "scikit-learn",
                 "IPython": "ipython"}
# Distribution name → conda-forge package name, where they differ.
CONDA_NAMES = {"torch": "pytorch-cpu"}  # conda-forge's CPU build of PyTorch
NEEDS_NO_DECLARATION = set(sys.stdlib_module_names) | {"tying_utils", "__future__"}
KERNEL_MODULES = {"IPython"}  # every Jupyter kernel that runs a notebook imports it


# --- what pyproject.toml and environment.yml declare ----------------------------------------

def _name(requirement: str) -> str:
    """The distribution name of a requirement, normalised: 'Foo_Bar[x]>=1' → 'foo-bar'."""
    return re.split(r"[<>=!~\[; ]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _pyproject() -> tuple[set[str], dict[str, set[str]]]:
    """The runtime dependencies, and the distributions of each extra."""
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    block = re.search(r"^dependencies = \[(.*?)^\]", text, re.S | re.M).group(1)
    runtime = {_name(r) for r in re.findall(r'"([^"]+)"', block)}
    extras_block = re.search(r"^\[project\.optional-dependencies\]\n(.*?)(?=^\[)", text,
                             re.S | re.M).group(1)
    extras = {
        extra: {_name(r) for r in re.findall(r'"([^"]+)"', body)}
        for extra, body in re.findall(r"^([A-Za-z0-9_-]+) = \[(.*?)\]", extras_block, re.S | re.M)
    }
    return runtime, extras


def _environment():
    text = (ROOT / "environment.yml").read_text(encoding="utf-8")
    conda = re.findall(r"^  - ([A-Za-z0-9_.\-]+)", text, re.M)
    pip = re.findall(r"^      - (.+)$", text, re.M)
    return text, [c.lower() for c in conda], pip


def _in_environment_yml(distribution: str) -> bool:
    _, conda, pip = _environment()
    return (CONDA_NAMES.get(distribution, distribution) in conda
            or distribution in {_name(p) for p in pip})


def distribution(module: str) -> str:
    return DISTRIBUTIONS.get(module, module).lower().replace("_", "-")


# --- what the course imports ------------------------------------------------------------------

def imports_of(code: str) -> dict[str, bool]:
    """Top-level module → True when some import of it is at module level, False when every
    import of it is inside a function or class. Relative imports are the package's own."""
    found: dict[str, bool] = {}

    def visit(node, top_level: bool):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                names = [alias.name for alias in child.names]
            elif isinstance(child, ast.ImportFrom) and child.level == 0:
                names = [child.module]
            else:
                names = []
            for name in names:
                module = name.split(".")[0]
                found[module] = found.get(module, False) or top_level
            inner = isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda,
                                       ast.ClassDef))
            visit(child, top_level and not inner)

    visit(ast.parse(code), True)
    return found


def notebook_code(path: Path) -> str:
    """The notebook's code cells as Python: IPython's own transformer turns `%pip …` and other
    magics into the calls the kernel makes, so every cell parses."""
    transformer = TransformerManager()
    nb = json.loads(path.read_text(encoding="utf-8"))
    cells = ["".join(c["source"]) if isinstance(c["source"], list) else c["source"]
             for c in nb["cells"] if c["cell_type"] == "code"]
    return "\n".join(transformer.transform_cell(source) for source in cells)


def undeclared_in_notebook(path: Path) -> list[str]:
    runtime, extras = _pyproject()
    nb = json.loads(path.read_text(encoding="utf-8"))
    installed_on_colab = set().union(*(extras.get(e, set())
                                       for e in sync_notebooks.extras_needed(nb)))
    problems = []
    for module in sorted(imports_of(notebook_code(path))):
        if module in NEEDS_NO_DECLARATION | KERNEL_MODULES:
            continue
        dist = distribution(module)
        if dist not in runtime | installed_on_colab:
            where = [e for e, names in extras.items() if dist in names]
            hint = (f"it is in the extra {where} but the setup line does not install it: add "
                    f"it to EXTRAS_BY_IMPORT in tools/sync_notebooks.py" if where
                    else "add it to pyproject.toml's dependencies")
            problems.append(f"{path.name} imports {module} ({dist}): {hint}")
        if not _in_environment_yml(dist):
            problems.append(f"{path.name} imports {module}: add "
                            f"{CONDA_NAMES.get(dist, dist)} to environment.yml")
    return problems


def undeclared_in_package() -> list[str]:
    runtime, extras = _pyproject()
    in_any_extra = set().union(*extras.values())
    problems = []
    for path in PACKAGE_FILES:
        for module, top_level in sorted(imports_of(path.read_text(encoding="utf-8")).items()):
            if module in NEEDS_NO_DECLARATION:
                continue
            dist = distribution(module)
            allowed = runtime if top_level else runtime | in_any_extra
            if dist not in allowed:
                where = "at module level: a runtime dependency" if top_level else \
                    "in a function: a runtime dependency or an extra"
                problems.append(f"tying_utils/{path.name} imports {module} ({dist}) {where} "
                                "in pyproject.toml is needed")
            if not _in_environment_yml(dist):
                problems.append(f"tying_utils/{path.name} imports {module}: add "
                                f"{CONDA_NAMES.get(dist, dist)} to environment.yml")
    return problems


# --- the tests ----------------------------------------------------------------------------------

def test_the_import_collector_sees_magics_functions_and_submodules():
    code = TransformerManager().transform_cell(
        "%pip install -q something\nimport numpy as np, os.path\nfrom torch.nn import Linear\n"
        "from . import tying\ndef later():\n    import peft\n    from safetensors.torch import x\n"
        "class Holder:\n    import tqdm\n"
    )
    assert imports_of(code) == {"numpy": True, "os": True, "torch": True, "peft": False,
                                "safetensors": False, "tqdm": False}


def test_the_declarations_are_read():
    runtime, extras = _pyproject()
    assert {"torch", "numpy", "safetensors", "ipywidgets"} <= runtime
    assert {"transformers", "peft"} <= extras["hf"]
    assert _in_environment_yml("torch") and not _in_environment_yml("no-such-package")


def test_there_are_notebooks_and_package_files():
    assert NOTEBOOKS and PACKAGE_FILES


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_notebook_import_is_declared(path):
    problems = undeclared_in_notebook(path)
    assert not problems, "\n".join(problems)


def test_every_package_import_is_declared():
    problems = undeclared_in_package()
    assert not problems, "\n".join(problems)


def test_every_runtime_dependency_is_in_environment_yml():
    runtime, _ = _pyproject()
    assert "torch" in runtime
    missing = sorted(d for d in runtime if not _in_environment_yml(d))
    assert not missing, f"missing from environment.yml: {missing}"


def test_environment_yml_has_the_hf_extra_binder_runs():
    _, extras = _pyproject()
    missing = sorted(d for d in extras["hf"] if not _in_environment_yml(d))
    assert not missing, f"Binder runs every notebook; missing from environment.yml: {missing}"


def test_environment_yml_has_what_binder_needs():
    text, conda, pip = _environment()
    assert "conda-forge" in text
    assert "python" in conda and "python=3.11" in text
    assert "jupyterlab" in conda and "jupyterlab=4" in text
    assert "ipywidgets=8" in text and "nbval" in conda
    assert "pytorch-cpu" in conda, "the CPU build of PyTorch"
    assert "-e ." in pip, "Binder installs the helper package only through pip: [-e .]"


LOCKS = sorted(ROOT.glob("requirements-lock*.txt"))


def test_every_supported_python_has_a_lock():
    """requirements-lock.txt for 3.11, requirements-lock-py3.X.txt for the others (the Makefile
    picks the one of the running Python)."""
    names = {path.name for path in LOCKS}
    assert names == {"requirements-lock.txt", "requirements-lock-py3.10.txt",
                     "requirements-lock-py3.12.txt", "requirements-lock-py3.13.txt"}
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "requirements-lock-py$$minor.txt" in makefile


@pytest.mark.parametrize("lock_path", LOCKS, ids=lambda path: path.name)
def test_lock_pins_torch_2_13_and_only_exact_versions(lock_path):
    lock = lock_path.read_text(encoding="utf-8")
    assert re.search(r"^torch==2\.13\.0$", lock, re.M)
    pins = [line for line in lock.splitlines() if line and not line.startswith("#")]
    assert all("==" in line for line in pins), "every line of a lock is an exact pin"


@pytest.mark.parametrize("lock_path", LOCKS, ids=lambda path: path.name)
def test_lock_pins_every_declared_distribution(lock_path):
    """make installs the lock: what pyproject declares (runtime and extras) must be in it."""
    lock = lock_path.read_text(encoding="utf-8")
    pinned = {_name(line) for line in lock.splitlines() if line and not line.startswith("#")}
    runtime, extras = _pyproject()
    missing = sorted((runtime | set().union(*extras.values())) - pinned)
    assert not missing, f"{lock_path.name} lacks {missing}"
