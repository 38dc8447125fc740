"""Hygiene of every notebook: format, execution order, skeleton, badges, setup cell, README,
and the sizes a student reads (issue 18 item 6: setup cell, code cells, prose, asserts).

nbval (make nbval) checks that the notebooks run; these tests check how they were committed.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import nbformat
import pytest
from tool_scripts import load_tool  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]




sync_notebooks = load_tool("sync_notebooks")

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
# Paths of an author's machine that must not appear in a committed output: this checkout's
# own folder, and the usual homes and temporary folders.
MACHINE_PATH = re.compile(
    "|".join([re.escape(str(ROOT)), r"/home/", r"/root/", r"/Users/", r"/tmp/",
              r"/private/var/", r"[A-Z]:\\\\Users"])
)


def _cells(path, kind):
    nb = nbformat.read(path, as_version=4)
    return [c for c in nb.cells if c.cell_type == kind]


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 2, "expected the course's notebooks in notebooks/"


def test_numbers_are_consecutive():
    numbers = [int(p.name[:2]) for p in NOTEBOOKS]
    assert numbers == list(range(1, len(numbers) + 1))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_valid_nbformat_with_the_kernelspec_jupyterlab_writes(path):
    """Opening a notebook in JupyterLab must not change it: commit the kernelspec it writes."""
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.get("kernelspec") == sync_notebooks.KERNELSPEC


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_nbval_markers_are_tags_not_comments(path):
    """Students read the code: test markers live in cell tags, never in the source."""
    allowed = {"nbval-check-output", "nbval-ignore-output", "nbval-skip", "exercise",
               "solution-check", "hide-input"}
    for cell in _cells(path, "code"):
        assert "NBVAL_" not in cell.source, f"{path.name}: an NBVAL comment in the code"
        tags = set(cell.metadata.get("tags", []))
        assert tags <= allowed, f"{path.name}: unknown tags {sorted(tags - allowed)}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_executed_in_order_without_errors(path):
    code = _cells(path, "code")
    counts = [c.execution_count for c in code]
    assert counts == list(range(1, len(code) + 1)), f"re-execute {path.name} top to bottom"
    for cell in code:
        for output in cell.outputs:
            assert output.output_type != "error", f"{path.name} has a stored error: {output.ename}"
            if output.output_type == "stream":
                assert output.name != "stderr" or "Traceback" not in output.text


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_machine_paths_in_outputs(path):
    text = json.dumps([c.outputs for c in _cells(path, "code")])
    found = MACHINE_PATH.search(text)
    where = text[found.start():][:60] if found else ""
    assert not found, f"{path.name} shows a path of the author's machine: …{where}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_title_cell_follows_the_skeleton(path):
    title = _cells(path, "markdown")[0].source
    number = path.name[:2]
    assert re.search(rf"^# {number} · .+", title, re.M), "title line '# NN · Title'"
    assert "colab-badge.svg" in title and "mybinder.org/badge_logo.svg" in title
    for part in ("**Question:**", "**You will learn**", "**Time to run:**"):
        assert part in title, f"{path.name}: title cell lacks {part}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_setup_cell_comes_first(path):
    setup = _cells(path, "code")[0].source
    lines = setup.splitlines()
    assert lines[0] == sync_notebooks.SETUP_FIRST and "google.colab" in lines[1]
    assert all(len(line) <= 100 for line in lines[:sync_notebooks.SETUP_LINES]), "readable lines"
    assert "manual_seed" in setup, "setup: Colab install, imports, then seeds"
    assert "print(describe())" in setup, "setup says how many CPU threads the package uses"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_ends_with_check_yourself_and_takeaways(path):
    headings = [line for c in _cells(path, "markdown") for line in c.source.splitlines()
                if line.startswith("## ")]
    assert any(h.startswith("## Check yourself") for h in headings)
    assert headings[-1].startswith("## Takeaways"), f"{path.name}: last section is Takeaways"
    last = _cells(path, "markdown")[-1].source
    index = NOTEBOOKS.index(path)
    if index + 1 < len(NOTEBOOKS):
        assert NOTEBOOKS[index + 1].name in last, "the last cell links to the next notebook"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_listed_in_readme(path):
    assert f"(notebooks/{path.name})" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_badges_setup_cells_and_readme_table_are_in_sync():
    changes = sync_notebooks.drifted()
    names = [str(p.relative_to(ROOT)) for p in changes]
    assert not changes, f"out of sync (run python tools/sync_notebooks.py): {names}"


def test_badges_point_at_the_repository_in_pyproject():
    repo = sync_notebooks.repository_url()
    for path in NOTEBOOKS:
        title = _cells(path, "markdown")[0].source
        assert sync_notebooks.colab_url(repo, path) in title
        assert sync_notebooks.binder_url(repo, path) in title


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_check_yourself_says_to_run_the_setup_cell_first(path):
    """An exercise answered before the setup cell ran fails on a missing checker: say so where
    the exercises start."""
    cells = [c.source for c in _cells(path, "markdown") if "## Check yourself" in c.source]
    assert len(cells) == 1, f"{path.name}: one 'Check yourself' section"
    assert "run the setup cell" in cells[0].lower(), f"{path.name}: say to run the setup cell"


# How much a student reads at once (issue 18, item 6). Asserts that read as test code belong in
# tests/notebook_claims/, one file per notebook.
SETUP_OTHER_LINES = 8  # lines of the setup cell besides its imports
CODE_CELL_LINES = 40
MARKDOWN_CELL_WORDS = 300
NOTEBOOK_ASSERTS = 20


def _python(source):
    """A code cell's source as Python: an IPython magic or shell line (`%pip`, `!ls`) → `pass`."""
    return "\n".join(re.sub(r"^(\s*)[%!].*$", r"\1pass", line) for line in source.splitlines())


def setup_other_lines(source):
    """The setup cell's lines that are not imports (a parenthesised import's continuation lines
    are imports), not blank and not only a comment; the Colab install lines count."""
    imports = set()
    for node in ast.walk(ast.parse(_python(source))):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            imports.update(range(node.lineno, node.end_lineno + 1))
    return [line for number, line in enumerate(source.splitlines(), 1)
            if number not in imports and line.strip() and not line.strip().startswith("#")]


def asserts_in(source):
    """The `assert` statements of a code cell, as (first line, last line) pairs."""
    return [(node.lineno, node.end_lineno) for node in ast.walk(ast.parse(_python(source)))
            if isinstance(node, ast.Assert)]


def test_the_size_rules_can_fail():
    setup = ("import sys\nif True:\n    %pip install x\nfrom a import (\n    b,\n)\n\n"
             "# note\nx = 1\n")
    assert setup_other_lines(setup) == ["if True:", "    %pip install x", "x = 1"]
    assert asserts_in("assert a\nassert (\n    b\n)\nfor i in c:\n    assert i\n") == [
        (1, 1), (2, 4), (6, 6)]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_setup_cell_is_its_imports_and_a_few_lines(path):
    other = setup_other_lines(_cells(path, "code")[0].source)
    assert len(other) <= SETUP_OTHER_LINES, (
        f"{path.name}: the setup cell has {len(other)} lines besides its imports (at most "
        f"{SETUP_OTHER_LINES}); move plumbing into the package: {other}")


def _too_long(path, cell_type: str, size, limit: int) -> list[tuple[int, int]]:
    """(cell index, size) of each cell of `cell_type` whose `size(source)` is over `limit`."""
    cells = nbformat.read(path, as_version=4).cells
    return [(number, size(cell.source)) for number, cell in enumerate(cells)
            if cell.cell_type == cell_type and size(cell.source) > limit]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_code_cell_is_too_long_to_read(path):
    long = _too_long(path, "code", lambda source: len(source.splitlines()), CODE_CELL_LINES)
    assert not long, (f"{path.name}: code cells over {CODE_CELL_LINES} lines (cell index, "
                      f"lines): {long}")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_markdown_cell_is_too_long_to_read(path):
    long = _too_long(path, "markdown", lambda source: len(source.split()), MARKDOWN_CELL_WORDS)
    assert not long, (f"{path.name}: markdown cells over {MARKDOWN_CELL_WORDS} words (cell "
                      f"index, words): {long}; split them at a natural boundary")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_asserts_are_few_one_line_lessons(path):
    """An assert in a notebook states the fact the prose just claimed, in one line; the others
    are tests and live in tests/notebook_claims/."""
    found = [(number, span) for number, cell in enumerate(nbformat.read(path, as_version=4).cells)
             if cell.cell_type == "code" for span in asserts_in(cell.source)]
    multi = [number for number, (first, last) in found if last != first]
    assert not multi, f"{path.name}: asserts over several lines in cells {multi}"
    assert len(found) <= NOTEBOOK_ASSERTS, (
        f"{path.name}: {len(found)} asserts (at most {NOTEBOOK_ASSERTS}); move the ones that read "
        f"as test code into tests/notebook_claims/")
