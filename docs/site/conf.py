"""Sphinx configuration of the course's static book (`make site`, output in build/site/).

The book is built from the committed, executed notebooks (nothing is re-executed), with the README
as its front page, the teacher's guide, and the Chinese README. It uses Sphinx with MyST-NB (the
Markdown and notebook reader of the Executable Books project) and sphinx-book-theme: the same stack
Jupyter Book 1 runs on underneath, without Jupyter Book's own configuration layer, and without
Node (which Jupyter Book 2 needs). Everything the build needs is installed with the `docs` extra,
and the build reads nothing from the network.

    sphinx-build -b html -c docs/site -W --keep-going . build/site

The source folder is the repository root, so that the README's links (`notebooks/01_….ipynb`,
`docs/teaching.md`, `README.zh-CN.md`) resolve inside the book exactly as they do on GitHub;
`include_patterns` keeps every other file out of it.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
import sync_notebooks  # noqa: E402  (the repository address is written once, in pyproject.toml)
from sphinx.util import logging  # noqa: E402

logger = logging.getLogger(__name__)

NOTEBOOKS = [f"notebooks/{p.stem}" for p in sync_notebooks.notebook_paths()]
REPOSITORY = sync_notebooks.repository_url()

project = "Weight tying, checked"
author = "the weight-tying course authors"
copyright = "the weight-tying course authors"  # noqa: A001  (a Sphinx setting's name)

extensions = ["myst_nb"]  # MyST-NB brings the MyST Markdown parser with it
root_doc = "README"
include_patterns = ["README.md", "README.zh-CN.md", "docs/teaching.md",
                    "notebooks/[0-9][0-9]_*.ipynb"]
exclude_patterns = ["build", ".venv", "artifacts", "wheelhouse"]

# The notebooks are committed executed: show their stored outputs, run nothing.
nb_execution_mode = "off"
# The explorer of notebook 04 is a live widget: a static page cannot run it. Drop the widget view
# so the page shows the cell's text output ("Explorer: run this cell in JupyterLab, …"), and load
# no widget JavaScript (it would come from a CDN and then draw an empty, dead widget).
nb_mime_priority_overrides = [("html", "application/vnd.jupyter.widget-view+json", None)]
nb_ipywidgets_js: dict = {}

myst_enable_extensions = ["dollarmath", "colon_fence"]
myst_heading_anchors = 3  # GitHub-style anchors, so `README.md#the-notebooks` resolves

html_theme = "sphinx_book_theme"
html_title = project
html_theme_options = {
    "repository_url": REPOSITORY,
    "repository_branch": "main",
    "use_repository_button": True,
    "use_download_button": True,
    "home_page_in_toc": True,
    "show_navbar_depth": 1,
    # No launch buttons from the theme: each notebook's title cell already carries its Colab and
    # Binder badges (tools/sync_notebooks.py), and two sets on one page is one too many.
    "launch_buttons": {},
}
html_last_updated_fmt = None
html_show_sphinx = False

# The pages of the book, in reading order: the left sidebar and the previous / next buttons
# follow it. The README (the front page) cannot hold a toctree without showing it on GitHub, so
# the toctree is added to the README's text while Sphinx reads it (see `_add_table_of_contents`).
BOOK_PAGES = {
    "The notebooks": NOTEBOOKS,
    "For teachers": ["docs/teaching"],
    "中文": ["README.zh-CN"],
}


def _add_table_of_contents(app, docname: str, source: list[str]) -> None:
    """Append the book's hidden table of contents to the front page, in the build only."""
    if docname != root_doc:
        return
    for caption, pages in BOOK_PAGES.items():
        source[0] += "\n\n```{toctree}\n:hidden:\n:caption: " + caption + "\n\n"
        source[0] += "\n".join(f"/{page}" for page in pages) + "\n```\n"


BOOK_SOURCES = {"README.md", "README.zh-CN.md", "docs/teaching.md",
                *(f"{page}.ipynb" for page in NOTEBOOKS)}
LINK = re.compile(r"(?<!!)\[([^\]]*)\]\(([^)\s#]+)(#[^)\s]*)?\)")


def _link_repository_files(app, docname: str, source: list[str]) -> None:
    """A Markdown page's links to files of the repository that are not pages of the book (a
    module, a folder, pyproject.toml) open them on GitHub, as they do in the README there."""
    if not app.env.doc2path(docname).suffix == ".md":
        return
    folder = (ROOT / docname).parent

    def rewrite(match: re.Match) -> str:
        text, target, fragment = match.group(1), match.group(2), match.group(3) or ""
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto: …
            return match.group(0)
        path = (folder / target).resolve()
        try:
            relative = path.relative_to(ROOT).as_posix()
        except ValueError:
            return match.group(0)
        if relative in BOOK_SOURCES or not path.exists():
            return match.group(0)  # a page of the book, or a broken link Sphinx will report
        kind = "tree" if path.is_dir() else "blob"
        return f"[{text}]({REPOSITORY}/{kind}/main/{relative}{fragment})"

    source[0] = LINK.sub(rewrite, source[0])


def _drop_widget_state(app, docname: str, source: list[str]) -> None:
    """Leave the saved widget state (notebook 04's explorer, about 100 KB) out of the page: with
    no widget JavaScript it would be dead weight."""
    if not docname.startswith("notebooks/"):
        return
    notebook = json.loads(source[0])
    if notebook.get("metadata", {}).pop("widgets", None) is not None:
        source[0] = json.dumps(notebook)


def _check_teaching_guide(app, docname: str, source: list[str]) -> None:
    """The teacher's guide has an entry for every notebook (a warning, so -W fails the build)."""
    if docname != "docs/teaching":
        return
    for notebook in NOTEBOOKS:
        if f"(../{notebook}.ipynb)" not in source[0]:
            logger.warning(f"docs/teaching.md has no entry linking ../{notebook}.ipynb",
                           location=docname)


def _write_index(app, exception) -> None:
    """index.html, the page a web server shows for the folder, leads to the front page."""
    if exception is None and app.builder.format == "html":
        target = f"{root_doc}.html"
        Path(app.outdir, "index.html").write_text(
            f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{project}</title>\n'
            f'<meta http-equiv="refresh" content="0; url={target}"></head>\n'
            f'<body><p><a href="{target}">{project}</a></p></body></html>\n',
            encoding="utf-8")


def setup(app):
    app.connect("source-read", _add_table_of_contents)
    app.connect("source-read", _drop_widget_state)
    app.connect("source-read", _link_repository_files)
    app.connect("source-read", _check_teaching_guide)
    app.connect("build-finished", _write_index)
