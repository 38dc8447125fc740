"""Students work on copies: tools/student_copies.py (what `make lab` and `make reset-notebook`
run) copies the shipped notebooks into the git-ignored my-notebooks/, and answering there leaves
the checkout's tracked files as they were."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def load_tool():
    spec = importlib.util.spec_from_file_location("student_copies",
                                                  ROOT / "tools" / "student_copies.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def clone(tmp_path):
    """A fresh clone of this checkout's committed state, as a student would have it."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs git and a git checkout")
    target = tmp_path / "course"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(target)], check=True)
    return target


def git_status(repo: Path) -> str:
    return subprocess.run(["git", "status", "--porcelain"], cwd=repo, capture_output=True,
                          text=True, check=True).stdout


def test_answering_every_exercise_in_the_copies_leaves_git_status_clean(clone):
    tool = load_tool()
    made = tool.copy_missing(clone / "notebooks", clone / "my-notebooks")
    assert [p.name for p in made] == [p.name for p in tool.shipped_notebooks(clone / "notebooks")]
    for copy in made:  # the student answers every exercise: each `...` becomes an answer
        notebook = json.loads(copy.read_text(encoding="utf-8"))
        for cell in notebook["cells"]:
            if cell["cell_type"] == "code":
                cell["source"] = [line.replace("...", "42") for line in cell["source"]]
        copy.write_text(json.dumps(notebook), encoding="utf-8")
    assert git_status(clone) == "", "the working copies must be ignored by git"


def test_copy_adds_only_missing_notebooks_and_keeps_answers(tmp_path):
    tool = load_tool()
    shipped, copies = tmp_path / "notebooks", tmp_path / "my-notebooks"
    shipped.mkdir()
    (shipped / "01_a.ipynb").write_text("shipped 01")
    assert len(tool.copy_missing(shipped, copies)) == 1
    (copies / "01_a.ipynb").write_text("my answers")
    (shipped / "02_b.ipynb").write_text("shipped 02")  # arrives with git pull
    assert [p.name for p in tool.copy_missing(shipped, copies)] == ["02_b.ipynb"]
    assert (copies / "01_a.ipynb").read_text() == "my answers"


def test_reset_puts_the_shipped_notebook_back_and_keeps_the_students_copy(tmp_path):
    tool = load_tool()
    shipped, copies = tmp_path / "notebooks", tmp_path / "my-notebooks"
    shipped.mkdir()
    for name in ("01_a.ipynb", "02_b.ipynb"):
        (shipped / name).write_text(f"shipped {name}")
    tool.copy_missing(shipped, copies)
    (copies / "01_a.ipynb").write_text("my answers")
    assert [p.name for p in tool.reset("01", shipped, copies)] == ["01_a.ipynb"]
    assert (copies / "01_a.ipynb").read_text() == "shipped 01_a.ipynb"
    kept = list((copies / ".replaced").glob("01_a.*.ipynb"))
    assert len(kept) == 1 and kept[0].read_text() == "my answers"
    assert len(tool.reset("all", shipped, copies)) == 2


def test_reset_of_an_unknown_notebook_is_one_sentence(tmp_path):
    tool = load_tool()
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "01_a.ipynb").write_text("x")
    with pytest.raises(ValueError, match=r"^no notebook '99': give one of 01, or all\.$"):
        tool.reset("99", tmp_path / "notebooks", tmp_path / "my-notebooks")
    tool_path = ROOT / "tools" / "student_copies.py"
    result = subprocess.run([sys.executable, str(tool_path), "reset", "99"],
                            capture_output=True, text=True)
    assert result.returncode == 2 and "Traceback" not in result.stderr
