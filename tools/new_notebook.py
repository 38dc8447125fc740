"""Create a new notebook with the course's skeleton, ready to fill in.

    python tools/new_notebook.py 06 "Some title" "The question it answers?"

It writes notebooks/NN_some_title.ipynb with the title cell (badges written by sync_notebooks.py),
the setup cell, one section, "Check yourself" and "Takeaways" (see DESIGN.md for the skeleton),
and adds the notebook to the tables of README.md and README.zh-CN.md. The book (`make site`)
picks it up by itself; the teacher's guide, docs/teaching.md, needs its entry written by hand
(`make site` fails until it has one).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat
import sync_notebooks

TITLE = """# {number} · {title}

{badges_start}
{badges_end}

**Question:** {question}

Why it matters, in two sentences.

**You will learn**
- …

**Time to run:** about 10 s on a 2-core CPU."""

SETUP = """import torch

from tying_utils.runtime import describe

torch.manual_seed(0)
print(describe())  # the CPU threads the package's work uses on this machine, and why"""


def main(number: str, title: str, question: str) -> Path:
    slug = re.sub(r"[^a-z0-9]+", "_", title.lower()).strip("_")
    path = sync_notebooks.NOTEBOOKS / f"{number}_{slug}.ipynb"
    if path.exists():
        raise SystemExit(f"{path.name} exists already")
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = dict(sync_notebooks.KERNELSPEC)
    nb.metadata["language_info"] = {"name": "python"}
    nb.cells = [
        nbformat.v4.new_markdown_cell(TITLE.format(
            number=number, title=title, question=question,
            badges_start=sync_notebooks.BADGES_START, badges_end=sync_notebooks.BADGES_END)),
        nbformat.v4.new_code_cell(SETUP),
        nbformat.v4.new_markdown_cell("## 1. First section\n\nProse, then code, then a check."),
        nbformat.v4.new_markdown_cell("## Check yourself"),
        nbformat.v4.new_markdown_cell("## Takeaways\n\n- …\n\nNext: …"),
    ]
    nbformat.write(nb, path)
    sync_notebooks.main([])
    print(f"next: write its entry in docs/teaching.md, linking ../notebooks/{path.name}")
    return path


if __name__ == "__main__":
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    print(main(*sys.argv[1:]))
