"""Peak memory of `python -m tying_utils audit` on a 1B-class folder whose head is a copy.

The folder has the shapes of Llama-3.2-1B's word embedding and head (128256 × 2048, bfloat16,
0.5 GB each) in one model.safetensors, the head an exact copy of the embedding, and a config.json
with that model's dimensions that says tie_word_embeddings=true: a tie lost by copying before
saving. The transformer blocks are left out of the file: audit reads only the two matrices (the
class is built on the meta device from config.json, which holds no values).

Measured: the peak resident memory (ru_maxrss) of the audit command on this folder, and of the
same command on a tiny folder of the same layout (the process's baseline: Python, torch,
transformers). The goal (issue 20) is at most 300 MB above the baseline. The large file is written
in pieces into a temporary folder and deleted afterwards.

    python benchmarks/audit_memory.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

VOCAB, WIDTH = 128256, 2048  # Llama-3.2-1B
GOAL_MB = 300
PIECE_ROWS = 8192


def write_folder(folder: Path, vocab: int, width: int) -> None:
    """config.json and a model.safetensors holding embedding, an equal head and the final norm,
    written piece by piece (safetensors' documented layout: 8-byte header length, JSON header,
    then the data)."""
    folder.mkdir()
    config = {"architectures": ["LlamaForCausalLM"], "model_type": "llama",
              "vocab_size": vocab, "hidden_size": width, "intermediate_size": 4 * width,
              "num_hidden_layers": 16, "num_attention_heads": 32, "num_key_value_heads": 8,
              "head_dim": 64, "max_position_embeddings": 131072, "tie_word_embeddings": True,
              "torch_dtype": "bfloat16", "rms_norm_eps": 1e-5}
    if width < 64:
        config.update(num_attention_heads=2, num_key_value_heads=2, head_dim=width // 2)
    (folder / "config.json").write_text(json.dumps(config))
    matrix_bytes = vocab * width * 2
    header = {
        "model.embed_tokens.weight": {"dtype": "BF16", "shape": [vocab, width],
                                      "data_offsets": [0, matrix_bytes]},
        "lm_head.weight": {"dtype": "BF16", "shape": [vocab, width],
                           "data_offsets": [matrix_bytes, 2 * matrix_bytes]},
        "model.norm.weight": {"dtype": "BF16", "shape": [width],
                              "data_offsets": [2 * matrix_bytes, 2 * matrix_bytes + 2 * width]},
    }
    encoded = json.dumps(header).encode()
    encoded += b" " * (-len(encoded) % 8)
    with open(folder / "model.safetensors", "wb") as out:
        out.write(len(encoded).to_bytes(8, "little") + encoded)
        for _copy in range(2):  # the embedding, then the head: the same pieces again
            generator = torch.Generator().manual_seed(0)
            for start in range(0, vocab, PIECE_ROWS):
                rows = min(PIECE_ROWS, vocab - start)
                piece = torch.randn(rows, width, generator=generator) * 0.02
                out.write(piece.to(torch.bfloat16).view(torch.uint8).numpy().tobytes())
        out.write(torch.ones(width, dtype=torch.bfloat16).view(torch.uint8).numpy().tobytes())


MEASURE = ("import resource, subprocess, sys, time; start = time.perf_counter(); "
           "run = subprocess.run([sys.executable, '-m', 'tying_utils', 'audit', sys.argv[1]], "
           "capture_output=True, text=True); "
           "print(run.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, "
           "time.perf_counter() - start); print(run.stdout, end='')")


def peak(folder: Path) -> tuple[int, float, float, str]:
    """(exit status, peak resident MB, seconds, the report) of one audit command."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", MEASURE, str(folder)], capture_output=True,
                         text=True, env=env, check=True).stdout
    first, _, report = out.partition("\n")
    status, kilobytes, seconds = first.split()
    return int(status), int(kilobytes) / 1024, float(seconds), report


def main() -> int:
    with tempfile.TemporaryDirectory() as temporary:
        tiny, large = Path(temporary) / "tiny", Path(temporary) / "llama-1b-copied-head"
        write_folder(tiny, 96, 16)
        start = time.perf_counter()
        write_folder(large, VOCAB, WIDTH)
        size = (large / "model.safetensors").stat().st_size / 2**30
        print(f"wrote {size:.2f} GiB in {time.perf_counter() - start:.0f} s")
        base_status, base_mb, base_s, _ = peak(tiny)
        status, mb, seconds, report = peak(large)
    print(report, end="")
    print(f"baseline (tiny folder): peak {base_mb:.0f} MB, {base_s:.1f} s, exit {base_status}")
    print(f"1B-class copied head:   peak {mb:.0f} MB, {seconds:.1f} s, exit {status}")
    above = mb - base_mb
    print(f"above baseline: {above:.0f} MB (goal: at most {GOAL_MB} MB)")
    found_lost_tie = status == 1 and "lost_tie" in report
    print("the copy was found (lost_tie, exit 1)" if found_lost_tie else "the copy was NOT found")
    return 0 if above <= GOAL_MB and found_lost_tie else 1


if __name__ == "__main__":
    sys.exit(main())
