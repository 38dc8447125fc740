"""Every exercise against its checker: as shipped it is not answered, its solution passes.

For each notebook, a small notebook is built from its setup cell and the code cells of its
"Check yourself" section (up to "Takeaways"), twice: first the exercise cells as shipped, then
the same cells with each exercise replaced by the code of its solution block. It runs in a fresh
kernel, as a reader's Run All would, in notebooks/ with matplotlib's Agg backend. Each shipped
exercise must print the not-answered line and nothing that looks like an error; each solution
must print a line starting with ✅. The section must therefore run on its own after the setup
cell, and quickly. test_exercise_format.py checks the format these tests rely on.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
from test_exercise_format import (
    GRADIENT_EXERCISE,
    GRADIENT_SOLUTION,
    NOTEBOOKS,
    SHAPE_EXERCISE,
    SHAPE_SOLUTION,
    check_yourself_cells,
    exercise,
    is_exercise,
    mini_notebook,
    solution_code,
)

from tying_utils.exercises import NOT_ANSWERED

KERNEL_TIMEOUT_S = 120
ERROR_WORDS = ("Traceback", "Error", "Warning")


@dataclass
class Exercise:
    """Where one exercise sits in the built notebook: its shipped cell and its solution cell."""

    number: int
    shipped: int
    solution: int


def build_check_notebook(nb) -> tuple[nbformat.NotebookNode, list[Exercise]]:
    """Setup cell + the section's code cells as shipped + the same cells, each exercise answered
    by its solution. Raises AssertionError if the section or a solution block is missing."""
    setup = next(cell for cell in nb.cells if cell.cell_type == "code")
    section = check_yourself_cells(nb)
    code_cells = [(index, cell) for index, cell in enumerate(section) if cell.cell_type == "code"]
    cells = [new_code_cell(setup.source)]
    shipped, solutions = [], []
    for _, cell in code_cells:
        if is_exercise(cell):
            shipped.append(len(cells))
        cells.append(new_code_cell(cell.source))
    for index, cell in code_cells:
        if is_exercise(cell):
            code = solution_code(section[index + 1]) if index + 1 < len(section) else None
            assert code is not None, (f"exercise {len(solutions) + 1} has no solution block "
                                      "after it")
            solutions.append(len(cells))
            cells.append(new_code_cell(code))
        else:
            cells.append(new_code_cell(cell.source))
    built = new_notebook(cells=cells, metadata=copy.deepcopy(nb.metadata))
    exercises = [Exercise(number, s, a)
                 for number, (s, a) in enumerate(zip(shipped, solutions), start=1)]
    return built, exercises


def run_in_fresh_kernel(nb, folder: Path) -> None:
    """Execute `nb` in place in a new kernel started in `folder`; errors stay in the outputs."""
    NotebookClient(nb, timeout=KERNEL_TIMEOUT_S, kernel_name="python3", allow_errors=True,
                   record_timing=False, resources={"metadata": {"path": str(folder)}}).execute()


def printed(cell) -> tuple[list[str], str, list[str]]:
    """The lines a cell printed (stdout and results), its stderr, and its errors."""
    stdout, stderr, errors = [], "", []
    for output in cell.get("outputs", []):
        if output.output_type == "stream" and output.name == "stdout":
            stdout += output.text.splitlines()
        elif output.output_type == "stream":
            stderr += output.text
        elif output.output_type == "error":
            errors.append(f"{output.ename}: {output.evalue}")
        elif "text/plain" in output.get("data", {}):
            stdout += output.data["text/plain"].splitlines()
    return stdout, stderr, errors


def looks_like_an_error(cell) -> str | None:
    _, stderr, errors = printed(cell)
    if errors:
        return errors[0]
    if any(word in stderr for word in ERROR_WORDS):
        return "stderr: " + stderr.strip().splitlines()[-1]
    return None


def solution_problems(nb, folder: Path) -> list[str]:
    """Build the check notebook of `nb`, run it, and list every way it breaks the contract."""
    built, exercises = build_check_notebook(nb)
    if not exercises:
        return ["the section has no cell tagged 'exercise'"]
    run_in_fresh_kernel(built, folder)
    problems = []
    setup_error = looks_like_an_error(built.cells[0])
    if setup_error:
        return [f"the setup cell failed: {setup_error}"]
    for index, cell in enumerate(built.cells):
        error = looks_like_an_error(cell)
        if error and index not in {e.shipped for e in exercises} | {e.solution for e in exercises}:
            problems.append(f"a section cell failed: {error} in {cell.source[:60]!r}")
    for item in exercises:
        lines, _, _ = printed(built.cells[item.shipped])
        error = looks_like_an_error(built.cells[item.shipped])
        if error:
            problems.append(f"exercise {item.number} as shipped: {error}")
        if NOT_ANSWERED not in lines:
            problems.append(f"exercise {item.number} as shipped did not print the not-answered "
                            f"line; it printed {lines[-3:]}")
        if any(line.startswith(("✅", "❌")) for line in lines):
            problems.append(f"exercise {item.number} as shipped printed a verdict: "
                            f"{[line for line in lines if line.startswith(('✅', '❌'))]}")
        lines, _, _ = printed(built.cells[item.solution])
        error = looks_like_an_error(built.cells[item.solution])
        if error:
            problems.append(f"the solution of exercise {item.number}: {error}")
        if not any(line.startswith("✅") for line in lines) or any(
                line.startswith(("❌", "⏳")) for line in lines):
            problems.append(f"the solution of exercise {item.number} did not pass its checker; "
                            f"it printed {lines[-3:]}")
    return list(dict.fromkeys(problems))  # a cell before the exercises runs twice: say it once


@pytest.fixture
def kernel_environment(monkeypatch):
    """What a test kernel needs: no display, no network, one thread unless told otherwise."""
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("OMP_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", "1"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_each_exercise_is_unanswered_as_shipped_and_its_solution_passes(path, kernel_environment):
    nb = nbformat.read(path, as_version=4)
    problems = solution_problems(nb, path.parent)
    assert not problems, f"{path.name}: " + "; ".join(problems)


def test_the_runner_finds_every_kind_of_broken_exercise(tmp_path, kernel_environment):
    """One made-up notebook, one kernel: two good exercises and four broken ones."""
    perplexity_exercise = ("your_answer = ...  # replace ... with your answer\n"
                           "_ = check_uniform_perplexity(your_answer, V)")
    nb = mini_notebook(
        new_code_cell("V = 1000  # computed inside the section, as the format asks"),
        *exercise(SHAPE_EXERCISE, SHAPE_SOLUTION),  # 1: good
        *exercise(GRADIENT_EXERCISE, GRADIENT_SOLUTION),  # 2: good
        *exercise(perplexity_exercise,  # 3: a wrong solution
                  "your_answer = 10\n_ = check_uniform_perplexity(your_answer, V)"),
        *exercise("your_answer = (1000, 64)  # 4: shipped answered\n"
                  "_ = check_linear_weight_shape(your_answer)", SHAPE_SOLUTION),
        *exercise("your_answer = ...\n_ = check_linear_weight_shape(undefined_name)",  # 5
                  "your_answer = (1000, 64)\n_ = check_linear_weight_shape(your_answer)"),
        *exercise("your_answer = ...\n_ = check_linear_weight_shape(your_answer)",  # 6
                  "import warnings\nwarnings.warn('deprecated')\n"
                  "your_answer = (1000, 64)\n_ = check_linear_weight_shape(your_answer)"),
    )
    problems = solution_problems(nb, tmp_path)
    assert not any("exercise 1 " in p or "exercise 2 " in p for p in problems), problems
    expected = [
        "the solution of exercise 3 did not pass its checker",
        "exercise 4 as shipped did not print the not-answered line",
        "exercise 4 as shipped printed a verdict",
        "exercise 5 as shipped: NameError",
        "the solution of exercise 6: stderr: ",
    ]
    for problem in expected:
        assert any(found.startswith(problem) for found in problems), (problem, problems)
    assert len(problems) == len(expected) + 1, problems  # 5 also misses the not-answered line


def test_the_built_notebook_runs_the_section_twice_with_solutions_second():
    nb = mini_notebook(new_code_cell("V = 1000"), *exercise(SHAPE_EXERCISE, SHAPE_SOLUTION),
                       new_markdown_cell("**2.**"),
                       *exercise(GRADIENT_EXERCISE, GRADIENT_SOLUTION))
    built, exercises = build_check_notebook(nb)
    sources = [cell.source for cell in built.cells]
    assert sources[1:] == ["V = 1000", SHAPE_EXERCISE, GRADIENT_EXERCISE,
                           "V = 1000", SHAPE_SOLUTION, GRADIENT_SOLUTION]
    assert [(e.shipped, e.solution) for e in exercises] == [(2, 5), (3, 6)]
