"""The committed factorial, docs/results/factorial.json, is what its command makes, and holds what
notebook 06 and the READMEs read from it.

1. The configuration it records is what its recorded command line parses to, through the `sweep`
   command's own parser and `factorial_config`.
2. It holds every cell of the design with at least 5 paired seeds and all three variants, the key
   cells on the second corpus, a curve of at least `evals_per_epoch` points per epoch in every
   run, and gradient shares in every tied run; every run trains at the rate its grid chose.
3. One run, rerun: the default corpus, LSTM, SGD, the small vocabulary, tied, seed 0. On the
   machine, PyTorch and Python that made the file it must match exactly (one thread, one seed,
   one order of sums); elsewhere to a relative 1e-3, as the width sweep's test allows
   (tests/test_sweep_json.py says why).
"""

from __future__ import annotations

import dataclasses
import json
import math
import platform
from pathlib import Path

import pytest
import torch

from tying_utils.cli.factorial import factorial_command, factorial_config
from tying_utils.cli.outputs import cpu_name
from tying_utils.cli.sweep import sweep_arguments
from tying_utils.factorial import (
    FactorialConfig,
    RunSpec,
    _config_json,
    choose_rates,
    corpus_data,
    train_run,
)
from tying_utils.factorial_analysis import cell_differences, cells
from tying_utils.lm_training import VARIANTS

ROOT = Path(__file__).resolve().parents[1]
FACTORIAL = ROOT / "docs" / "results" / "factorial.json"

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def factorial() -> dict:
    return json.loads(FACTORIAL.read_text(encoding="utf-8"))


def test_the_recorded_configuration_is_what_the_recorded_command_makes(factorial):
    args = sweep_arguments(factorial["argv"])
    assert factorial["command"] == "python -m tying_utils " + " ".join(factorial["argv"])
    assert factorial_command(args) == factorial["argv"]  # every setting spelled out
    config = factorial_config(args)
    assert factorial["config"] == json.loads(json.dumps(
        _config_json(config, choose_rates(factorial["lr_grid"]))))
    assert factorial["argv"][factorial["argv"].index("--json") + 1] == \
        "docs/results/factorial.json"


def test_every_cell_of_the_design_is_there_with_five_paired_seeds(factorial):
    config = factorial["config"]
    runs = factorial["runs"]
    expected = [(config["corpus"], a, o, v) for v in config["vocab_caps"]
                for a in config["archs"] for o in config["optimizers"]]
    expected += [(c, a, o, config["vocab_caps"][0]) for c in config["other_corpora"]
                 for a in config["archs"] for o in config["optimizers"]]
    assert cells(runs) == expected
    assert set(config["archs"]) == {"lstm", "transformer"}
    assert set(config["optimizers"]) == {"sgd", "adam"} and len(config["vocab_caps"]) == 2
    assert config["other_corpora"] and len(config["seeds"]) >= 5
    for row in cell_differences(runs):  # raises when a variant lacks a seed
        assert len(row["seeds"]) >= 5
    for run in runs:
        assert run["variant"] in VARIANTS
        assert len(run["curve"]) >= config["evals_per_epoch"] * config["epochs"] >= 10
        assert run["lr"] == config["chosen_lr"][f"{run['arch']}/{run['optimizer']}"]
        assert math.isfinite(run["test_ppl"]) and math.isfinite(run["valid_ppl"])
        if run["variant"] == "tied":
            assert len(run["output_grad_share"]) == len(run["curve"])
            assert all(0 <= share <= 1 for _, share in run["output_grad_share"])


def test_one_run_reproduces(factorial):
    recorded = next(r for r in factorial["runs"]
                    if (r["corpus"], r["arch"], r["optimizer"], r["variant"], r["seed"]) ==
                    (factorial["config"]["corpus"], "lstm", "sgd", "tied", 0)
                    and r["vocab_cap"] == factorial["config"]["vocab_caps"][0])
    fields = {f.name for f in dataclasses.fields(FactorialConfig)}
    config = FactorialConfig(**{k: tuple(v) if isinstance(v, list) else v
                                for k, v in factorial["config"].items() if k in fields})
    spec = RunSpec(**{f.name: recorded[f.name] for f in dataclasses.fields(RunSpec)})
    data = corpus_data(spec.corpus, spec.vocab_cap, config.max_train_tokens)
    again = train_run(data, spec, config, "cpu")
    here = (cpu_name(), torch.__version__, platform.python_version())
    same = here == (factorial["cpu"], factorial["torch"], factorial["python"])
    for key in ("valid_ppl", "test_ppl"):
        if same:
            assert again[key] == recorded[key], key
        else:
            assert math.isclose(again[key], recorded[key], rel_tol=1e-3), key
    assert [t for t, _ in again["curve"]] == [t for t, _ in recorded["curve"]]
    assert again["parameters"] == recorded["parameters"]
