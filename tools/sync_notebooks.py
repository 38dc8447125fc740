"""Keep the notebooks' badges and setup cells, and the generated blocks of both READMEs, in sync.

The repository's address lives in one place, `[project.urls] Repository` in pyproject.toml. From it
this script writes, between marker lines:

- in each notebook's title cell, the "Open in Colab" and "Binder" badges;
- at the top of each notebook's first code cell, the three setup lines (on Colab they pip-install
  the helper package from the repository, with the extras the notebook's imports need; elsewhere
  they do nothing);
- the kernelspec JupyterLab writes ("Python 3 (ipykernel)"), so opening a notebook changes nothing;
- in README.md and in its Chinese edition README.zh-CN.md, the same six generated tables: the
  notebooks (number, title, question, time to run, links); the paired comparison of both starts
  (docs/results/compare_seed.json, compare_matched.json); the language model (lm.json) and its
  paired seeds (lm_10_seeds.json); notebook 06's width sweep (docs/sweep/sweep.json); and the real
  model families (tying_utils/budget.py). So the numbers of both READMEs come from one file each
  and cannot drift apart.

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
import statistics
import sys
import textwrap
from pathlib import Path

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
    "matched": "python -m tying_utils compare --seeds 1000 --init matched "
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

# What differs between the English and the Chinese README's generated blocks: the words.
WORDS = {
    "en": {
        "notebook_header": "| # | notebook | the question it answers | time to run | open |",
        "compare_header": "| start | tied reaches loss {threshold} first | same step "
                          "| untied first | median steps, tied | median steps, untied |",
        "compare_start": {"seed": "the blog's (`--init seed`)",
                          "matched": "matched (`--init matched`)"},
        "fraction": "{value} of seeds (95% CI {low}–{high})",
        "compare_note": "{seeds} paired seeds per row; medians with 95% bootstrap intervals. From "
                        "`docs/results/compare_seed.json` and `docs/results/compare_matched.json`, "
                        "written by `{seed}` and `{matched}`.",
        "lm_header": "| variant | parameters | valid ppl | test ppl | train ppl |",
        "lm_variant": {"tied": "tied", "untied": "untied",
                       "untied_size_matched": "untied, size-matched (d = {emb})"},
        "lm_note": "Mean ± sd over {seeds} seeds; vocabulary {vocab}, embedding = hidden = {emb}, "
                   "{layers} {cell} layer{plural}, {epochs} epochs. From `docs/results/lm.json`, "
                   "written by `{command}`.",
        "paired_header": "| paired over {seeds} seeds | tied − untied [95% interval] | tied lower "
                         "| tied − size-matched untied [95% interval] | tied lower |",
        "paired_rows": {"test_ppl": "test perplexity", "valid_ppl": "validation perplexity",
                        "train_ppl": "train perplexity",
                        "gap": "validation − train gap"},
        "of": "{k} of {n}",
        "paired_note": "Differences seed by seed (each seed gives the variants the same data "
                       "and dropout masks), mean with a 95% t-interval; the same settings as the "
                       "table above. From `docs/results/lm_10_seeds.json`, written by `{command}`.",
        "real_header": "| model (its config.json on the Hugging Face Hub) | tied | parameters "
                       "| input embedding's share of the untied model | tying saves (or would), "
                       "bf16 | tying saves (or would), Adam in mixed precision |",
        "yes_no": ("yes", "no"),
        "real_note": "Counted by `tying_utils.parameter_budget` from each config (the "
                     "`REAL_MODELS` of `tying_utils/budget.py`); tests hold every count to the "
                     "model `transformers` builds from that config on the meta device. Bytes: one "
                     "V × d matrix at 2 bytes a parameter as bf16 weights, and at 16 when training "
                     "with Adam in mixed precision (notebook 06).",
        "sweep_header": "| width d | embedding share | tied − untied [95% interval] "
                        "| tied − size-matched untied [95% interval] |",
        "sweep_note": "Test perplexity, paired over {seeds} seeds, mean with a 95% "
                      "t-interval, rounded to the interval's precision; {epochs} epochs on a "
                      "vocabulary of {vocab}. From `docs/sweep/sweep.json`, written by "
                      "`{command}` ({minutes:.0f} min on {threads} thread).",
        "factorial_header": "| corpus | architecture | optimizer (lr) | V | tied − untied "
                            "[95% interval] | tied − size-matched untied [95% interval] "
                            "| tied first to the threshold |",
        "factorial_note": "Test perplexity after one epoch (at most {tokens:,} training "
                          "tokens), width {width}, paired over {seeds} seeds, mean with a 95% "
                          "t-interval "
                          "rounded to its precision; the learning rate of each architecture × "
                          "optimizer chosen on validation data from a grid. Last column: the "
                          "fraction of seeds in which tied reaches 1.25 × the worse variant's "
                          "final validation-subset perplexity first, with its 95% Wilson "
                          "interval. From `docs/results/factorial.json`, written by `{command}`.",
    },
    "zh": {
        "notebook_header": "| # | 笔记本 | 它回答的问题 | 运行时间 | 打开 |",
        "compare_header": "| 起点 | 绑定模型先降到损失 {threshold} | 同一步 | 不绑定模型先降到 "
                          "| 中位步数（绑定） | 中位步数（不绑定） |",
        "compare_start": {"seed": "博客的初始化（`--init seed`）",
                          "matched": "匹配的初始化（`--init matched`）"},
        "fraction": "{value} 的随机种子（95% 置信区间 {low}–{high}）",
        "compare_note": "每行 {seeds} 个成对的随机种子；中位数后方括号内为 95% 自助法置信区间。"
                        "数据来自 `docs/results/compare_seed.json` 与 "
                        "`docs/results/compare_matched.json`，由 `{seed}` 与 `{matched}` 生成。",
        "lm_header": "| 模型 | 参数量 | 验证集困惑度 | 测试集困惑度 | 训练集困惑度 |",
        "lm_variant": {"tied": "绑定", "untied": "不绑定",
                       "untied_size_matched": "不绑定，参数量匹配（d = {emb}）"},
        "lm_note": "{seeds} 个随机种子的均值 ± 标准差；词表 {vocab}，嵌入维度 = 隐藏维度 = {emb}，"
                   "{layers} 层 {cell}，训练 {epochs} 轮。数据来自 `docs/results/lm.json`，"
                   "由 `{command}` 生成。",
        "paired_header": "| {seeds} 个成对的随机种子 | 绑定 − 不绑定 [95% 区间] | 绑定更低 "
                         "| 绑定 − 参数量匹配的不绑定 [95% 区间] | 绑定更低 |",
        "paired_rows": {"test_ppl": "测试集困惑度", "valid_ppl": "验证集困惑度",
                        "train_ppl": "训练集困惑度", "gap": "验证集 − 训练集的差距"},
        "of": "{n} 个中 {k} 个",
        "paired_note": "逐个随机种子求差（同一种子下各模型的数据与 dropout 掩码相同），"
                       "给出均值与 95% t 区间；设置与上表相同。数据来自 "
                       "`docs/results/lm_10_seeds.json`，由 `{command}` 生成。",
        "real_header": "| 模型（Hugging Face Hub 上的 config.json） | 绑定 | 参数量 "
                       "| 输入嵌入层占不绑定模型的比例 | 绑定节省（或可节省），bf16 "
                       "| 绑定节省（或可节省），Adam 混合精度训练 |",
        "yes_no": ("是", "否"),
        "real_note": "由 `tying_utils.parameter_budget` 根据各模型的配置计算（见 "
                     "`tying_utils/budget.py` 中的 `REAL_MODELS`）；测试把每个数字与 "
                     "`transformers` 在 meta 设备上按该配置构建的模型逐一核对。字节数：一个 V × d "
                     "矩阵，bf16 权重每个参数 2 字节，用 Adam 混合精度训练时每个参数 16 字节"
                     "（笔记本 06）。",
        "sweep_header": "| 宽度 d | 嵌入层占比 | 绑定 − 不绑定 [95% 区间] "
                        "| 绑定 − 参数量匹配的不绑定 [95% 区间] |",
        "sweep_note": "测试集困惑度，{seeds} 个成对的随机种子，均值与 95% t 区间，按区间的精度"
                      "取舍；词表 {vocab}，训练 {epochs} 轮。数据来自 `docs/sweep/sweep.json`，"
                      "由 `{command}` 生成（单线程 {minutes:.0f} 分钟）。",
        "factorial_header": "| 语料 | 架构 | 优化器（学习率） | V | 绑定 − 不绑定 [95% 区间] "
                            "| 绑定 − 参数量匹配的不绑定 [95% 区间] | 绑定先达到阈值 |",
        "factorial_note": "训练一轮（最多 {tokens:,} 个训练词元）后的测试集困惑度，宽度 {width}，"
                          "{seeds} 个成对的随机种子，均值与 95% t 区间，按区间的精度取舍；"
                          "每种架构 × 优化器的学习率在验证集上从一组候选值中选出。最后一列："
                          "绑定模型先达到阈值（较差一方最终验证集困惑度的 1.25 倍）的随机种子"
                          "比例，及其 95% Wilson 区间。数据来自 `docs/results/factorial.json`，"
                          "由 `{command}` 生成。",
    },
}


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
    header = [WORDS[language]["notebook_header"], "|---|---|---|---|---|"]
    return "\n".join([TABLE_START, *header, *rows, TABLE_END])


def _load_results(path: Path) -> dict:
    if not path.is_file():
        raise ValueError(f"{path.relative_to(ROOT)} is missing: the README tables are rendered "
                         "from it (see its command in tools/sync_notebooks.py)")
    return json.loads(path.read_text(encoding="utf-8"))


def _percent(value: float) -> str:
    return f"{value:.1%}"


def _steps(median, interval) -> str:
    """'620 [611, 631]', as the compare command prints it ('never' for a median that is null)."""
    def one(v):
        return "never" if v is None else f"{v:.0f}"
    return f"{one(median)} [{one(interval[0])}, {one(interval[1])}]"


def compare_table(language: str = "en") -> str:
    """The headline table: the blog's start and the matched start, from their JSON results."""
    words = WORDS[language]
    results = {init: _load_results(path) for init, path in COMPARE_RESULTS.items()}
    thresholds = {r["summary"]["threshold"] for r in results.values()}
    seeds = {r["summary"]["seeds"] for r in results.values()}
    if len(thresholds) != 1 or len(seeds) != 1:
        raise ValueError("docs/results/compare_seed.json and compare_matched.json must use the "
                         f"same threshold and seeds, got {sorted(thresholds)} and {sorted(seeds)}")
    rows = []
    for init, result in results.items():
        if result["config"]["init"] != init:
            raise ValueError(f"{COMPARE_RESULTS[init].name} holds --init "
                             f"{result['config']['init']}, expected {init}")
        s = result["summary"]
        low, high = s["ci95"]
        fraction = words["fraction"].format(value=_percent(s["fraction_tied_faster"]),
                                            low=f"{low:.1%}".rstrip("%"), high=_percent(high))
        rows.append(
            f"| {words['compare_start'][init]} | {fraction} | {_percent(s['fraction_equal'])} | "
            f"{_percent(s['fraction_untied_faster'])} | "
            f"{_steps(s['median_steps_tied'], s['median_steps_tied_ci95'])} | "
            f"{_steps(s['median_steps_untied'], s['median_steps_untied_ci95'])} |"
        )
    header = words["compare_header"].format(threshold=f"{thresholds.pop():.3g}")
    note = words["compare_note"].format(seeds=seeds.pop(), **COMPARE_COMMANDS)
    return "\n".join([COMPARE_START, header, "|---|---|---|---|---|---|", *rows, "",
                      *_wrap(note, language), COMPARE_END])


def _mean_sd(values: list[float]) -> str:
    """'68.7 ± 0.6': mean and sample standard deviation, as the lm command prints them."""
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.fmean(values):.1f} ± {sd:.1f}"


def lm_table(language: str = "en") -> str:
    """The language-model table: per variant, mean ± sd over seeds of the final perplexities."""
    words = WORDS[language]
    result = _load_results(LM_RESULTS)
    config = result["config"]
    rows = []
    for variant in ("tied", "untied", "untied_size_matched"):
        group = result[variant]
        name = words["lm_variant"][variant].format(emb=group["emb"])
        rows.append(f"| {name} | {group['parameters']:,} | {_mean_sd(group['valid_ppl'])} | "
                    f"{_mean_sd(group['test_ppl'])} | {_mean_sd(group['train_ppl'])} |")
    note = words["lm_note"].format(
        seeds=len(config["seeds"]), vocab=config["vocab"], emb=config["emb"],
        layers=config["layers"], plural="s" if config["layers"] != 1 else "",
        cell=config["cell"].upper(), epochs=config["epochs"], command=LM_COMMAND)
    return "\n".join([LM_START, words["lm_header"], "|---|---|---|---|---|", *rows, "",
                      *_wrap(note, language), LM_END])


def _interval(values: list[float]) -> str:
    """'−2.9 [−4.7, −1.1]': the mean of paired differences and its 95% t-interval, as
    lm_training.paired_interval computes it."""
    from tying_utils.lm_training import paired_interval  # the package's own formula

    result = paired_interval(values)
    low, high = result["ci95"]
    return f"{result['mean']:+.1f} [{low:+.1f}, {high:+.1f}]".replace("-", "−")


def lm_paired_table(language: str = "en") -> str:
    """The paired LM comparison over many seeds: tied − untied and tied − size-matched untied."""
    words = WORDS[language]
    result = _load_results(LM_PAIRED_RESULTS)
    n = len(result["config"]["seeds"])

    def per_seed(variant, row):
        group = result[variant]
        if row == "gap":
            return [v - t for v, t in zip(group["valid_ppl"], group["train_ppl"])]
        return group[row]

    rows = []
    for row, name in words["paired_rows"].items():
        cells = [name]
        for other in ("untied", "untied_size_matched"):
            diffs = [a - b for a, b in zip(per_seed("tied", row), per_seed(other, row))]
            lower = sum(d < 0 for d in diffs)
            cells += [_interval(diffs), words["of"].format(k=lower, n=n)]
        rows.append("| " + " | ".join(cells) + " |")
    note = words["paired_note"].format(command=LM_PAIRED_COMMAND)
    return "\n".join([PAIRED_START, words["paired_header"].format(seeds=n),
                      "|---|---|---|---|---|", *rows, "", *_wrap(note, language), PAIRED_END])


def real_models_table(language: str = "en") -> str:
    """Notebook 06's real model families: size, tie and the embedding's share, from budget.py."""
    from tying_utils.budget import BYTES_PER_PARAMETER, REAL_MODELS, parameter_budget

    words = WORDS[language]
    rows = []
    for model_id, entry in REAL_MODELS.items():
        b = parameter_budget(entry["config"])
        bf16 = b.saved_by_tying * BYTES_PER_PARAMETER["bf16 weights"] / 1e9
        adam = b.saved_by_tying * BYTES_PER_PARAMETER["Adam, mixed precision"] / 1e9
        rows.append(f"| {model_id} | {words['yes_no'][0 if b.tied else 1]} | {b.total:,} | "
                    f"{b.embedding_share:.1%} | {bf16:.2f} GB | {adam:.2f} GB |")
    return "\n".join([REAL_START, words["real_header"], "|---|---|---|---|---|---|", *rows, "",
                      *_wrap(words["real_note"], language), REAL_END])


def sweep_table(language: str = "en") -> str:
    """Notebook 06's width sweep: the paired differences at each width."""
    from tying_utils.factorial_analysis import interval_text  # rounded to the interval

    words = WORDS[language]
    sweep = _load_results(SWEEP_RESULTS)
    rows = []
    for point in sweep["points"]:
        cells = [str(point["width"]), f"{point['embedding_share']:.1%}"]
        for name in ("tied_minus_untied", "tied_minus_size_matched"):
            cells.append(interval_text(point[name]).replace("-", "−"))
        rows.append("| " + " | ".join(cells) + " |")
    config = sweep["config"]
    note = words["sweep_note"].format(seeds=len(config["seeds"]), epochs=config["epochs"],
                                      vocab=config["vocab"], command=sweep["command"],
                                      minutes=sweep["seconds"] / 60,
                                      threads=sweep["threads"])
    return "\n".join([SWEEP_START, words["sweep_header"], "|---|---|---|---|", *rows, "",
                      *_wrap(note, language), SWEEP_END])


def factorial_table(language: str = "en") -> str:
    """Notebook 06's factorial: per cell, the paired test differences and who converges first."""
    from tying_utils.factorial_analysis import cell_differences, convergence, interval_text

    words = WORDS[language]
    result = _load_results(FACTORIAL_RESULTS)
    speed = {tuple(r[k] for k in ("corpus", "arch", "optimizer", "vocab_cap")): r
             for r in convergence(result["runs"])}
    rows = []
    for row in cell_differences(result["runs"]):
        key = tuple(row[k] for k in ("corpus", "arch", "optimizer", "vocab_cap"))
        first, (low, high) = speed[key]["tied_first"], speed[key]["tied_first_ci95"]
        cells = [row["corpus"], row["arch"], f"{row['optimizer']} ({row['lr']:g})",
                 str(row["vocab"]), interval_text(row["tied_minus_untied"]).replace("-", "−"),
                 interval_text(row["tied_minus_size_matched"]).replace("-", "−"),
                 f"{first:.0%} ({low:.0%}–{high:.0%})"]
        rows.append("| " + " | ".join(cells) + " |")
    config = result["config"]
    tokens = config["max_train_tokens"]
    note = words["factorial_note"].format(tokens=tokens, width=config["width"],
                                          seeds=len(config["seeds"]), command=result["command"])
    return "\n".join([FACTORIAL_START, words["factorial_header"], "|---|---|---|---|---|---|---|",
                      *rows, "", *_wrap(note, language), FACTORIAL_END])


def _wrap(text: str, language: str) -> list[str]:
    """A note under a table: English in lines of at most 96 characters (a line break inside a
    `code span` reads as a space); Chinese on one line, since a line break between two Chinese
    characters shows as a space."""
    if language == "zh":
        return [text]
    return textwrap.wrap(text, width=96, break_long_words=False, break_on_hyphens=False)


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
    """The README text with every generated block rewritten."""
    blocks = [(TABLE_START, TABLE_END, readme_table(repo, language)),
              (COMPARE_START, COMPARE_END, compare_table(language)),
              (LM_START, LM_END, lm_table(language)),
              (PAIRED_START, PAIRED_END, lm_paired_table(language)),
              (SWEEP_START, SWEEP_END, sweep_table(language)),
              (FACTORIAL_START, FACTORIAL_END, factorial_table(language)),
              (REAL_START, REAL_END, real_models_table(language))]
    for start, end, block in blocks:
        text = _replace_block(text, start, end, block, where)
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
