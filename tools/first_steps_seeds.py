"""Notebook 06 section 2 over seeds: every initialisation convention, tied and untied, 100 steps.

Writes docs/results/first_steps.json: the settings, and per model the held-out loss after the
steps and the first training loss, one value per seed; then, per convention, the paired
differences tied − untied with their mean and 95% t-interval. One thread, so that a rerun of any
seed on the same machine gives the same numbers (tests/test_first_steps_json.py reruns one).

    python tools/first_steps_seeds.py              # 10 seeds, about 1 min of CPU (see cpu_seconds)
    python tools/first_steps_seeds.py --seeds 3 --json /some/other.json
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch

from tying_utils.corpus import load_corpus, prepare
from tying_utils.first_steps import FIRST_STEPS, MODELS, first_steps
from tying_utils.lm_training import paired_interval

ROOT = Path(__file__).resolve().parents[1]
CORPUS, VOCAB_CAP = "pydoc", 1000


def run(seeds: int) -> dict:
    torch.set_num_threads(1)
    corpus = load_corpus(CORPUS)
    data = prepare(corpus, vocab_cap=VOCAB_CAP)
    start = time.process_time()
    models = {}
    for name, tied in MODELS:
        runs = [first_steps(data, name, tied, seed) for seed in range(seeds)]
        models[f"{name}|{'tied' if tied else 'untied'}"] = {
            "first_loss": [float(losses[0]) for losses, _ in runs],
            "held_out_loss": [after for _, after in runs]}
        print(name, "tied" if tied else "untied", [round(a, 3) for _, a in runs], flush=True)
    gaps = {}
    for name, tied in MODELS:
        if tied:
            untied = "pytorch" if name == "pytorch-head" else name
            diff = [a - b for a, b in zip(models[f"{name}|tied"]["held_out_loss"],
                                          models[f"{untied}|untied"]["held_out_loss"])]
            gaps[name] = paired_interval(diff)
    return {"command": "python tools/first_steps_seeds.py --seeds " + str(seeds),
            "settings": {**FIRST_STEPS, "corpus": CORPUS, "corpus_sha256": corpus.sha256,
                         "vocab_cap": VOCAB_CAP, "seeds": list(range(seeds)), "threads": 1},
            "models": models, "tied_minus_untied": gaps,
            "cpu_seconds": round(time.process_time() - start, 1),
            "torch": torch.__version__, "python": platform.python_version()}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--json", type=Path, default=ROOT / "docs" / "results" / "first_steps.json")
    args = parser.parse_args(argv)
    if args.seeds < 2:
        parser.error("--seeds must be at least 2, for an interval")
    result = run(args.seeds)
    args.json.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.json} ({result['cpu_seconds']} s of CPU)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
