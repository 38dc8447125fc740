"""environment.yml (conda, Binder) stays consistent with pyproject.toml."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONDA_NAMES = {"torch": "pytorch-cpu"}  # conda-forge's CPU build of PyTorch


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].lower()


def _environment():
    text = (ROOT / "environment.yml").read_text(encoding="utf-8")
    conda = re.findall(r"^  - ([A-Za-z0-9_.\-]+)", text, re.M)
    pip = re.findall(r"^      - (.+)$", text, re.M)
    return text, [c.lower() for c in conda], pip


def test_every_runtime_dependency_is_in_environment_yml():
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    block = re.search(r"^dependencies = \[(.*?)^\]", pyproject, re.S | re.M).group(1)
    requirements = re.findall(r'"([^"]+)"', block)
    assert "torch" in [_name(r) for r in requirements]
    _, conda, _ = _environment()
    for requirement in requirements:
        name = _name(requirement)
        assert CONDA_NAMES.get(name, name) in conda, f"{name} missing from environment.yml"


def test_environment_yml_has_what_binder_needs():
    text, conda, pip = _environment()
    assert "conda-forge" in text
    assert "python" in conda and "python=3.11" in text
    assert "jupyterlab" in conda and "jupyterlab=4" in text
    assert "ipywidgets=8" in text and "nbval" in conda
    assert "pytorch-cpu" in conda, "the CPU build of PyTorch"
    assert "-e ." in pip, "Binder installs the helper package only through pip: [-e .]"


def test_lock_pins_torch_to_the_cpu_wheel_version():
    lock = (ROOT / "requirements-lock.txt").read_text(encoding="utf-8")
    assert re.search(r"^torch==2\.13\.0$", lock, re.M)
    pins = [line for line in lock.splitlines() if line and not line.startswith("#")]
    assert all("==" in line for line in pins), "every line of the lock is an exact pin"
