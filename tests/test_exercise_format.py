"""Hygiene of every notebook's "Check yourself" section: the exercise format of the course.

Each exercise is a code cell tagged `exercise` that holds the placeholder `...` and calls a
`check_…` function, followed by a markdown cell with the solution in a collapsed
`<details><summary>…</summary> ```python … ``` </details>` block. The solution is the exercise
cell with the answer filled in: every line of the exercise without `...` is still there, in
order, and no `...` is left. test_exercise_solutions.py runs both through their checkers.

The helpers below (`check_yourself_cells`, `solution_code`, the `*_problems` rules) are shared
with test_exercise_solutions.py; each rule returns a list of problems, empty when the notebook
follows it, so one test can name every problem at once.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from tying_utils.exercises import NOT_ANSWERED

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
CHECK_HEADING = "## Check yourself"
TAKEAWAYS_HEADING = "## Takeaways"
EXERCISE_TAG = "exercise"
SOLUTION_BLOCK = re.compile(r"```python[ \t]*\n(.*?)\n[ \t]*```", re.DOTALL)


# --- reading a notebook's section ----------------------------------------------------------------


def _heading_at(cells, heading: str, start: int = 0) -> int | None:
    """Index of the first markdown cell from `start` with a line that is exactly `heading`."""
    for index in range(start, len(cells)):
        cell = cells[index]
        if cell.cell_type == "markdown" and any(
                line.strip() == heading for line in cell.source.splitlines()):
            return index
    return None


def check_yourself_cells(nb) -> list:
    """The cells after the "## Check yourself" heading's cell and before "## Takeaways"."""
    start = _heading_at(nb.cells, CHECK_HEADING)
    assert start is not None, f'no markdown cell with the heading "{CHECK_HEADING}"'
    end = _heading_at(nb.cells, TAKEAWAYS_HEADING, start + 1)
    assert end is not None, f'no "{TAKEAWAYS_HEADING}" heading after "{CHECK_HEADING}"'
    return nb.cells[start + 1:end]


def is_exercise(cell) -> bool:
    return cell.cell_type == "code" and EXERCISE_TAG in cell.metadata.get("tags", [])


def exercises_with_next_cell(cells) -> list[tuple[int, object, object]]:
    """(number from 1, exercise cell, the cell after it or None) for each exercise cell."""
    found = []
    for index, cell in enumerate(cells):
        if is_exercise(cell):
            after = cells[index + 1] if index + 1 < len(cells) else None
            found.append((len(found) + 1, cell, after))
    return found


def solution_code(cell) -> str | None:
    """The ```python block of a markdown solution cell inside <details>, or None."""
    if cell is None or cell.cell_type != "markdown":
        return None
    source = cell.source
    if "<details>" not in source or "<summary>" not in source or "</details>" not in source:
        return None
    found = SOLUTION_BLOCK.search(source)
    return found.group(1) if found else None


def _syntax_tree(source: str) -> ast.AST:
    """The Python syntax tree of a cell (IPython's %magics turned into calls first)."""
    from IPython.core.inputtransformer2 import TransformerManager

    return ast.parse(TransformerManager().transform_cell(source))


def has_placeholder(source: str) -> bool:
    return any(isinstance(node, ast.Constant) and node.value is ...
               for node in ast.walk(_syntax_tree(source)))


def checker_calls(source: str) -> list[str]:
    """The names of the `check_…` functions a cell calls."""
    names = []
    for node in ast.walk(_syntax_tree(source)):
        if isinstance(node, ast.Call):
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name and name.startswith("check_"):
                names.append(name)
    return names


def lines_not_kept(exercise: str, solution: str) -> list[str]:
    """The exercise's lines without `...` that the solution lacks (or has out of order)."""
    kept = [line.rstrip() for line in exercise.splitlines() if line.strip() and "..." not in line]
    solution_lines = [line.rstrip() for line in solution.splitlines()]
    missing, position = [], 0
    for line in kept:
        try:
            position = solution_lines.index(line, position) + 1
        except ValueError:
            missing.append(line.strip())
    return missing


# --- the rules: each returns its problems, [] when the notebook follows it -----------------------


def section_problems(nb) -> list[str]:
    try:
        cells = check_yourself_cells(nb)
    except AssertionError as error:
        return [str(error)]
    count = sum(is_exercise(cell) for cell in cells)
    problems = [] if count >= 2 else [f"{count} cells tagged {EXERCISE_TAG!r} in the section; "
                                      "at least two are needed"]
    inside = {id(cell) for cell in cells}
    problems += [f"a cell tagged {EXERCISE_TAG!r} outside the section: "
                 f"{cell.source.splitlines()[0] if cell.source else ''!r}"
                 for cell in nb.cells if is_exercise(cell) and id(cell) not in inside]
    problems += [f"a code cell calls {', '.join(checker_calls(cell.source))} but is not tagged "
                 f"{EXERCISE_TAG!r}" for cell in cells
                 if cell.cell_type == "code" and not is_exercise(cell)
                 and checker_calls(cell.source)]
    return problems


def exercise_cell_problems(nb) -> list[str]:
    problems = []
    for number, cell, _ in exercises_with_next_cell(check_yourself_cells(nb)):
        if not has_placeholder(cell.source):
            problems.append(f"exercise {number} has no placeholder `...`")
        if not checker_calls(cell.source):
            problems.append(f"exercise {number} calls no check_… function")
        if "example answer" in cell.source.lower():
            problems.append(f"exercise {number} ships an example answer")
    return problems


def solution_cell_problems(nb) -> list[str]:
    problems = []
    for number, cell, after in exercises_with_next_cell(check_yourself_cells(nb)):
        code = solution_code(after)
        if code is None:
            problems.append(f"exercise {number} is not followed by a markdown cell with "
                            "<details>, <summary> and a ```python block")
            continue
        if "..." in code:
            problems.append(f"the solution of exercise {number} still holds `...`")
        missing = lines_not_kept(cell.source, code)
        if missing:
            problems.append(f"the solution of exercise {number} changes more than the answer: "
                            f"it lacks the exercise's line {missing[0]!r}")
    return problems


def committed_output_problems(nb) -> list[str]:
    """Committed notebooks are executed: each exercise cell shows the not-answered line."""
    problems = []
    for number, cell, _ in exercises_with_next_cell(check_yourself_cells(nb)):
        text = "".join(output.get("text", "") for output in cell.get("outputs", []))
        if NOT_ANSWERED not in text.splitlines():
            problems.append(f"exercise {number}'s committed output lacks the not-answered line")
    return problems


RULES = [section_problems, exercise_cell_problems, solution_cell_problems,
         committed_output_problems]


# --- the course's notebooks ----------------------------------------------------------------------


def _read(path):
    return nbformat.read(path, as_version=4)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_check_yourself_section_has_at_least_two_exercises(path):
    assert not (problems := section_problems(_read(path))), f"{path.name}: {problems}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_exercise_cells_hold_the_placeholder_and_call_a_checker(path):
    assert not (problems := exercise_cell_problems(_read(path))), f"{path.name}: {problems}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_each_exercise_is_followed_by_its_solution_which_only_answers_it(path):
    assert not (problems := solution_cell_problems(_read(path))), f"{path.name}: {problems}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_exercise_cells_show_the_not_answered_line(path):
    assert not (problems := committed_output_problems(_read(path))), f"{path.name}: {problems}"


# --- the rules themselves, on small notebooks made here ------------------------------------------


def solution_markdown(code: str) -> str:
    return (f"<details>\n<summary>Solution</summary>\n\n```python\n{code}\n```\n\n"
            "Why, in a sentence.\n</details>")


def exercise(source: str, solution: str) -> list:
    """An exercise cell and its solution cell, as the course writes them."""
    cell = new_code_cell(source, metadata={"tags": [EXERCISE_TAG]})
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=NOT_ANSWERED + "\n")]
    return [cell, new_markdown_cell(solution_markdown(solution))]


SHAPE_EXERCISE = ("your_answer = ...  # replace ... with your answer\n"
                  "_ = check_linear_weight_shape(your_answer)")
SHAPE_SOLUTION = "your_answer = (1000, 64)\n_ = check_linear_weight_shape(your_answer)"
GRADIENT_EXERCISE = ("def d_logits(probs, one_hot):\n"
                     "    return ...  # replace ... with the gradient\n\n\n"
                     "_ = check_softmax_mse_gradient(d_logits)")
GRADIENT_SOLUTION = ("def d_logits(probs, one_hot):\n"
                     "    g = 2 * (probs - one_hot) / probs.numel()\n"
                     "    return probs * (g - (g * probs).sum(-1, keepdim=True))\n\n\n"
                     "_ = check_softmax_mse_gradient(d_logits)")


def mini_notebook(*section) -> nbformat.NotebookNode:
    """A notebook with a setup cell, a "Check yourself" section of `section` and takeaways."""
    setup = new_code_cell("from tying_utils.exercises import (\n"
                          "    check_linear_weight_shape,\n"
                          "    check_softmax_mse_gradient,\n"
                          "    check_uniform_perplexity,\n)")
    return new_notebook(cells=[
        new_markdown_cell("# 00 · A made-up notebook"), setup,
        new_markdown_cell("Some text.\n\n## Check yourself\n\n**1.** The shape?"),
        *section,
        new_markdown_cell("## Takeaways\n\n- One."),
    ])


def good_section() -> list:
    return [*exercise(SHAPE_EXERCISE, SHAPE_SOLUTION),
            new_markdown_cell("**2.** The gradient?"),
            *exercise(GRADIENT_EXERCISE, GRADIENT_SOLUTION)]


def test_the_rules_pass_a_notebook_in_the_course_format():
    nb = mini_notebook(*good_section())
    assert [problem for rule in RULES for problem in rule(nb)] == []
    assert len(check_yourself_cells(nb)) == 5
    assert "(1000, 64)" in solution_code(check_yourself_cells(nb)[1])


def broken(kind: str) -> nbformat.NotebookNode:
    """The good mini notebook with one thing wrong."""
    section = good_section()
    if kind == "one exercise":
        section = section[:2]
    elif kind == "no heading":
        nb = mini_notebook(*section)
        nb.cells[2].source = "Some text."
        return nb
    elif kind == "no takeaways":
        nb = mini_notebook(*section)
        nb.cells[-1].source = "## The end"
        return nb
    elif kind == "untagged checker call":
        section.append(new_code_cell("_ = check_linear_weight_shape((1000, 64))"))
    elif kind == "no placeholder":
        section[0].source = SHAPE_SOLUTION
    elif kind == "placeholder only in a comment":
        section[0].source = ("your_answer = None  # replace ... with your answer\n"
                             "_ = check_linear_weight_shape(your_answer)")
    elif kind == "no checker":
        section[0].source = "your_answer = ...  # replace ... with your answer"
    elif kind == "example answer":
        section[0].source = SHAPE_EXERCISE + "  # an example answer: try your own"
    elif kind == "no details":
        section[1].source = f"Solution:\n\n```python\n{SHAPE_SOLUTION}\n```"
    elif kind == "code cell after":
        section[1] = new_code_cell(SHAPE_SOLUTION)
    elif kind == "placeholder left in the solution":
        section[1].source = solution_markdown(SHAPE_EXERCISE)
    elif kind == "solution rewrites the cell":
        section[1].source = solution_markdown("_ = check_linear_weight_shape((1000, 64))")
    elif kind == "not executed":
        section[0].outputs = []
    return mini_notebook(*section)


@pytest.mark.parametrize("kind, rule, problem", [
    ("one exercise", section_problems, "at least two are needed"),
    ("no heading", section_problems, "no markdown cell with the heading"),
    ("no takeaways", section_problems, 'no "## Takeaways" heading'),
    ("untagged checker call", section_problems, "but is not tagged 'exercise'"),
    ("no placeholder", exercise_cell_problems, "exercise 1 has no placeholder"),
    ("placeholder only in a comment", exercise_cell_problems, "exercise 1 has no placeholder"),
    ("no checker", exercise_cell_problems, "exercise 1 calls no check_"),
    ("example answer", exercise_cell_problems, "exercise 1 ships an example answer"),
    ("no details", solution_cell_problems, "exercise 1 is not followed by a markdown cell"),
    ("code cell after", solution_cell_problems, "exercise 1 is not followed by a markdown cell"),
    ("placeholder left in the solution", solution_cell_problems, "still holds `...`"),
    ("solution rewrites the cell", solution_cell_problems,
     "lacks the exercise's line '_ = check_linear_weight_shape(your_answer)'"),
    ("not executed", committed_output_problems, "exercise 1's committed output lacks"),
])
def test_each_rule_finds_what_it_is_for(kind, rule, problem):
    problems = rule(broken(kind))
    assert any(problem in found for found in problems), problems


def test_a_solution_may_add_lines_but_not_drop_or_reorder_them():
    exercise_code = "a = 1\nb = ...  # your answer\nprint(a)\ncheck_x(b)"
    assert lines_not_kept(exercise_code, "a = 1\nb = 2\nc = 3\nprint(a)\ncheck_x(b)") == []
    assert lines_not_kept(exercise_code, "a = 1\ncheck_x(b)\nprint(a)") == ["check_x(b)"]
    assert lines_not_kept(exercise_code, "b = 2\nprint(a)\ncheck_x(b)") == ["a = 1"]
