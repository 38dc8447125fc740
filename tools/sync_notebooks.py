"""Keep the notebooks' badges and setup cells, and the README's notebook table, in sync.

The repository's address lives in one place, `[project.urls] Repository` in pyproject.toml. From it
this script writes, between marker lines:

- in each notebook's title cell, the "Open in Colab" and "Binder" badges;
- at the top of each notebook's first code cell, the three setup lines (on Colab they pip-install
  the helper package from the repository, with the extras the notebook's imports need; elsewhere
  they do nothing);
- the kernelspec JupyterLab writes ("Python 3 (ipykernel)"), so opening a notebook changes nothing;
- in README.md, the table of notebooks (number, title, question, time to run, links).

    python tools/sync_notebooks.py           # rewrite what drifted
    python tools/sync_notebooks.py --check   # list what drifted, exit 1 if anything did

tests/test_notebooks.py runs the check, so a hand edit that drifts fails the tests.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
README = ROOT / "README.md"

BADGES_START = "<!-- badges: written by tools/sync_notebooks.py -->"
BADGES_END = "<!-- /badges -->"
SETUP_FIRST = "import sys  # setup, written by tools/sync_notebooks.py"
SETUP_LINES = 3  # the generated lines at the top of each notebook's first code cell
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
# Imports that need one of the package's extras (pyproject.toml) on Colab, by module.
EXTRAS_BY_IMPORT = {"transformers": "hf", "peft": "hf"}
TABLE_START = "<!-- notebooks: written by tools/sync_notebooks.py -->"
TABLE_END = "<!-- /notebooks -->"


def repository_url() -> str:
    """The GitHub address from pyproject.toml (the only place it is written by hand)."""
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    match = re.search(r'^Repository\s*=\s*"(https://github\.com/[^"/]+/[^"/]+?)/?"', text, re.M)
    if not match:
        raise SystemExit('pyproject.toml needs [project.urls] Repository = "https://github.com/OWNER/REPO"')
    return match.group(1)


def notebook_paths() -> list[Path]:
    return sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def colab_url(repo: str, path: Path) -> str:
    slug = repo.removeprefix("https://github.com/")
    return f"https://colab.research.google.com/github/{slug}/blob/main/notebooks/{path.name}"


def binder_url(repo: str, path: Path) -> str:
    slug = repo.removeprefix("https://github.com/")
    return f"https://mybinder.org/v2/gh/{slug}/main?labpath=notebooks%2F{path.name}"


def badges(repo: str, path: Path) -> str:
    return (
        f"[![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
        f"({colab_url(repo, path)}) "
        f"[![Launch Binder](https://mybinder.org/badge_logo.svg)]({binder_url(repo, path)})"
    )


def setup_block(repo: str, extras: tuple[str, ...] = ()) -> str:
    """The generated start of a notebook's first code cell: on Colab, which has no copy of the
    course, install the helper package (with the extras the notebook needs); elsewhere nothing."""
    target = f"git+{repo}" if not extras else f'"tying_utils[{",".join(extras)}] @ git+{repo}"'
    return "\n".join([
        SETUP_FIRST,
        'if "google.colab" in sys.modules:  # Colab has no copy of the course: install its helpers',
        f"    %pip install -q {target}",
    ])


def extras_needed(nb) -> tuple[str, ...]:
    """The package extras whose modules the notebook imports (see EXTRAS_BY_IMPORT)."""
    code = "\n".join(_source(c) for c in nb["cells"] if c["cell_type"] == "code")
    found = {extra for module, extra in EXTRAS_BY_IMPORT.items()
             if re.search(rf"^\s*(import|from)\s+{module}\b", code, re.M)}
    return tuple(sorted(found))


def _replace_between(text: str, start: str, end: str, body: str, where: str) -> str:
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
    if not pattern.search(text):
        raise ValueError(f"{where}: missing the marker lines {start!r} … {end!r}")
    return pattern.sub(lambda _: body, text, count=1)


def _source(cell) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def sync_notebook(path: Path, repo: str) -> str | None:
    """The notebook's new JSON text, or None when it is already in sync."""
    text = path.read_text(encoding="utf-8")
    nb = json.loads(text)
    title = next(c for c in nb["cells"] if c["cell_type"] == "markdown")
    setup = next(c for c in nb["cells"] if c["cell_type"] == "code")
    new_title = _replace_between(
        _source(title), BADGES_START, BADGES_END,
        f"{BADGES_START}\n{badges(repo, path)}\n{BADGES_END}", f"{path.name} title cell",
    )
    source = _source(setup)
    lines = source.split("\n")
    body = "\n".join(lines[SETUP_LINES:]) if lines[0] == SETUP_FIRST else source
    new_setup = setup_block(repo, extras_needed(nb)) + "\n" + body
    new_kernelspec = nb["metadata"].get("kernelspec") != KERNELSPEC
    if new_title == _source(title) and new_setup == source and not new_kernelspec:
        return None
    title["source"] = new_title.splitlines(keepends=True)
    setup["source"] = new_setup.splitlines(keepends=True)
    nb["metadata"]["kernelspec"] = dict(KERNELSPEC)
    return json.dumps(nb, sort_keys=True, indent=1, ensure_ascii=False) + "\n"  # as nbformat


def notebook_row(path: Path, repo: str) -> str:
    """One README table row, read from the notebook's title cell."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    title_cell = _source(next(c for c in nb["cells"] if c["cell_type"] == "markdown"))
    heading = re.search(r"^# (\d\d) · (.+)$", title_cell, re.M)
    question = re.search(r"^\*\*Question:\*\* (.+)$", title_cell, re.M)
    time = re.search(r"^\*\*Time to run:\*\* (.+?)\.?$", title_cell, re.M)
    if not (heading and question and time):
        raise ValueError(
            f"{path.name}: the title cell needs '# NN · Title', '**Question:** …' and "
            "'**Time to run:** …' lines"
        )
    number, name = heading.groups()
    return (
        f"| {number} | [{name}](notebooks/{path.name}) | {question.group(1)} | {time.group(1)} | "
        f"[Colab]({colab_url(repo, path)}) · [Binder]({binder_url(repo, path)}) |"
    )


def readme_table(repo: str) -> str:
    rows = [notebook_row(p, repo) for p in notebook_paths()]
    header = ["| # | notebook | the question it answers | time to run | open |",
              "|---|---|---|---|---|"]
    return "\n".join([TABLE_START, *header, *rows, TABLE_END])


def drifted(repo: str | None = None) -> dict[Path, str]:
    """Every file whose generated parts differ from what they should be, with its new text."""
    repo = repo or repository_url()
    changes = {}
    for path in notebook_paths():
        new = sync_notebook(path, repo)
        if new is not None:
            changes[path] = new
    readme = README.read_text(encoding="utf-8")
    new_readme = _replace_between(readme, TABLE_START, TABLE_END, readme_table(repo), "README.md")
    if new_readme != readme:
        changes[README] = new_readme
    return changes


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report drift; exit 1 if any")
    args = parser.parse_args(argv)
    changes = drifted()
    for path, text in changes.items():
        name = path.relative_to(ROOT)
        if args.check:
            print(f"out of sync: {name} (run: python tools/sync_notebooks.py)")
        else:
            path.write_text(text, encoding="utf-8")
            print(f"updated {name}")
    return 1 if (args.check and changes) else 0


if __name__ == "__main__":
    sys.exit(main())
