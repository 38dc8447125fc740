"""docs/results/first_steps.json (notebook 06, section 2 over seeds) is what its script makes.

1. Its paired differences and intervals are recomputed from the per-seed losses it stores.
2. One seed of it is rerun (seed 1, `gpt2` tied and untied, one thread) and must match. On the
   machine that made the file the match is exact; elsewhere floating-point sums may add in another
   order, so the test allows a relative 1e-3 (as tests/test_sweep_json.py does, for the same
   reason), and it is skipped when this Python's help texts (the corpus) differ from the file's.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from tying_utils.corpus import load_corpus, prepare
from tying_utils.first_steps import FIRST_STEPS, MODELS, first_steps, label
from tying_utils.lm_training import paired_interval

RESULT = Path(__file__).resolve().parents[1] / "docs" / "results" / "first_steps.json"


@pytest.fixture(scope="module")
def result() -> dict:
    return json.loads(RESULT.read_text(encoding="utf-8"))


def test_the_file_holds_every_model_and_its_settings(result):
    assert set(result["models"]) == {f"{n}|{'tied' if t else 'untied'}" for n, t in MODELS}
    assert {k: result["settings"][k] for k in FIRST_STEPS} == FIRST_STEPS
    seeds = result["settings"]["seeds"]
    assert len(seeds) >= 5 and result["command"].endswith(f"--seeds {len(seeds)}")
    for runs in result["models"].values():
        assert len(runs["held_out_loss"]) == len(runs["first_loss"]) == len(seeds)


def test_the_paired_differences_are_recomputed_from_the_losses(result):
    models = result["models"]
    for name, gap in result["tied_minus_untied"].items():
        untied = "pytorch" if name == "pytorch-head" else name
        diff = [a - b for a, b in zip(models[f"{name}|tied"]["held_out_loss"],
                                      models[f"{untied}|untied"]["held_out_loss"])]
        again = paired_interval(diff)
        assert math.isclose(again["mean"], gap["mean"], abs_tol=1e-12)
        assert all(math.isclose(a, b, abs_tol=1e-12) for a, b in zip(again["ci95"], gap["ci95"]))
        assert gap["ci95"][0] < gap["mean"] < gap["ci95"][1]


def test_one_seed_reruns_to_the_stored_numbers(result):
    corpus = load_corpus(result["settings"]["corpus"])
    if corpus.sha256 != result["settings"]["corpus_sha256"]:
        pytest.skip("this Python's help texts differ from those the file was made from")
    data = prepare(corpus, vocab_cap=result["settings"]["vocab_cap"])
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for tied in (True, False):
            losses, after = first_steps(data, "gpt2", tied, seed=1)
            stored = result["models"][f"gpt2|{'tied' if tied else 'untied'}"]
            assert math.isclose(after, stored["held_out_loss"][1], rel_tol=1e-3), label("gpt2",
                                                                                       tied)
            assert math.isclose(losses[0], stored["first_loss"][1], rel_tol=1e-3)
    finally:
        torch.set_num_threads(before)
