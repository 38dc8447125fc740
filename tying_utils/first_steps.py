"""The first steps of a small Transformer under each initialisation convention, over seeds.

Introduced in notebook 06 (transformer), section 2: every convention of `transformer.CONVENTIONS`,
tied and untied, trained exactly alike for a few steps (Adam, gradient norm clipped to 1,
batches of 10 rows × 35 tokens from the start of the training text, no dropout), then judged on the
held-out test text. Seed `s` gives a tied and an untied model the same blocks and positions and the
same batches, so tied − untied is paired seed by seed. A seed changes only the initialisation:
every seed trains on the same first `steps` batches and is judged on the same 2,800 test tokens
(`held_out_chunks` × `held_out_rows` × `bptt`), so an interval over seeds shows how the result
moves with the start, not with the data.

`tools/first_steps_seeds.py` runs it over many seeds and writes docs/results/first_steps.json;
`tests/test_first_steps_json.py` reruns a seed of that file.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .corpus import batchify, bptt_chunks
from .transformer import CONVENTIONS, TransformerLM

__all__ = ["MODELS", "FIRST_STEPS", "first_steps", "label"]

FIRST_STEPS = {"steps": 100, "lr": 3e-3, "clip": 1.0, "batch_size": 10, "bptt": 35,
               "held_out_rows": 20, "held_out_chunks": 4, "dim": 32}

# every convention tied and untied, except that pytorch-head's untied model is pytorch's
MODELS = [(name, tied) for name in CONVENTIONS for tied in (True, False)
          if not (name == "pytorch-head" and not tied)]


def label(name: str, tied: bool) -> str:
    return f"{name}, {'tied' if tied else 'untied'}"


def first_steps(data, name: str, tied: bool, seed: int, steps: int = FIRST_STEPS["steps"],
                dim: int = FIRST_STEPS["dim"]) -> tuple[np.ndarray, float]:
    """Train one model of section 2 for `steps` steps from seed `seed`: its training loss at
    every step, and its mean loss on `held_out_chunks` chunks of the test text (held out)."""
    s = FIRST_STEPS
    chunks = list(bptt_chunks(batchify(data.train, s["batch_size"]), s["bptt"]))[:steps]
    held_out = list(bptt_chunks(batchify(data.test, s["held_out_rows"]), s["bptt"]))
    torch.manual_seed(seed)
    model = TransformerLM(len(data.vocab), dim, tied, init=name, dropout=0.0)
    optimizer = torch.optim.Adam(model.parameters(), lr=s["lr"])
    losses = []
    for x, y in chunks:
        loss = F.cross_entropy(model(x)[0].flatten(0, 1), y.flatten())
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), s["clip"])
        optimizer.step()
        losses.append(loss.item())
    model.eval()
    with torch.no_grad():
        after = float(np.mean([F.cross_entropy(model(x)[0].flatten(0, 1), y.flatten()).item()
                               for x, y in held_out[:s["held_out_chunks"]]]))
    return np.array(losses), after
