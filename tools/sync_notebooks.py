"""Keep the notebooks' badges and setup cells, and the generated blocks of both READMEs, in sync.

The repository's address lives in one place, `[project.urls] Repository` in pyproject.toml. From it
this script writes, between marker lines:

- in each notebook's title cell, the "Open in Colab" and "Binder" badges;
- at the top of each notebook's first code cell, the three setup lines (on Colab they pip-install
  the helper package from the repository, with the extras the notebook's imports need; elsewhere
  they do nothing);
- the kernelspec JupyterLab writes ("Python 3 (ipykernel)"), so opening a notebook changes nothing;
- in README.md and in its Chinese edition README.zh-CN.md, the same seven generated tables: the
  notebooks (number, title, question, time to run, links), and six of results, rendered by
  tying_utils/reports.py (the module the command line prints its tables with): the paired
  comparison of both starts (docs/results/compare_seed.json, compare_matched.json); the language
  model (lm.json) and its paired seeds (lm_10_seeds.json); notebook 06's width sweep
  (docs/sweep/sweep.json), its factorial (docs/results/factorial.json) and the real model
  families (tying_utils/budget.py). So the numbers of both READMEs come from one file each and
  cannot drift apart.

The Chinese notebook table keeps each notebook's English title and question, as written in the
notebook itself (the notebooks are in English), and translates only the headers and the run time.

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

from tying_utils import reports

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
README = ROOT / "README.md"
README_ZH = ROOT / "README.zh-CN.md"
RESULTS = ROOT / "docs" / "results"
# The committed results behind the README tables, and the commands that write them.
COMPARE_RESULTS = {"seed": RESULTS / "compare_seed.json",
                   "matched": RESULTS / "compare_matched.json"}
LM_RESULTS = RESULTS / "lm.json"
COMPARE_COMMANDS = {
    "seed": "python -m tying_utils compare --seeds 1000 --json docs/results/compare_seed.json "
            "--plot docs/headline.png",
    "matched": "python -m tying_utils compare --seeds 1000 --untied-start matched "
               "--json docs/results/compare_matched.json",
}
LM_COMMAND = "python -m tying_utils lm --threads 1 --json docs/results/lm.json"
LM_PAIRED_RESULTS = RESULTS / "lm_10_seeds.json"
LM_PAIRED_COMMAND = ("python -m tying_utils lm --seeds 10 --threads 1 "
                     "--json docs/results/lm_10_seeds.json")
SWEEP_RESULTS = ROOT / "docs" / "sweep" / "sweep.json"  # its command is stored inside it
FACTORIAL_RESULTS = RESULTS / "factorial.json"  # notebook 06's factorial; its command inside

BADGES_START = "<!-- badges: written by tools/sync_notebooks.py -->"
BADGES_END = "<!-- /badges -->"
SETUP_FIRST = "import sys  # setup, written by tools/sync_notebooks.py"
SETUP_LINES = 3  # the generated lines at the top of each notebook's first code cell
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
# Imports that need one of the package's extras (pyproject.toml) on Colab, by module.
EXTRAS_BY_IMPORT = {"transformers": "hf", "peft": "hf",
                    "onnx": "deploy", "onnxruntime": "deploy", "onnxscript": "deploy",
                    "gguf": "deploy"}
TABLE_START = "<!-- notebooks: written by tools/sync_notebooks.py -->"
TABLE_END = "<!-- /notebooks -->"
COMPARE_START = "<!-- compare-table: written by tools/sync_notebooks.py from docs/results/ -->"
COMPARE_END = "<!-- /compare-table -->"
LM_START = "<!-- lm-table: written by tools/sync_notebooks.py from docs/results/lm.json -->"
LM_END = "<!-- /lm-table -->"
PAIRED_START = ("<!-- lm-paired: written by tools/sync_notebooks.py from "
                "docs/results/lm_10_seeds.json -->")
PAIRED_END = "<!-- /lm-paired -->"
SWEEP_START = "<!-- sweep-table: written by tools/sync_notebooks.py from docs/sweep/sweep.json -->"
SWEEP_END = "<!-- /sweep-table -->"
FACTORIAL_START = ("<!-- factorial-table: written by tools/sync_notebooks.py from "
                   "docs/results/factorial.json -->")
FACTORIAL_END = "<!-- /factorial-table -->"
REAL_START = "<!-- real-models: written by tools/sync_notebooks.py from tying_utils/budget.py -->"
REAL_END = "<!-- /real-models -->"
# Every generated block of the READMEs, in the order they appear.
BLOCKS = ((TABLE_START, TABLE_END), (COMPARE_START, COMPARE_END), (LM_START, LM_END),
          (PAIRED_START, PAIRED_END), (SWEEP_START, SWEEP_END), (REAL_START, REAL_END),
          (FACTORIAL_START, FACTORIAL_END))


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
    if len(target) > 100 - len("    %pip install -q "):  # PEP 508 allows name[extras]@url
        target = target.replace(" @ ", "@")
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


# --- the READMEs -------------------------------------------------------------------------------

# The notebook table's header in each README's language (the result tables' words are in
# tying_utils/reports.py, with the tables).
NOTEBOOK_HEADER = {"en": "| # | notebook | the question it answers | time to run | open |",
                   "zh": "| # | 笔记本 | 它回答的问题 | 运行时间 | 打开 |"}


def _title_parts(path: Path) -> tuple[str, str, str, str]:
    """Number, title, question and time to run, read from the notebook's title cell."""
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
    return heading.group(1), heading.group(2), question.group(1), time.group(1)


def _time_in_chinese(time: str) -> str:
    """'about 12 s on a 2-core CPU' → '双核 CPU 上约 12 秒' (and ', measured while other jobs
    shared it (N s of CPU time)' after it, that too); other wordings stay as they are."""
    match = re.fullmatch(r"about (\d+) s on a (\d+)-core CPU"
                         r"(?:, measured while other jobs shared it \((\d+) s of CPU time\))?",
                         time)
    if not match:
        return time
    seconds, cores, cpu = match.groups()
    cores = {"1": "单核", "2": "双核", "4": "四核"}.get(cores, f"{cores} 核")
    shared = f"（在与其他任务共用时测得，CPU 时间 {cpu} 秒）" if cpu else ""
    return f"{cores} CPU 上约 {seconds} 秒{shared}"


def notebook_row(path: Path, repo: str, language: str = "en") -> str:
    """One README table row, read from the notebook's title cell."""
    number, name, question, time = _title_parts(path)
    if language == "zh":
        time = _time_in_chinese(time)
    return (
        f"| {number} | [{name}](notebooks/{path.name}) | {question} | {time} | "
        f"[Colab]({colab_url(repo, path)}) · [Binder]({binder_url(repo, path)}) |"
    )


def readme_table(repo: str, language: str = "en") -> str:
    rows = [notebook_row(p, repo, language) for p in notebook_paths()]
    header = [NOTEBOOK_HEADER[language], "|---|---|---|---|---|"]
    return "\n".join([TABLE_START, *header, *rows, TABLE_END])


def _load_results(path: Path) -> dict:
    if not path.is_file():
        raise ValueError(f"{path.relative_to(ROOT)} is missing: the README tables are rendered "
                         "from it (see its command in tools/sync_notebooks.py)")
    return json.loads(path.read_text(encoding="utf-8"))


def compare_table(language: str = "en") -> str:
    """The headline table: the blog's start and the matched start, from their JSON results."""
    results = {init: _load_results(path) for init, path in COMPARE_RESULTS.items()}
    body = reports.compare_markdown(results, COMPARE_COMMANDS, language)
    return "\n".join([COMPARE_START, body, COMPARE_END])


def lm_table(language: str = "en") -> str:
    """The language-model table: per variant, mean ± sd over seeds of the final perplexities."""
    body = reports.lm_markdown(_load_results(LM_RESULTS), LM_COMMAND, language)
    return "\n".join([LM_START, body, LM_END])


def lm_paired_table(language: str = "en") -> str:
    """The paired LM comparison over many seeds: tied − untied and tied − size-matched untied,
    with the package's own interval (lm_training.paired_interval)."""
    from tying_utils.lm_training import paired_interval

    body = reports.lm_paired_markdown(_load_results(LM_PAIRED_RESULTS), LM_PAIRED_COMMAND,
                                      paired_interval, language)
    return "\n".join([PAIRED_START, body, PAIRED_END])


def real_models_table(language: str = "en") -> str:
    """Notebook 06's real model families: size, tie and the embedding's share, from budget.py."""
    return "\n".join([REAL_START, reports.real_models_markdown(language), REAL_END])


def sweep_table(language: str = "en") -> str:
    """Notebook 06's width sweep: the paired differences at each width."""
    body = reports.sweep_markdown(_load_results(SWEEP_RESULTS), language)
    return "\n".join([SWEEP_START, body, SWEEP_END])


def factorial_table(language: str = "en") -> str:
    """Notebook 06's factorial: per cell, the paired test differences and who converges first."""
    from tying_utils.factorial_analysis import cell_differences, convergence

    result = _load_results(FACTORIAL_RESULTS)
    body = reports.factorial_markdown(result, cell_differences(result["runs"]),
                                      convergence(result["runs"]), language)
    return "\n".join([FACTORIAL_START, body, FACTORIAL_END])


def _replace_block(text: str, start: str, end: str, block: str, where: str) -> str:
    """Replace the lines from `start` to `end` with `block`, indented like the `start` line (a
    block may sit inside a list item)."""
    pattern = re.compile(r"^([ \t]*)" + re.escape(start) + r".*?" + re.escape(end), re.S | re.M)
    match = pattern.search(text)
    if not match:
        raise ValueError(f"{where}: missing the marker lines {start!r} … {end!r}")
    indent = match.group(1)
    body = "\n".join(indent + line if line else line for line in block.split("\n"))
    return text[:match.start()] + body + text[match.end():]


def render_readme(text: str, repo: str, language: str, where: str) -> str:
    """The README text with every generated block (BLOCKS) rewritten."""
    tables = {TABLE_START: readme_table(repo, language), COMPARE_START: compare_table(language),
              LM_START: lm_table(language), PAIRED_START: lm_paired_table(language),
              SWEEP_START: sweep_table(language), FACTORIAL_START: factorial_table(language),
              REAL_START: real_models_table(language)}
    for start, end in BLOCKS:
        text = _replace_block(text, start, end, tables[start], where)
    return text


def drifted(repo: str | None = None) -> dict[Path, str]:
    """Every file whose generated parts differ from what they should be, with its new text."""
    repo = repo or repository_url()
    changes = {}
    for path in notebook_paths():
        new = sync_notebook(path, repo)
        if new is not None:
            changes[path] = new
    for path, language in ((README, "en"), (README_ZH, "zh")):
        if not path.is_file():
            raise ValueError(f"{path.name} is missing")
        text = path.read_text(encoding="utf-8")
        new_text = render_readme(text, repo, language, path.name)
        if new_text != text:
            changes[path] = new_text
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
