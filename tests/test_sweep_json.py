"""The committed sweep, docs/sweep/sweep.json (and its figure sweep.png), is what its command makes.

1. The configuration the JSON records is what the command line it records parses to, through the
   `sweep` command's own parser and `sweep_config`, and its numbers hang together (intervals,
   shares, differences).
2. One of its points, rerun: the smallest width, seed 0, tied and untied, at the thread count
   the JSON records. Tolerance: where the environment is the one that made the file (same CPU
   model, same PyTorch, same Python, hence the same corpus), the rerun must match exactly: one
   thread, one seed and one order of floating-point sums give the same numbers every time. On
   another CPU or PyTorch build the kernels may add in another order, and the last bits differ.
   How much that moves the result was measured on this point by changing the thread count
   alone, from 1 to 2 (another order of sums): the final validation perplexity agreed to all 17
   digits and the test perplexity to 4 parts in 10^8. So elsewhere the test allows a relative
   difference of 1e-3, and it is skipped when the Python version's help texts (the corpus)
   differ from the file's.
"""

from __future__ import annotations

import dataclasses
import json
import math
import platform
from pathlib import Path

import numpy as np
import pytest
import torch

from tying_utils import runtime
from tying_utils.cli.outputs import cpu_name
from tying_utils.cli.sweep import sweep_arguments, sweep_command, sweep_config
from tying_utils.corpus import load_corpus, prepare
from tying_utils.lm_training import LMConfig, paired_interval, train_lm
from tying_utils.transformer import size_matched_dim, transformer_parameter_count

ROOT = Path(__file__).resolve().parents[1]
SWEEP = ROOT / "docs" / "sweep" / "sweep.json"
ELSEWHERE_TOLERANCE = 1e-3  # relative, on another CPU or PyTorch build (see the docstring)


@pytest.fixture(scope="module")
def sweep() -> dict:
    return json.loads(SWEEP.read_text(encoding="utf-8"))


def test_the_figure_is_committed_next_to_the_json(sweep):
    figure = SWEEP.with_suffix(".png")
    assert figure.read_bytes().startswith(b"\x89PNG")
    assert sweep["argv"][sweep["argv"].index("--plot") + 1] == "docs/sweep/sweep.png"
    assert sweep["argv"][sweep["argv"].index("--json") + 1] == "docs/sweep/sweep.json"


def test_the_recorded_configuration_is_what_the_recorded_command_makes(sweep):
    args = sweep_arguments(sweep["argv"])
    assert sweep["command"] == "python -m tying_utils " + " ".join(sweep["argv"])
    assert sweep_command(args) == sweep["argv"]  # every setting spelled out
    settings = {k: v for k, v in dataclasses.asdict(sweep_config(args)).items()
                if k not in ("dim", "hidden")}
    recorded = dict(sweep["config"])
    assert {k: recorded.pop(k) for k in list(settings)} == settings
    assert recorded.pop("widths") == args.widths
    assert recorded.pop("seeds") == list(range(args.seeds))
    assert recorded.pop("corpus") == args.corpus and recorded.pop("vocab") == args.vocab_cap
    assert set(recorded) == {"corpus_sha256"}
    assert sweep["threads"] == args.threads and sweep["device"] == "cpu"


def test_the_sweep_meets_the_course_standard(sweep):
    config = sweep["config"]
    assert len(config["seeds"]) >= 3 and len(config["widths"]) >= 5
    assert sweep["cpu_seconds"] < 3600  # rerunnable: well under an hour of CPU time


def test_every_point_is_consistent(sweep):
    config = sweep["config"]
    vocab, layers, heads, context = (config[k] for k in ("vocab", "layers", "heads", "bptt"))
    for width, point in zip(config["widths"], sweep["points"]):
        matched = size_matched_dim(vocab, width, layers, heads, context)
        assert point["width"] == width and point["size_matched_width"] == matched
        counts = {"tied": transformer_parameter_count(vocab, width, True, layers, context),
                  "untied": transformer_parameter_count(vocab, width, False, layers, context),
                  "untied_size_matched": transformer_parameter_count(vocab, matched, False,
                                                                     layers, context)}
        assert point["parameters"] == counts
        assert point["embedding_share"] == pytest.approx(vocab * width / counts["untied"])
        for name, other in (("tied_minus_untied", "untied"),
                            ("tied_minus_size_matched", "untied_size_matched")):
            differences = np.subtract(point["test_ppl"]["tied"], point["test_ppl"][other])
            expected = paired_interval(differences)
            assert point[name]["mean"] == pytest.approx(expected["mean"])
            assert point[name]["ci95"] == pytest.approx(expected["ci95"])
            assert point[name]["per_seed"] == pytest.approx(expected["per_seed"])
    shares = [p["embedding_share"] for p in sweep["points"]]
    assert shares == sorted(shares, reverse=True)  # wider models: smaller share


def test_one_point_reruns_to_the_recorded_numbers(sweep):
    corpus = load_corpus(sweep["config"]["corpus"])
    if corpus.sha256 != sweep["config"]["corpus_sha256"]:
        pytest.skip(f"Python {platform.python_version()}'s help texts differ from those of "
                    f"Python {sweep['python']}, which made the file: another corpus")
    data = prepare(corpus, sweep["config"]["vocab"])
    settings = {k: v for k, v in sweep["config"].items()
                if k not in ("widths", "seeds", "corpus", "corpus_sha256", "vocab")}
    point = sweep["points"][0]
    config = LMConfig(**settings, dim=point["width"], hidden=point["width"])
    same_machine = (cpu_name() == sweep["cpu"] and torch.__version__ == sweep["torch"])
    runtime.set_threads(sweep["threads"])
    try:
        for tied, variant in ((True, "tied"), (False, "untied")):
            run = train_lm(data, config, tied, seed=0, progress=False, device="cpu")
            recorded = point["valid_ppl"][variant][0]
            if same_machine:
                assert run.valid_ppl[-1] == recorded, variant
                assert run.test_ppl == point["test_ppl"][variant][0], variant
            else:
                assert math.isclose(run.valid_ppl[-1], recorded, rel_tol=ELSEWHERE_TOLERANCE)
                assert math.isclose(run.test_ppl, point["test_ppl"][variant][0],
                                    rel_tol=ELSEWHERE_TOLERANCE), variant
    finally:
        runtime.set_threads(None)
