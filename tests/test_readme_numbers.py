"""The numbers the English README's prose quotes, each held to the result or notebook it comes from.

The README's result tables are generated (tools/sync_notebooks.py renders them with
tying_utils/reports.py; tests/test_notebooks.py fails when they drift). The findings around them
were written by hand: 67 steps, 66.3%, 1.461, … Each entry of QUOTES below computes one phrase of
that prose from its source, rounded as the README rounds it: from docs/results/*.json,
docs/sweep/sweep.json or budget.py where the number is a committed result, else from the committed
output of the notebook that prints it. Each entry of CLAIMS checks a sentence whose words, not a
copied number, state the result ("about two seeds out of three"). A changed result or notebook
output, or a reworded sentence, fails its test: update the entry with the sentence.
tests/test_readme_zh.py does the same for the Chinese README.

Not checked here: the figures of `make bench` (the Performance section), of the wide audit harness
and of the other measurements the README dates and places (a machine, a load).
"""

from __future__ import annotations

import json
import math
import re
import statistics
from functools import cache
from pathlib import Path

import pytest
from tool_scripts import load_tool

from tying_utils.reports import interval_text, minus

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
sync_notebooks = load_tool("sync_notebooks")
WORDS = {1: "one", 2: "two", 3: "three"}


@cache
def _prose() -> str:
    """README.md without its generated blocks, each run of white space one space (the prose is
    wrapped at 100 characters, so a phrase may span lines)."""
    text = README.read_text(encoding="utf-8")
    for start, end in sync_notebooks.BLOCKS:
        text = re.sub(re.escape(start) + ".*?" + re.escape(end), "", text, flags=re.S)
    return " ".join(text.split())


@cache
def _results(name: str) -> dict:
    return json.loads((ROOT / "docs" / "results" / name).read_text(encoding="utf-8"))


@cache
def _sweep() -> dict:
    return json.loads((ROOT / "docs" / "sweep" / "sweep.json").read_text(encoding="utf-8"))


@cache
def _notebook(number: str) -> tuple[str, str]:
    """(every text output, every code cell's source) of notebook `number`, as committed."""
    (path,) = (ROOT / "notebooks").glob(f"{number}_*.ipynb")
    nb = json.loads(path.read_text(encoding="utf-8"))
    outputs, code = [], []
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        code.append("".join(cell["source"]))
        for output in cell.get("outputs", []):
            text = output.get("text", output.get("data", {}).get("text/plain", ""))
            outputs.append("".join(text))
    return "\n".join(outputs), "\n".join(code)


def _printed(number: str, pattern: str, code: bool = False) -> re.Match:
    """The first match of `pattern` in notebook `number`'s outputs (or its code)."""
    text = _notebook(number)[1 if code else 0]
    match = re.search(pattern, text)
    assert match, f"notebook {number} no longer prints {pattern!r}"
    return match


def _all_printed(number: str, pattern: str) -> list[re.Match]:
    found = list(re.finditer(pattern, _notebook(number)[0]))
    assert found, f"notebook {number} no longer prints {pattern!r}"
    return found


def _number(text: str) -> float:
    return float(text.replace(",", "").replace("−", "-"))


def _paired_lead(name: str) -> float:
    """Median over seeds of untied steps − tied steps to the threshold (never = infinity)."""
    result = _results(name)
    steps = {v: [math.inf if s is None else s for s in result[v]["steps_to_threshold"]]
             for v in ("tied", "untied")}
    return statistics.median(u - t for t, u in zip(steps["tied"], steps["untied"]))


def _paired_interval(differences):
    from tying_utils.lm_training import paired_interval

    return paired_interval(differences)


@cache
def _factorial_cells() -> dict[tuple, dict]:
    from tying_utils.factorial_analysis import cell_differences

    rows = cell_differences(_results("factorial.json")["runs"])
    return {(r["corpus"], r["arch"], r["optimizer"], r["vocab_cap"]): r for r in rows}


def _cap_effect(arch: str, name: str) -> str:
    """Adam cells on pydoc: the paired difference `name` at the large vocabulary cap minus at the
    small one, seed by seed, as notebook 06 computes it."""
    cells = _factorial_cells()
    small, large = sorted({key[3] for key in cells})
    per_seed = [b - a for a, b in zip(cells["pydoc", arch, "adam", small][name]["per_seed"],
                                      cells["pydoc", arch, "adam", large][name]["per_seed"])]
    return minus(interval_text(_paired_interval(per_seed)))


# --- the compare command's results (docs/results/compare_*.json) -------------------------------

def _blog_setting() -> str:
    c = _results("compare_seed.json")["config"]
    return (f"The blog's setting ({c['task']} task, {c['loss'].upper()} on the softmax, Adam at "
            f"{c['lr']:g}, {c['steps']} steps")


def _headline_seeds() -> str:
    seeds = _results("compare_seed.json")["config"]["seeds"]
    return f"Tied vs untied loss over {seeds} paired seeds"


def _blog_lead() -> str:
    steps = _results("compare_seed.json")["config"]["steps"]
    return f"by a median of {_paired_lead('compare_seed.json'):.0f} steps out of {steps}"


def _matched_untied_first() -> str:
    s = _results("compare_matched.json")["summary"]
    return f"untied is first in {s['fraction_untied_faster']:.1%} of seeds"


def _matched_lead() -> str:
    """The median paired lead from the results; its interval as notebook 04 prints it."""
    lead = _paired_lead("compare_matched.json")
    match = _printed("04", r"median lead of tied: (-?\d+) steps \(95% CI (-?\d+) to (-?\d+)\) "
                           r"out of (\d+)")
    printed, low, high, steps = (int(g) for g in match.groups())
    assert printed == lead < 0, "notebook 04 and compare_matched.json disagree on the lead"
    return f"by a median of only {-lead:.0f} steps (95% CI {-high}–{-low}) out of {steps}"


def _matched_same_step() -> str:
    same = _results("compare_matched.json")["summary"]["fraction_equal"]
    return f"at the same step in {same:.1%}"


# --- notebook 04's cycle, path and shift runs ----------------------------------------------------

def _cycle_never() -> str:
    seeds = int(_printed("04", r"ABLATION_SEEDS = (\d+)", code=True).group(1))
    counts = _printed("04", r"cycle, tied seeds with every token right, at steps \{(.*)\}").group(1)
    assert all(int(n) == 0 for n in re.findall(r": (\d+)", counts)), counts
    return f"no tied seed of {seeds} got every token right at any step checked"


def _cycle_lowest() -> str:
    lowest = _printed("04", r"lowest loss over all \d+ steps of all seeds ([\d.]+), above the "
                            r"floor ln 2 / 10").group(1)
    return f"(its lowest was {lowest})"


def _path() -> str:
    seeds = int(_printed("04", r"ABLATION_SEEDS = (\d+)", code=True).group(1))
    match = _printed("04", r"path: tied gets every token right in (\d+)% of seeds.*after a median "
                           r"of (\d+) steps tied, (\d+) untied")
    share, tied, untied = (int(g) for g in match.groups())
    return (f"in {round(seeds * share / 100)} of {seeds} seeds, after a median of {tied} steps "
            f"against {untied} untied")


def _shift_batches() -> str:
    pattern = (r"shift, (mse|ce), default\s*: every token of the batch right at step 2000: "
               r"tied (\d+)%")
    right = {m.group(1): int(m.group(2)) for m in _all_printed("04", pattern)}
    low, high = sorted(100 - v for v in right.values())
    return (f"{right['mse']}% (MSE) and {right['ce']}% (cross-entropy) of tied seeds get their "
            f"whole batch right within 2000 steps (the other {low}–{high}% had not by then)")


# --- the language model (docs/results/lm*.json, notebook 05) -------------------------------------

def _corpus_characters() -> str:
    characters = _printed("05", r"pydoc: ([\d,]+) characters").group(1)
    return f"so every Python reads the same {characters} characters"


def _first_epoch_lead() -> str:
    result = _results("lm_10_seeds.json")
    first = [a[0] - b[0] for a, b in zip(result["tied"]["valid_ppl_per_epoch"],
                                         result["untied"]["valid_ppl_per_epoch"])]
    text = minus(interval_text(_paired_interval(first)))
    return f"at the `lm` defaults over {len(first)} paired seeds, {text})"


def _small_setting() -> str:
    match = _printed("05", r"vocab=(\d+) cell=lstm .* epochs=(\d+) seeds=\d+ \(mean ± sd")
    dim = _printed("05", r"\ntied\s+(\d+)\s+[\d,]+\s").group(1)
    return f"(vocabulary {match.group(1)}, d = {dim}, {match.group(2)} epochs)"


def _ten_seeds() -> str:
    return f"({len(_results('lm_10_seeds.json')['config']['seeds'])} paired seeds, below)"


# --- notebook 06: the sweep (docs/sweep/sweep.json), budget.py, the factorial --------------------

def _sweep_range() -> str:
    config = _sweep()["config"]
    widths = config["widths"]
    return (f"at a fixed vocabulary of {config['vocab']} words, over widths {min(widths)} to "
            f"{max(widths)}")


def _sweep_widths() -> list[dict]:
    return sorted(_sweep()["points"], key=lambda p: p["width"])


def _sweep_gap() -> str:
    narrow, *_, second, widest = _sweep_widths()
    means = sorted(round(p["tied_minus_untied"]["mean"]) for p in (second, widest))
    shares = sorted(p["embedding_share"] * 100 for p in (second, widest))
    return (f"by about {narrow['tied_minus_untied']['mean']:.0f} points where the input embedding "
            f"is {narrow['embedding_share']:.0%} of the untied model and {means[0]}–{means[1]} "
            f"where it is {math.floor(shares[0])}–{math.ceil(shares[1])}% (at "
            f"{widest['embedding_share']:.1%} the interval reaches zero)")


def _sweep_matched() -> str:
    points = _sweep_widths()
    name = "tied_minus_size_matched"
    ahead = [p["width"] for p in points if p[name]["ci95"][1] < 0]
    assert ahead == [points[0]["width"]], "tied is ahead only at the narrowest width"
    level = [p["width"] for p in points if interval_text(p[name]).split()[0] in ("+0", "-0")]
    behind = [p["width"] for p in points if p[name]["ci95"][0] > 0]
    assert behind == [p["width"] for p in points if p["width"] >= behind[0]], "behind from then on"
    return f"level at d = {', '.join(map(str, level))}, and behind from d = {behind[0]} on"


def _real_shares() -> str:
    from tying_utils.budget import REAL_MODELS, parameter_budget

    budgets = [parameter_budget(entry["config"]) for entry in REAL_MODELS.values()]
    shares = {tied: sorted(b.embedding_share * 100 for b in budgets if b.tied == tied)
              for tied in (True, False)}
    return (f"Real families that tie spend {shares[True][0]:.1f}–{shares[True][-1]:.1f}% of "
            f"their untied size on the input embedding, those that do not "
            f"{shares[False][0]:.1f}–{shares[False][-1]:.1f}%")


def _factorial_design() -> str:
    config = _results("factorial.json")["config"]
    cells = _factorial_cells()
    small, large = sorted({key[3] for key in cells})
    whole = cells["pydoc", "lstm", "sgd", large]["vocab"]
    assert whole < large, "the large cap is the corpus's whole vocabulary"
    return (f"vocabulary ({small} words, or the corpus's whole {whole}) at width "
            f"{config['width']}, after {WORDS[config['epochs']]} epoch, over "
            f"{len(config['seeds'])} paired seeds")


def _lstm_convergence_setting() -> str:
    config = _results("factorial.json")["config"]
    lr = _factorial_cells()["pydoc", "lstm", "sgd", 1000]["lr"]
    return f"(d = {config['width']}, SGD at rate {lr:g}, {WORDS[config['epochs']]} epoch)"


def _lstm_tokens() -> str:
    from tying_utils.factorial_analysis import convergence

    (row,) = [r for r in convergence(_results("factorial.json")["runs"])
              if (r["corpus"], r["arch"], r["optimizer"], r["vocab_cap"])
              == ("pydoc", "lstm", "sgd", 1000)]
    text = minus(interval_text(row["tokens_difference"], scale=1000))
    return f"(tokens to a threshold, tied − untied: {text} thousand)"


def _sgd_over_adam() -> str:
    cells = _factorial_cells()
    ratios = [cells["pydoc", "lstm", "sgd", cap]["mean"][v] / cells["pydoc", "lstm", "adam", cap]
              ["mean"][v] for cap in {key[3] for key in cells} for v in ("tied", "untied",
                                                                         "untied_size_matched")]
    return f"sit at {min(ratios):.1f}–{max(ratios):.1f} times Adam's perplexity"


def _vocabulary_effects() -> str:
    return (f"with more words the Transformer's cost of tying grows, "
            f"{_cap_effect('transformer', 'tied_minus_untied')}, and the LSTM's gain over the "
            f"size-matched model grows, {_cap_effect('lstm', 'tied_minus_size_matched')})")


def _unknown_words() -> str:
    vocab = max(r["vocab"] for r in _factorial_cells().values())  # the corpus's whole vocabulary
    train, test = _printed("06", rf"pydoc\s+V={vocab}\s+<unk>:\s+([\d.]+)% of training tokens,"
                                 rf"\s+([\d.]+)% of test tokens").groups()
    assert float(train) == 0, "never seen in training"
    return f"at {vocab} words `<unk>`, never seen in training, is {test}% of the test tokens"


# --- notebooks 08 and 09 ------------------------------------------------------------------------

def _ranks() -> tuple[str, ...]:
    steps = _printed("08", r"in (\d+) steps the tied matrix moved").group(1)
    late = _number(_printed("08", r"late tie with find_unused_parameters=True: off the reference "
                                  r"by (\S+)").group(1))
    drift = {_number(m.group(1)) for m in _all_printed("08", r"(?:tp|pipeline)\s+broken\s+drift "
                                                             r"([\d.]+)")}
    fixed = [_number(m.group(1)) for m in _all_printed("08", r"fixed\s+drift 0, off the "
                                                             r"reference by (\S+)")]
    assert max(fixed) < 1e-6, "each fix matches the single-process model within 1e-6"
    (copies,) = {f"{d:.1f}" for d in drift}
    late_text = f"{late:.0e}".replace("e-0", "e-")
    return (f"{steps} SGD steps", f"ends {late_text} from the reference",
            f"copies about {copies} apart", "within 1e-6")


def _export() -> tuple[str, ...]:
    rows, cols, size = _printed("09", r"token matrix: (\d+) × (\d+) = [\d,]+ numbers, ([\d,]+) "
                                      r"bytes").groups()
    ratio = {name: _printed("09", rf"{pattern}[\d,]+ bytes = ([\d.]+) × the matrix").group(1)
             for name, pattern in (("folded", "do_constant_folding=True: "),
                                   ("unfolded", "do_constant_folding=False: "),
                                   ("dynamo", "dynamo=True: "), ("removed", r"removed \[.*?\]: "),
                                   ("pt2", "saved: "), ("tied gguf", r"\ntied\s+"),
                                   ("untied gguf", r"\nuntied\s+"))}
    gaps = [_number(m.group(1)) for m in _all_printed("09", r"max \|logit gap\| (\S+e-\d+)")]
    assert max(gaps) < 2e-7, "onnxruntime's logits within 2e-7 of PyTorch's"
    small = _printed("09", r"FINDING\s+duplicate_initializer \S+ \[\d+, \d+\] holds the numbers "
                           r"of model\.head\.weight \[(\d+), (\d+)\]").groups()
    added = _printed("09", r"\nhead\s+[\d,]+ bytes \(\+([\d,]+)\)").group(1)
    saved = _printed("09", r"both_shared\s+[\d,]+ bytes \(-([\d,]+)\)").group(1)
    return (f"a tied `TransformerLM` with a {rows} × {cols} token matrix, {size} bytes",
            f"a file {ratio['folded']}× the matrix, against {ratio['unfolded']}× with folding "
            f"off, {ratio['dynamo']}× with the dynamo exporter and {ratio['removed']}× after "
            f"de-duplicating the folded file", "within 2e-7 of PyTorch's",
            f"folded a small {small[0]} × {small[1]} matrix too", f"(a `.pt2` of {ratio['pt2']}×)",
            f"out ({ratio['tied gguf']}×, against {ratio['untied gguf']}× untied)",
            f"added a copy (+{added} bytes)", f"saved {saved} bytes")


def _explorer_click() -> str:
    """The explorer's time in "Try it yourself" is the one in the performance table."""
    row = re.search(r"\| explorer, click to new plot .*? \| \*\*([\d.]+) s\*\* median of (\d+)",
                    README.read_text(encoding="utf-8"))
    assert row, "the performance table lost its explorer row"
    return f"({row.group(1)} s, the median in the performance table below)"


QUOTES = {
    "blog setting": _blog_setting, "headline figure's seeds": _headline_seeds,
    "blog's lead, 67 steps": _blog_lead, "matched: untied first 66.3%": _matched_untied_first,
    "matched: lead 2 steps": _matched_lead, "matched: same step 7.5%": _matched_same_step,
    "cycle: no tied seed": _cycle_never, "cycle: lowest loss 1.461": _cycle_lowest,
    "path: 1060 against 212": _path, "shift: 90% and 93%": _shift_batches,
    "corpus: 465,126 characters": _corpus_characters, "lm: first epoch": _first_epoch_lead,
    "lm: notebook 05's setting": _small_setting, "lm: 10 seeds": _ten_seeds,
    "sweep: range": _sweep_range, "sweep: tied − untied": _sweep_gap,
    "sweep: size-matched": _sweep_matched, "real families' shares": _real_shares,
    "factorial: design": _factorial_design, "factorial: LSTM setting": _lstm_convergence_setting,
    "factorial: LSTM tokens": _lstm_tokens, "factorial: SGD over Adam": _sgd_over_adam,
    "factorial: vocabulary": _vocabulary_effects, "factorial: <unk>": _unknown_words,
    "ranks (notebook 08)": _ranks, "export (notebook 09)": _export,
    "explorer click": _explorer_click,
}


@pytest.mark.parametrize("name", QUOTES)
def test_quoted_numbers_match_their_source(name):
    phrases = QUOTES[name]()
    for phrase in [phrases] if isinstance(phrases, str) else phrases:
        assert phrase in _prose(), (f"README.md no longer says {phrase!r}: a result changed, or "
                                    f"the sentence did (then update QUOTES[{name!r}])")


# Sentences whose words state a result; each with the check on the results that backs it.
CLAIMS = {
    "In the blog's setting the blog's sentence holds in about two seeds out of three":
        lambda: abs(_results("compare_seed.json")["summary"]["fraction_tied_faster"] - 2 / 3)
        < 0.05,
    "rerun as published, its script shows the opposite plot in about a third of runs":
        lambda: abs(int(_printed("03", r"the untied curve gets there first:\s+(\d+)%").group(1))
                    / 100 - 1 / 3) < 0.05,
    "tied reaches the loss threshold first in under 5% of seeds (notebook 04)":
        lambda: all(float(m.group(1)) < 5 for m in _all_printed(
            "04", r"shift, \w+, \w+\s*: tied first in ([\d.]+)% of seeds")),
    "tying beats an untied model of the same parameter count in every seed":
        lambda: all(t < u for name in ("lm.json", "lm_10_seeds.json") for split in ("valid", "test")
                    for t, u in zip(_results(name)["tied"][f"{split}_ppl"],
                                    _results(name)["untied_size_matched"][f"{split}_ppl"])),
    "The tied Transformer is behind untied in every Adam cell and in one SGD cell of three":
        lambda: ([r["tied_minus_untied"]["ci95"][0] > 0 for k, r in _factorial_cells().items()
                  if k[1:3] == ("transformer", "adam")] == [True] * 3
                 and sum(r["tied_minus_untied"]["ci95"][0] > 0
                         for k, r in _factorial_cells().items()
                         if k[1:3] == ("transformer", "sgd")) == 1),
    "the tied LSTM is ahead of the size-matched untied model in every cell":
        lambda: all(r["tied_minus_size_matched"]["ci95"][1] < 0
                    for k, r in _factorial_cells().items() if k[1] == "lstm"),
}


@pytest.mark.parametrize("sentence", CLAIMS)
def test_prose_claims_hold_on_the_results(sentence):
    assert sentence in _prose(), "the sentence changed: update CLAIMS with it"
    assert CLAIMS[sentence](), f"the results no longer support: {sentence}"


def test_notebook_04_quotes_the_explorer_time_of_the_performance_table():
    """Notebook 04's "Try it yourself" quotes the explorer's median click from the README's
    performance table; a new benchmark run must update both."""
    import nbformat

    quoted = _explorer_click().split(" s,")[0].lstrip("(")
    notebook = nbformat.read(ROOT / "notebooks" / "04_loss_curves.ipynb", as_version=4)
    text = "".join(c.source for c in notebook.cells if c.cell_type == "markdown")
    assert f"({quoted} s, the median of 5 clicks in the README's performance table" in text
