"""Students work on copies: `make lab` opens my-notebooks/, which git ignores.

    python tools/student_copies.py copy             # copy every notebook not yet in my-notebooks/
    python tools/student_copies.py reset 03         # put notebook 03 back as shipped
    python tools/student_copies.py reset all        # put every notebook back as shipped

The tracked notebooks in notebooks/ stay as shipped, so answering the exercises never changes
`git status` and `git pull` never conflicts with a student's answers. `copy` runs at every
`make lab` and adds only what is missing (a notebook that arrived with `git pull` appears, an
answered one is left alone). `reset` never deletes a student's work: the copy it replaces is moved
to my-notebooks/.replaced/ with the time in its name.
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "notebooks"
COPIES = ROOT / "my-notebooks"
USAGE = "usage: student_copies.py copy | reset NN | reset all"


def shipped_notebooks(shipped: Path = SHIPPED) -> list[Path]:
    return sorted(shipped.glob("[0-9][0-9]_*.ipynb"))


def copy_missing(shipped: Path = SHIPPED, copies: Path = COPIES) -> list[Path]:
    """Copy every shipped notebook that has no copy yet; return the new copies."""
    copies.mkdir(exist_ok=True)
    made = []
    for notebook in shipped_notebooks(shipped):
        target = copies / notebook.name
        if not target.exists():
            shutil.copy2(notebook, target)
            made.append(target)
    return made


def reset(which: str, shipped: Path = SHIPPED, copies: Path = COPIES) -> list[Path]:
    """Put notebook `which` ("03", a file name, or "all") back as shipped; the replaced copies
    move to copies/.replaced/. Return the notebooks reset."""
    notebooks = shipped_notebooks(shipped)
    if which != "all":
        notebooks = [nb for nb in notebooks if nb.name.startswith(which) or nb.name == which]
        if not notebooks:
            numbers = ", ".join(nb.name[:2] for nb in shipped_notebooks(shipped))
            raise ValueError(f"no notebook {which!r}: give one of {numbers}, or all.")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for notebook in notebooks:
        target = copies / notebook.name
        if target.exists():
            backup = copies / ".replaced" / f"{notebook.stem}.{stamp}.ipynb"
            backup.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(target, backup)
            print(f"your copy of {notebook.name} is kept as {backup.relative_to(copies.parent)}")
    copies.mkdir(exist_ok=True)
    for notebook in notebooks:
        shutil.copy2(notebook, copies / notebook.name)
    return notebooks


def main(argv: list[str]) -> int:
    try:
        if argv == ["copy"]:
            made = copy_missing()
            if made:
                print(f"copied {len(made)} notebook(s) into my-notebooks/ (your working copies)")
            return 0
        if len(argv) == 2 and argv[0] == "reset":
            done = reset(argv[1])
            print(f"reset {len(done)} notebook(s) in my-notebooks/ to the shipped version")
            return 0
    except (ValueError, OSError) as error:
        print(f"student_copies.py: {error}", file=sys.stderr)
        return 2
    print(USAGE, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
