"""How much memory a language-model run needs, from numbers alone (no PyTorch, no command line).

The `lm` and `sweep` commands (notebooks 05 and 06) refuse a run whose estimate is over
`LM_MEMORY_LIMIT` before it trains; architectures.py gives each architecture's sizes to
`memory_parts`. Every estimate counts float32 numbers (4 bytes each):

- "the parameters": the largest variant's (untied) weights and their gradients, and as much
  again twice over for the work of backpropagation, clipping and the optimizer (6 copies; for
  Adam: weights, gradients, two moments, and the work of backpropagation and clipping);
- "the activations": what backpropagation keeps for one chunk of batch × bptt tokens
  (`recurrent_activations`, `transformer_activations`: per token), and as much again for their
  gradients;
- "the logits": rows × bptt × vocabulary, four copies (the logits, their log-softmax and the
  gradient of each), with rows the batch size but at least the `EVAL_BATCH` rows perplexity reads;
- "the trained models": `compare_variants` keeps all three models of every seed (the size-matched
  one about as large as the tied one).
"""

from __future__ import annotations

from .options import EVAL_BATCH

__all__ = ["LM_MEMORY_LIMIT", "MEMORY_ADVICE", "BYTES_PER_NUMBER", "memory_parts",
           "recurrent_activations", "transformer_activations", "memory_problem"]

LM_MEMORY_LIMIT = 8_000_000_000  # bytes: what a laptop with 16 GB can give one run
BYTES_PER_NUMBER = 4  # float32
# What to give instead when one part is the largest (the `lm` and `sweep` options' names).
MEMORY_ADVICE = {
    "the parameters": "give a smaller --dim, --vocab-cap or --layers",
    "the activations": "give a smaller --batch-size, --bptt, --dim or --layers",
    "the logits": "give a smaller --batch-size, --bptt or --vocab-cap",
    "the trained models": "give fewer --seeds, or a smaller --dim or --vocab-cap",
}


def recurrent_activations(dim: int, hidden: int, layers: int, gates: int) -> int:
    """Numbers kept per token by a recurrent model: the embedding and its dropout mask
    (2 · dim), per layer the gates and the cell's states ((gates + 3) · hidden), the output and
    its dropout mask (2 · hidden)."""
    return 2 * dim + layers * (gates + 3) * hidden + 2 * hidden


def transformer_activations(dim: int, layers: int, heads: int, bptt: int) -> int:
    """Numbers kept per token by a Transformer (width d): 3d outside the blocks, and per block
    two LayerNorms' inputs and outputs (4d), queries, keys and values (3d), the attention's
    output and projection (2d), the MLP's hidden layer before and after GELU (8d), its output
    (d) and two dropout masks (2d), plus one attention weight per head and earlier token
    (heads · bptt)."""
    return 3 * dim + layers * (20 * dim + heads * bptt)


def memory_parts(*, vocab: int, tied_parameters: int, untied_parameters: int,
                 activations_per_token: int, batch_size: int, bptt: int,
                 seeds: int) -> dict[str, int]:
    """The bytes of a run's four parts (see the module's docstring), from the parameter counts of
    the tied and untied models, the activations kept per token, and the run's sizes."""
    rows = max(batch_size, EVAL_BATCH)
    numbers = {
        "the parameters": 6 * untied_parameters,
        "the activations": 2 * batch_size * bptt * activations_per_token,
        "the logits": 4 * rows * bptt * vocab,
        "the trained models": seeds * (2 * tied_parameters + untied_parameters),
    }
    return {part: BYTES_PER_NUMBER * count for part, count in numbers.items()}


def memory_problem(parts: dict[str, int], limit: int = LM_MEMORY_LIMIT) -> str | None:
    """None when the parts together fit under `limit`, else the one sentence that says by how
    much they do not, which part is the largest, and what to give instead."""
    needed = sum(parts.values())
    if needed <= limit:
        return None
    largest = max(parts, key=parts.get)
    return (f"this run would need about {needed / 1e9:.1f} GB of memory, over the "
            f"{limit / 1e9:.0f} GB limit, most of it ({parts[largest] / 1e9:.1f} GB) "
            f"for {largest}: {MEMORY_ADVICE[largest]}.")
