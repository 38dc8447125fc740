"""The result tables, in one place: what the commands print and what the READMEs show.

The `compare` command prints `compare_summary` (notebook 04 introduces the command), `lm` prints
`lm_table` (notebook 05 prints it too), `sweep` prints `sweep_table` and, with `--archs`,
`factorial_text` (notebook 06). tools/sync_notebooks.py writes the READMEs' result tables, in
English and in Chinese, with the `*_markdown` functions, from the committed results in
docs/results/ and docs/sweep/ (each function takes the loaded JSON). The numbers are rounded
here, by the same few helpers: steps (`steps_text`), mean ± sd (`mean_sd`), a paired mean with
its interval to one decimal (`signed_interval`) or to the interval's own precision
(`interval_text`).

This module formats; it computes no statistic beyond a mean and a standard deviation. Intervals
come inside the results, or from the function the caller passes (`lm_paired_markdown`), so it
imports neither PyTorch nor numpy, and `python -m tying_utils --help` stays light.
"""

from __future__ import annotations

import math
import statistics
import textwrap

__all__ = ["VARIANTS", "VARIANT_LABELS", "WORDS", "steps_text", "steps_interval", "mean_sd",
           "rounded", "interval_text", "signed_interval", "minus", "note_lines",
           "compare_summary", "lm_table", "sweep_table", "factorial_text", "compare_markdown",
           "lm_markdown", "lm_paired_markdown", "sweep_markdown", "factorial_markdown",
           "real_models_markdown", "dim_of"]

# The three variants of a language-model comparison, in table order, and their printed names
# (lm_training re-exports them; they are the keys of plots.COLORS).
VARIANTS = ("tied", "untied", "untied_size_matched")
VARIANT_LABELS = {"tied": "tied", "untied": "untied",
                  "untied_size_matched": "untied (size-matched)"}


# --- the pieces every table uses ---------------------------------------------------------------

def dim_of(record: dict) -> int:
    """The embedding width d in an `lm` result (its "config", or one variant's record): "dim"
    since the rename, "emb" in the results written before it (docs/results/lm*.json)."""
    return record["dim"] if "dim" in record else record["emb"]


def steps_text(value) -> str:
    """Steps to a threshold: '620', or 'never' for a seed or median that never got there (null in
    the JSON, infinite in memory)."""
    return "never" if value is None or math.isinf(value) else f"{value:.0f}"


def steps_interval(median, interval) -> str:
    """'620 [611, 631]': a median number of steps and its interval."""
    low, high = interval
    return f"{steps_text(median)} [{steps_text(low)}, {steps_text(high)}]"


def mean_sd(values) -> str:
    """'68.7 ± 0.6': the mean and the sample standard deviation (0 for one value)."""
    values = [float(v) for v in values]
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.fmean(values):.1f} ± {sd:.1f}"


def rounded(value: float, half_width: float) -> str:
    """`value` with no more decimals than the interval's half-width allows (its leading digit)."""
    if not math.isfinite(half_width) or half_width <= 0:
        return f"{value:+.0f}"
    decimals = max(0, -math.floor(math.log10(half_width)))
    return f"{value:+.{decimals}f}"


def interval_text(interval: dict, scale: float = 1.0) -> str:
    """'mean [low, high]' rounded to the interval's precision (values divided by `scale`)."""
    mean, (low, high) = interval["mean"] / scale, (x / scale for x in interval["ci95"])
    half = (high - low) / 2
    return f"{rounded(mean, half)} [{rounded(low, half)}, {rounded(high, half)}]"


def signed_interval(interval: dict) -> str:
    """'-2.9 [-4.7, -1.1]': a paired mean and its 95% interval, to one decimal, signed."""
    low, high = interval["ci95"]
    return f"{interval['mean']:+.1f} [{low:+.1f}, {high:+.1f}]"


def minus(text: str) -> str:
    """Typeset minus signs (−) for the READMEs."""
    return text.replace("-", "−")


def note_lines(text: str, language: str) -> list[str]:
    """A note under a README table: English in lines of at most 96 characters (a line break
    inside a `code span` reads as a space); Chinese on one line, since a line break between two
    Chinese characters shows as a space."""
    if language == "zh":
        return [text]
    return textwrap.wrap(text, width=96, break_long_words=False, break_on_hyphens=False)


# --- what the commands print -------------------------------------------------------------------

def compare_summary(config, n_seeds: int, summary, both_never: int) -> str:
    """The `compare` command's summary of a `RunConfig` run over `n_seeds` paired seeds
    (`summary`: stats.compare_curves); `both_never` counts the seeds where neither variant
    reached the threshold (they count as "same step")."""
    rows = [
        ("median steps to threshold [95% CI]",
         steps_interval(summary.median_steps_tied, summary.median_steps_tied_ci95),
         steps_interval(summary.median_steps_untied, summary.median_steps_untied_ci95)),
        ("seeds that never reached it", str(summary.never_tied), str(summary.never_untied)),
        ("median final loss", f"{summary.median_final_tied:.3g}",
         f"{summary.median_final_untied:.3g}"),
    ]
    low, high = summary.ci95
    neither = f" ({both_never} where neither reached it)" if both_never else ""
    lines = [
        f"task={config.task} loss={config.loss} init={config.init} vocab={config.vocab} "
        f"dim={config.dim} steps={config.steps} lr={config.lr:g} seeds={n_seeds} "
        f"threshold={summary.threshold:.3g}",
        f"{'':36}{'tied':>22}{'untied':>22}",
        *(f"{name:36}{tied:>22}{untied:>22}" for name, tied, untied in rows),
        f"tied reached the threshold first in {summary.fraction_tied_faster:.1%} of seeds "
        f"(95% CI {low:.1%}–{high:.1%}); same step {summary.fraction_equal:.1%}{neither}; "
        f"untied first {summary.fraction_untied_faster:.1%}",
    ]
    return "\n".join(lines)


def lm_table(runs: dict, data, config) -> str:
    """The `lm` command's table (and notebook 05's): per variant, mean ± sd over seeds of the
    final perplexities. `runs` maps each variant to its runs (lm_training.compare_variants),
    `data` is the LMData they trained on, `config` their LMConfig."""
    seeds = len(runs["tied"])
    lines = [
        f"vocab={len(data.vocab)} {config.describe()} epochs={config.epochs} seeds={seeds} "
        f"(mean ± sd over seeds)",
        f"{'variant':24}{'dim=hidden':>11}{'parameters':>12}{'valid ppl':>16}{'test ppl':>16}"
        f"{'train ppl':>16}",
    ]
    for variant in VARIANTS:
        group = runs[variant]
        lines.append(
            f"{VARIANT_LABELS[variant]:24}{group[0].dim:>11}{group[0].parameters:>12,}"
            f"{mean_sd([r.valid_ppl[-1] for r in group]):>16}"
            f"{mean_sd([r.test_ppl for r in group]):>16}"
            f"{mean_sd([r.train_ppl[-1] for r in group]):>16}"
        )
    return "\n".join(lines)


def sweep_table(result: dict, sentence: str) -> str:
    """The `sweep` command's table: one row per width of `result` (the sweep's JSON), then
    `sentence`, what the sweep found (lm_training.sweep_sentence), and the time it took."""
    config = result["config"]
    lines = [
        f"vocab={config['vocab']} transformer layers={config['layers']} heads={config['heads']} "
        f"init={config['init']} epochs={config['epochs']} seeds={len(config['seeds'])}; "
        f"test ppl mean over seeds, Δ = paired mean [95% interval]",
        f"{'d':>4}{'share':>7}{'tied':>8}{'untied':>8}{'d′':>4}{'matched':>8}"
        f"{'Δ tied−untied':>24}{'Δ tied−matched':>24}",
    ]
    for point in result["points"]:
        mean = {v: sum(x) / len(x) for v, x in point["test_ppl"].items()}
        cells = [signed_interval(point[name])
                 for name in ("tied_minus_untied", "tied_minus_size_matched")]
        lines.append(
            f"{point['width']:>4}{point['embedding_share']:>7.1%}{mean['tied']:>8.1f}"
            f"{mean['untied']:>8.1f}{point['size_matched_width']:>4}"
            f"{mean['untied_size_matched']:>8.1f}{cells[0]:>24}{cells[1]:>24}")
    lines.append(sentence)
    lines.append(f"{result['seconds']:.0f} s in all (wall clock), {result['cpu_seconds']:.0f} s "
                 f"of CPU time")
    return "\n".join(lines)


def factorial_text(rows: list[dict]) -> str:
    """The factorial as the `sweep --archs` command prints it: one row per cell
    (`rows`: factorial_analysis.cell_differences), test perplexity."""
    lines = ["test perplexity, mean over seeds; Δ = paired mean [95% interval]",
             f"{'corpus':8}{'arch':12}{'opt':5}{'V':>6}{'lr':>7}{'tied':>8}{'untied':>8}"
             f"{'matched':>8}  {'Δ tied−untied':22}{'Δ tied−matched':22}"]
    for row in rows:
        mean = row["mean"]
        lines.append(
            f"{row['corpus']:8}{row['arch']:12}{row['optimizer']:5}{row['vocab']:>6}"
            f"{row['lr']:>7g}{mean['tied']:>8.1f}{mean['untied']:>8.1f}"
            f"{mean['untied_size_matched']:>8.1f}  {interval_text(row['tied_minus_untied']):22}"
            f"{interval_text(row['tied_minus_size_matched']):22}")
    return "\n".join(lines)


# --- what the READMEs show ---------------------------------------------------------------------

# The words of the READMEs' result tables, English ("en") and Chinese ("zh"); the rest is shared.
WORDS = {
    "en": {
        "compare_header": "| start | tied reaches loss {threshold} first | same step "
                          "| untied first | median steps, tied | median steps, untied |",
        "compare_start": {"seed": "the blog's (`--untied-start default`)",
                          "matched": "matched (`--untied-start matched`)"},
        "fraction": "{value} of seeds (95% CI {low}–{high})",
        "compare_note": "{seeds} paired seeds per row; medians with 95% bootstrap intervals. From "
                        "`docs/results/compare_seed.json` and `docs/results/compare_matched.json`, "
                        "written by `{seed}` and `{matched}` (the first file was written before "
                        "`--untied-start` replaced `--init`, and records the start under its old "
                        "name, `seed`).",
        "lm_header": "| variant | parameters | valid ppl | test ppl | train ppl |",
        "lm_variant": {"tied": "tied", "untied": "untied",
                       "untied_size_matched": "untied, size-matched (d = {dim})"},
        "lm_note": "Mean ± sd over {seeds} seeds; vocabulary {vocab}, embedding = hidden = {dim}, "
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
        "compare_header": "| 起点 | 绑定模型先降到损失 {threshold} | 同一步 | 不绑定模型先降到 "
                          "| 中位步数（绑定） | 中位步数（不绑定） |",
        "compare_start": {"seed": "博客的初始化（`--untied-start default`）",
                          "matched": "匹配的初始化（`--untied-start matched`）"},
        "fraction": "{value} 的随机种子（95% 置信区间 {low}–{high}）",
        "compare_note": "每行 {seeds} 个成对的随机种子；中位数后方括号内为 95% 自助法置信区间。"
                        "数据来自 `docs/results/compare_seed.json` 与 "
                        "`docs/results/compare_matched.json`，由 `{seed}` 与 `{matched}` 生成"
                        "（前一个文件写于 `--untied-start` 取代 `--init` 之前，"
                        "其中起点仍记作旧名 `seed`）。",
        "lm_header": "| 模型 | 参数量 | 验证集困惑度 | 测试集困惑度 | 训练集困惑度 |",
        "lm_variant": {"tied": "绑定", "untied": "不绑定",
                       "untied_size_matched": "不绑定，参数量匹配（d = {dim}）"},
        "lm_note": "{seeds} 个随机种子的均值 ± 标准差；词表 {vocab}，嵌入维度 = 隐藏维度 = {dim}，"
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


def _table(header: str, columns: int, rows: list[str], note: str, language: str) -> str:
    """A README table: header, separator, rows, a blank line and the note under it."""
    return "\n".join([header, "|" + "---|" * columns, *rows, "", *note_lines(note, language)])


def compare_markdown(results: dict, commands: dict, language: str = "en") -> str:
    """The headline table, one row per start: `results` maps "seed" and "matched" to the
    `compare` command's JSON, `commands` to the command that wrote each."""
    words = WORDS[language]
    thresholds = {r["summary"]["threshold"] for r in results.values()}
    seeds = {r["summary"]["seeds"] for r in results.values()}
    if len(thresholds) != 1 or len(seeds) != 1:
        raise ValueError("docs/results/compare_seed.json and compare_matched.json must use the "
                         f"same threshold and seeds, got {sorted(thresholds)} and {sorted(seeds)}")
    from .options import INIT_ALIASES  # "seed", the old name of "default", in older results

    rows = []
    for init, result in results.items():
        if INIT_ALIASES.get(result["config"]["init"], result["config"]["init"]) != \
                INIT_ALIASES.get(init, init):  # "seed" is the old name of "default"
            raise ValueError(f"the {init} results hold --init {result['config']['init']}, "
                             f"expected {init}")
        s = result["summary"]
        low, high = s["ci95"]
        fraction = words["fraction"].format(value=f"{s['fraction_tied_faster']:.1%}",
                                            low=f"{low:.1%}".rstrip("%"), high=f"{high:.1%}")
        rows.append(
            f"| {words['compare_start'][init]} | {fraction} | {s['fraction_equal']:.1%} | "
            f"{s['fraction_untied_faster']:.1%} | "
            f"{steps_interval(s['median_steps_tied'], s['median_steps_tied_ci95'])} | "
            f"{steps_interval(s['median_steps_untied'], s['median_steps_untied_ci95'])} |"
        )
    header = words["compare_header"].format(threshold=f"{thresholds.pop():.3g}")
    note = words["compare_note"].format(seeds=seeds.pop(), **commands)
    return _table(header, 6, rows, note, language)


def lm_markdown(result: dict, command: str, language: str = "en") -> str:
    """The language-model table: per variant, mean ± sd over seeds of the final perplexities
    (`result`: the `lm` command's JSON, written by `command`)."""
    words = WORDS[language]
    config = result["config"]
    rows = []
    for variant in VARIANTS:
        group = result[variant]
        name = words["lm_variant"][variant].format(dim=dim_of(group))
        rows.append(f"| {name} | {group['parameters']:,} | {mean_sd(group['valid_ppl'])} | "
                    f"{mean_sd(group['test_ppl'])} | {mean_sd(group['train_ppl'])} |")
    note = words["lm_note"].format(
        seeds=len(config["seeds"]), vocab=config["vocab"], dim=dim_of(config),
        layers=config["layers"], plural="s" if config["layers"] != 1 else "",
        cell=config["cell"].upper(), epochs=config["epochs"], command=command)
    return _table(words["lm_header"], 5, rows, note, language)


def lm_paired_markdown(result: dict, command: str, paired_interval,
                       language: str = "en") -> str:
    """The `lm` comparison over many seeds, paired: tied − untied and tied − size-matched untied,
    seed by seed, each as its mean with the 95% interval `paired_interval(differences)` returns
    (lm_training.paired_interval) and the number of seeds in which tied is lower."""
    words = WORDS[language]
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
            cells += [minus(signed_interval(paired_interval(diffs))),
                      words["of"].format(k=lower, n=n)]
        rows.append("| " + " | ".join(cells) + " |")
    note = words["paired_note"].format(command=command)
    return _table(words["paired_header"].format(seeds=n), 5, rows, note, language)


def sweep_markdown(sweep: dict, language: str = "en") -> str:
    """Notebook 06's width sweep (`sweep`: the `sweep` command's JSON): the paired differences
    at each width, rounded to their intervals' precision."""
    words = WORDS[language]
    rows = []
    for point in sweep["points"]:
        cells = [str(point["width"]), f"{point['embedding_share']:.1%}"]
        for name in ("tied_minus_untied", "tied_minus_size_matched"):
            cells.append(minus(interval_text(point[name])))
        rows.append("| " + " | ".join(cells) + " |")
    config = sweep["config"]
    note = words["sweep_note"].format(seeds=len(config["seeds"]), epochs=config["epochs"],
                                      vocab=config["vocab"], command=sweep["command"],
                                      minutes=sweep["seconds"] / 60, threads=sweep["threads"])
    return _table(words["sweep_header"], 4, rows, note, language)


def factorial_markdown(result: dict, cells: list[dict], speed: list[dict],
                       language: str = "en") -> str:
    """Notebook 06's factorial (`result`: its JSON): per cell the paired test differences
    (`cells`: factorial_analysis.cell_differences) and how often tied reached the threshold first
    (`speed`: factorial_analysis.convergence)."""
    words = WORDS[language]
    keys = ("corpus", "arch", "optimizer", "vocab_cap")
    first_by_cell = {tuple(r[k] for k in keys): r for r in speed}
    rows = []
    for row in cells:
        fastest = first_by_cell[tuple(row[k] for k in keys)]
        first, (low, high) = fastest["tied_first"], fastest["tied_first_ci95"]
        cells_text = [row["corpus"], row["arch"], f"{row['optimizer']} ({row['lr']:g})",
                      str(row["vocab"]), minus(interval_text(row["tied_minus_untied"])),
                      minus(interval_text(row["tied_minus_size_matched"])),
                      f"{first:.0%} ({low:.0%}–{high:.0%})"]
        rows.append("| " + " | ".join(cells_text) + " |")
    config = result["config"]
    note = words["factorial_note"].format(tokens=config["max_train_tokens"],
                                          width=config["width"], seeds=len(config["seeds"]),
                                          command=result["command"])
    return _table(words["factorial_header"], 7, rows, note, language)


def real_models_markdown(language: str = "en") -> str:
    """Notebook 06's real model families: size, tie, the embedding's share and what tying saves,
    counted by budget.parameter_budget from budget.REAL_MODELS."""
    from .budget import BYTES_PER_PARAMETER, REAL_MODELS, parameter_budget

    words = WORDS[language]
    rows = []
    for model_id, entry in REAL_MODELS.items():
        b = parameter_budget(entry["config"])
        bf16 = b.saved_by_tying * BYTES_PER_PARAMETER["bf16 weights"] / 1e9
        adam = b.saved_by_tying * BYTES_PER_PARAMETER["Adam, mixed precision"] / 1e9
        rows.append(f"| {model_id} | {words['yes_no'][0 if b.tied else 1]} | {b.total:,} | "
                    f"{b.embedding_share:.1%} | {bf16:.2f} GB | {adam:.2f} GB |")
    return _table(words["real_header"], 6, rows, words["real_note"], language)
