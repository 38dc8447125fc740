"""How fast does notebook 06's Transformer train on the CPU, on one thread and on two?

    python benchmarks/transformer.py [--widths 16 64 128] [--steps 40] [--repeats 3]

Times the training step `train_lm` runs (forward, cross-entropy, backward, gradient clipping,
Adam) on batches of the `sweep` command's shape (20 rows × 35 tokens of the pydoc corpus, a
vocabulary of 1000, 2 blocks, 2 heads, the Vaswani convention), tied and untied, for each width,
with 1 and with 2 threads. It prints training tokens per second (the median over the repeats, each
of `--steps` steps after 5 untimed ones), and the CPU seconds one epoch of the training split
takes, from which the sweep's time can be estimated. On a busy machine the numbers fall: run it
alone.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

import torch
import torch.nn.functional as F

from tying_utils.corpus import batchify, bptt_chunks, load_corpus, prepare
from tying_utils.transformer import TransformerLM

BATCH, BPTT, VOCAB = 20, 35, 1000


def tokens_per_second(model, chunks, steps: int, repeats: int) -> float:
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)

    def step(inputs, targets):
        loss = F.cross_entropy(model(inputs)[0].flatten(0, 1), targets.flatten())
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()

    for inputs, targets in chunks[:5]:  # warm-up, untimed
        step(inputs, targets)
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        for inputs, targets in chunks[5 : 5 + steps]:
            step(inputs, targets)
        rates.append(steps * BATCH * BPTT / (time.perf_counter() - start))
    return statistics.median(rates)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", type=int, nargs="+", default=[16, 64, 128])
    parser.add_argument("--steps", type=int, default=40, help="timed steps per repeat")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    data = prepare(load_corpus("pydoc"), VOCAB)
    chunks = list(bptt_chunks(batchify(data.train, BATCH), BPTT))
    epoch_tokens = (len(chunks)) * BATCH * BPTT
    print(f"Python {sys.version.split()[0]}, torch {torch.__version__}, {platform.machine()}, "
          f"{os.cpu_count()} CPUs; batch {BATCH} × {BPTT} tokens, vocabulary {VOCAB}, "
          f"{len(chunks)} steps per epoch")
    print(f"{'width':>5} {'variant':>7} {'1 thread':>16} {'2 threads':>16} {'speed-up':>9}"
          f" {'epoch, 1 thread':>16}")
    for width in args.widths:
        for tied in (True, False):
            rates = {}
            for threads in (1, 2):
                torch.set_num_threads(threads)
                torch.manual_seed(0)
                model = TransformerLM(VOCAB, width, tied, init="vaswani")
                rates[threads] = tokens_per_second(model, chunks, args.steps, args.repeats)
            print(f"{width:>5} {'tied' if tied else 'untied':>7} {rates[1]:>10,.0f} tok/s "
                  f"{rates[2]:>10,.0f} tok/s {rates[2] / rates[1]:>8.2f}× "
                  f"{epoch_tokens / rates[1]:>14.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
