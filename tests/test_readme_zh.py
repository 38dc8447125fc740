"""The Chinese README (README.zh-CN.md) says what the English one says, from the same results.

tools/sync_notebooks.py writes the seven generated tables of both READMEs (the notebooks, and six of
results, rendered by tying_utils/reports.py) from the notebooks, docs/results/*.json,
docs/sweep/sweep.json and budget.py (tests/test_notebooks.py fails when either README drifts).
These tests check the rest: the two READMEs link each other and show the same figures, the
committed results were made by the commands the READMEs print, the Chinese prose's claims hold on
those results, and its terms are used consistently. tests/test_readme_numbers.py holds the
English prose's numbers to their sources.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from tool_scripts import load_tool  # noqa: E402

from tying_utils.reports import dim_of

ROOT = Path(__file__).resolve().parents[1]
sync_notebooks = load_tool("sync_notebooks")

README = ROOT / "README.md"
README_ZH = ROOT / "README.zh-CN.md"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _zh() -> str:
    return README_ZH.read_text(encoding="utf-8")


def _prose(text: str) -> str:
    """The README without its generated blocks: what a person wrote."""
    for start, end in sync_notebooks.BLOCKS:
        text = re.sub(re.escape(start) + ".*?" + re.escape(end), "", text, flags=re.S)
    return text


def _results(name: str) -> dict:
    return json.loads((ROOT / "docs" / "results" / name).read_text(encoding="utf-8"))


def _images(text: str) -> list[str]:
    return re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", text)


def test_each_readme_links_the_other():
    assert "(README.zh-CN.md)" in README.read_text(encoding="utf-8")
    assert "(README.md)" in _zh()


def test_generated_blocks_are_in_sync():
    text = _zh()
    expected = sync_notebooks.render_readme(text, sync_notebooks.repository_url(), "zh",
                                            README_ZH.name)
    assert text == expected, "run: python tools/sync_notebooks.py"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_notebook_is_listed(path):
    assert f"(notebooks/{path.name})" in _zh()


def test_same_figures_as_the_english_readme_and_they_exist():
    zh, en = _images(_zh()), _images(README.read_text(encoding="utf-8"))
    assert zh and set(zh) <= set(en), f"figures only in the Chinese README: {set(zh) - set(en)}"
    for image in zh:
        assert (ROOT / image).is_file(), f"{image} is missing"


def test_local_links_resolve():
    for target in re.findall(r"\]\(([^)\s#]+)(?:#[^)]*)?\)", _zh()):
        if not re.match(r"https?://", target):
            assert (ROOT / target).exists(), f"README.zh-CN.md links to a missing {target}"


def test_one_term_for_weight_tying():
    """权重绑定 throughout (not 权重共享), and the course's other terms as chosen."""
    text = _zh()
    assert "权重共享" not in text and "权重绑定" in text
    for term in ("嵌入层", "输出层", "随机种子", "困惑度"):
        assert term in text, f"expected the term {term}"


def test_compare_results_were_made_by_the_printed_commands():
    """compare --seeds 1000 [--untied-start matched] with every other option at its default."""
    from tying_utils.train import RunConfig

    defaults = RunConfig()
    for init, path in sync_notebooks.COMPARE_RESULTS.items():
        config = _results(path.name)["config"]
        assert config["seeds"] == 1000
        assert RunConfig(init=config["init"]).init == RunConfig(init=init).init  # seed: default
        for field in ("task", "loss", "vocab", "dim", "steps", "lr"):
            assert config[field] == getattr(defaults, field), f"{path.name}: {field}"
        command = sync_notebooks.COMPARE_COMMANDS[init]
        assert "--seeds 1000" in command and f"--json docs/results/{path.name}" in command
        assert ("--untied-start matched" in command) == (init == "matched")


def test_lm_results_were_made_by_the_printed_command():
    """lm with its defaults: three seeds, the pydoc corpus, vocabulary 2000, LMConfig()."""
    from tying_utils.lm_training import LMConfig

    config = _results("lm.json")["config"]
    assert config["seeds"] == [0, 1, 2] and config["corpus"] == "pydoc"
    assert config["vocab"] == 2000
    for field, default in vars(LMConfig()).items():
        if field in config:
            assert config[field] == default, f"lm.json: {field} is {config[field]}, not {default}"
    assert sync_notebooks.LM_COMMAND.endswith("lm --threads 1 --json docs/results/lm.json")


def test_blog_setting_in_the_prose_matches_the_results():
    config = _results("compare_seed.json")["config"]
    prose = _prose(_zh())
    assert f"词表 {config['vocab']} 个词元" in prose and f"嵌入维度 {config['dim']}" in prose
    assert f"学习率 {config['lr']:g}" in prose and f"训练 {config['steps']} 步" in prose
    assert f"在 {config['seeds']} 个成对的随机种子上重做" in prose


# Each sentence of the Chinese prose that states a result, with the check on docs/results/ that
# backs it. Rewording a sentence, or new results that no longer support it, fails the test.
def _share_ranges() -> tuple[tuple[float, float], tuple[float, float]]:
    """(lowest, highest) input-embedding share of the tied and of the untied real models."""
    from tying_utils.budget import REAL_MODELS, parameter_budget

    budgets = [parameter_budget(entry["config"]) for entry in REAL_MODELS.values()]
    def span(tied):
        shares = [round(b.embedding_share, 3) for b in budgets if b.tied == tied]
        return min(shares), max(shares)
    return span(True), span(False)


def _median_matched_lead() -> float:
    """Median over seeds of untied steps − tied steps with the matched start (never = inf)."""
    import statistics

    result = _results("compare_matched.json")
    steps = {v: [float("inf") if s is None else s for s in result[v]["steps_to_threshold"]]
             for v in ("tied", "untied")}
    return statistics.median(u - t for t, u in zip(steps["tied"], steps["untied"]))


def _seed_summary():
    return _results("compare_seed.json")["summary"]


def _matched_summary():
    return _results("compare_matched.json")["summary"]


def _lm(variant: str, split: str, name: str = "lm.json") -> list[float]:
    return _results(name)[variant][f"{split}_ppl"]


def _paired(other: str, split: str) -> list[float]:
    """tied − `other`, seed by seed, over the 10-seed run (split "gap": validation − train)."""
    def values(variant):
        if split == "gap":
            return [v - t for v, t in zip(_lm(variant, "valid", "lm_10_seeds.json"),
                                          _lm(variant, "train", "lm_10_seeds.json"))]
        return _lm(variant, split, "lm_10_seeds.json")
    return [a - b for a, b in zip(values("tied"), values(other))]


def _interval(differences: list[float]) -> list[float]:
    from tying_utils.lm_training import paired_interval

    return paired_interval(differences)["ci95"]


def _sweep() -> dict:
    return json.loads((ROOT / "docs" / "sweep" / "sweep.json").read_text(encoding="utf-8"))


CLAIMS = {
    "在博客的设置下，多数随机种子里绑定模型先达到阈值":
        lambda: _seed_summary()["ci95"][0] > 0.5,
    "多数随机种子里反而是不绑定模型先达到阈值":
        lambda: _matched_summary()["fraction_untied_faster"] > 0.5,
    "换一个随机种子，博客那张图可能正好相反":
        lambda: _seed_summary()["fraction_untied_faster"] > 0,
    "在每一个随机种子里，绑定模型的验证集困惑度和测试集困惑度都低于参数量相当的不绑定模型":
        lambda: all(t < u for split in ("valid", "test")
                    for t, u in zip(_lm("tied", split), _lm("untied_size_matched", split))),
    "验证集困惑度的均值更低":
        lambda: sum(_lm("tied", "valid")) < sum(_lm("untied", "valid")),
    "而训练集困惑度在这 3 个随机种子里都更高":
        lambda: (len(_lm("tied", "train")) == 3
                 and all(t > u for t, u in zip(_lm("tied", "train"), _lm("untied", "train")))),
    "下面 10 个成对随机种子的表里，有 1 个种子绑定模型更低":
        lambda: sum(d < 0 for d in _paired("untied", "train")) == 1,
    "笔记本表里的运行时间取自各笔记本标题单元格中的\"Time to run\"一行":
        lambda: all(sync_notebooks._time_in_chinese(sync_notebooks._title_parts(path)[3]) in _zh()
                    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))),
    "真实模型那张表由 `tying_utils/budget.py` 计算":
        lambda: (sync_notebooks.REAL_START in _zh()
                 and sync_notebooks.REAL_START.endswith("from tying_utils/budget.py -->")),
    "绑定模型测试集困惑度的均值低于层大小相同的不绑定模型，95% 区间在零以下":
        lambda: _interval(_paired("untied", "test"))[1] < 0,
    "绑定模型的训练集困惑度更高、验证集与训练集之间的差距更小":
        lambda: (sum(_paired("untied", "train")) > 0
                 and _interval(_paired("untied", "gap"))[1] < 0),
    "参数量匹配的不绑定模型更小，差距还要更小":
        lambda: (_results("lm_10_seeds.json")["untied_size_matched"]["parameters"]
                 < _results("lm_10_seeds.json")["tied"]["parameters"]
                 and sum(_paired("untied_size_matched", "gap")) > 0),
    "按测试集困惑度，在每一个宽度上绑定模型的均值都落后于同宽度的不绑定模型，差距随嵌入层占比下降而缩小":
        lambda: (all(p["tied_minus_untied"]["mean"] > 0 for p in _sweep()["points"])
                 and _sweep()["points"][-1]["tied_minus_untied"]["mean"]
                 < _sweep()["points"][0]["tied_minus_untied"]["mean"]),
    "只有在最窄的宽度上绑定模型更好（区间在零以下）":
        lambda: ([p["tied_minus_size_matched"]["mean"] < 0 for p in _sweep()["points"]]
                 == [True] + [False] * (len(_sweep()["points"]) - 1)
                 and _sweep()["points"][0]["tied_minus_size_matched"]["ci95"][1] < 0),
    "绑定的 LSTM 在每个格子里都好于参数量匹配的不绑定模型":
        lambda: all(row["tied_minus_size_matched"]["ci95"][1] < 0
                    for row in _factorial_cells() if row["arch"] == "lstm"),
    "绑定的 Transformer 在每个 Adam 格子里都落后于不绑定的（区间在零以上），"
    "在 SGD 的三个格子里只有一个如此":
        lambda: (all(_transformer_above_zero("adam"))
                 and _transformer_above_zero("sgd").count(True) == 1),
    "绑定的家族嵌入层占不绑定规模的 8.4–23.7%，不绑定的家族占 1.8–7.2%":
        lambda: _share_ranges() == ((0.084, 0.237), (0.018, 0.072)),
    "但成对领先的中位数只有 2 步（共 2000 步）":
        lambda: _median_matched_lead() == -2,
    "绑定模型少了一整个嵌入矩阵的参数":
        lambda: (_results("lm.json")["untied"]["parameters"]
                 - _results("lm.json")["tied"]["parameters"]
                 == _results("lm.json")["config"]["vocab"] * dim_of(_results("lm.json")["config"])),
}


def _transformer_above_zero(optimizer: str) -> list[bool]:
    """Per Transformer cell with `optimizer`: is the tied − untied interval above zero?"""
    return [row["tied_minus_untied"]["ci95"][0] > 0 for row in _factorial_cells()
            if (row["arch"], row["optimizer"]) == ("transformer", optimizer)]


def _factorial_cells() -> list[dict]:
    from tying_utils.factorial_analysis import cell_differences

    return cell_differences(_results("factorial.json")["runs"])


@pytest.mark.parametrize("sentence", CLAIMS)
def test_prose_claims_hold_on_the_results(sentence):
    assert sentence in _prose(_zh()), "the sentence changed: update CLAIMS with it"
    assert CLAIMS[sentence](), f"the results no longer support: {sentence}"


def test_ten_seed_lm_results_were_made_by_the_printed_command():
    """lm --seeds 10 with every other option at its default, like lm.json."""
    from tying_utils.lm_training import LMConfig

    config = _results("lm_10_seeds.json")["config"]
    assert config["seeds"] == list(range(10)) and config["corpus"] == "pydoc"
    assert config["vocab"] == 2000
    for field, default in vars(LMConfig()).items():
        if field in config:
            assert config[field] == default, f"lm_10_seeds.json: {field}"
    assert sync_notebooks.LM_PAIRED_COMMAND.endswith(
        "lm --seeds 10 --threads 1 --json docs/results/lm_10_seeds.json")
    # its first three seeds are lm.json's three: the same runs, so the two tables agree
    three = _results("lm.json")
    for variant in ("tied", "untied", "untied_size_matched"):
        assert _results("lm_10_seeds.json")[variant]["test_ppl"][:3] == three[variant]["test_ppl"]
