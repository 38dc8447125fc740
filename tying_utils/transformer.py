"""A small decoder-only Transformer language model, tied or untied, and its parameter count.

Introduced in notebook 06 (transformer); trained by `lm_training.py` (`LMConfig(arch=
"transformer")`), which the `lm --arch transformer` and `sweep` commands use too.

`TransformerLM` is GPT-2's shape at toy size (Radford et al. 2019): token embedding + learned
position embedding → `layers` pre-LayerNorm blocks (causal self-attention, then an MLP, each
added to the residual stream) → a final LayerNorm → a linear head without bias. Tied, the token
embedding and the head are one (V, d) matrix.

One matrix that is both the input and the output has to serve two scales, so every tied model
follows a *convention* (`CONVENTIONS`): how the matrix is drawn, and by what the input and the
output are multiplied. Notebook 06 measures what each one does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .checks import check_choice, check_dropout, check_heads, check_wholes

__all__ = ["CONVENTIONS", "Convention", "TransformerLM", "transformer_parameter_count",
           "size_matched_dim", "size_matched_width", "check_transformer_sizes"]

STD = 0.02  # GPT-2's initializer_range: every other weight starts from N(0, 0.02²)


@dataclass(frozen=True)
class Convention:
    """How the token matrix is drawn and scaled. `embedding` and `head` say how an untied model
    draws each matrix ("normal:STD" with STD a number or "1/sqrt(d)", or "uniform:1/sqrt(d)");
    a tied model keeps the draw named by `tied_keeps`. The input embedding is multiplied by
    `input_scale` and the head's input by `output_scale` (both may depend on d)."""

    embedding: str
    head: str
    input_scale: str  # "1" or "sqrt(d)"
    output_scale: str  # "1" or "1/sqrt(d)"
    tied_keeps: str  # "embedding" or "head"
    source: str

    def scales(self, dim: int) -> tuple[float, float]:
        return _factor(self.input_scale, dim), _factor(self.output_scale, dim)


CONVENTIONS = {
    "gpt2": Convention("normal:0.02", "normal:0.02", "1", "1", "embedding",
                       "GPT-2 (Radford et al. 2019): N(0, 0.02²), no scaling"),
    "vaswani": Convention("normal:1/sqrt(d)", "normal:1/sqrt(d)", "sqrt(d)", "1", "embedding",
                          "Vaswani et al. 2017: the embedding is multiplied by sqrt(d) "
                          "(drawn from N(0, 1/d) as in tensor2tensor)"),
    "t5": Convention("normal:1", "normal:1", "1", "1/sqrt(d)", "embedding",
                     "T5 (Raffel et al. 2020): N(0, 1), the head's input multiplied by "
                     "1/sqrt(d)"),
    "pytorch": Convention("normal:1", "uniform:1/sqrt(d)", "1", "1", "embedding",
                          "PyTorch's defaults, N(0, 1) embedding and U(±1/sqrt(d)) head; tied "
                          "keeps the embedding's values (head.weight = embedding.weight)"),
    "pytorch-head": Convention("normal:1", "uniform:1/sqrt(d)", "1", "1", "head",
                               "PyTorch's defaults; tied keeps the head's values "
                               "(embedding.weight = head.weight, as tying_utils.tie does)"),
}


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention in which position t sees positions 0..t only."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)  # queries, keys and values in one matrix product
        self.out = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, steps, dim = x.shape
        q, k, v = self.qkv(x).view(batch, steps, 3, self.heads, dim // self.heads).unbind(2)
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))  # (batch, heads, steps, head size)
        mixed = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.out(mixed.transpose(1, 2).reshape(batch, steps, dim))


class Block(nn.Module):
    """x + attention(LayerNorm(x)), then x + MLP(LayerNorm(x)): the pre-LayerNorm block of GPT-2,
    which trains without a learning-rate warm-up (Xiong et al. 2020)."""

    def __init__(self, dim: int, heads: int, mlp_ratio: int, dropout: float):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attention = CausalSelfAttention(dim, heads)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp_ratio * dim), nn.GELU(),
                                 nn.Linear(mlp_ratio * dim, dim))
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop(self.attention(self.norm1(x)))
        return x + self.drop(self.mlp(self.norm2(x)))


class TransformerLM(nn.Module):
    """Embedding(V, d) · input scale + positions → blocks → LayerNorm → · output scale →
    Linear(d, V, bias=False).

    `context` is the longest input it reads (learned positions 0..context-1). `forward(tokens,
    state=None)` returns `(logits, None)`: it keeps the recurrent model's signature so that
    `perplexity` and the trainer treat both alike, but a Transformer carries no state from one
    chunk to the next: each chunk is its whole context.

    Under one seed a tied and an untied model start with the same blocks and positions and draw
    the same two token matrices; the tied one keeps the draw its convention names.
    """

    def __init__(self, vocab: int, dim: int, tied: bool, layers: int = 2, heads: int = 2,
                 context: int = 35, init: str = "gpt2", dropout: float = 0.2,
                 mlp_ratio: int = 4):
        super().__init__()
        check_transformer_sizes(vocab=vocab, dim=dim, layers=layers, heads=heads,
                                context=context, mlp_ratio=mlp_ratio)
        check_choice("init", init, CONVENTIONS)
        check_dropout(dropout)
        self.tied, self.init, self.context = bool(tied), init, context
        self.input_scale, self.output_scale = CONVENTIONS[init].scales(dim)
        self.embedding = nn.Embedding(vocab, dim)
        self.position = nn.Embedding(context, dim)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(Block(dim, heads, mlp_ratio, dropout) for _ in range(layers))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, vocab, bias=False)
        self._initialise(layers)

    @torch.no_grad()
    def _initialise(self, layers: int) -> None:
        for name, p in self.blocks.named_parameters():
            if name.endswith("bias"):
                p.zero_()
            elif p.dim() == 2:  # (LayerNorm weights keep their 1s)
                # GPT-2 divides the spread of the two projections that write into the residual
                # stream (attention's `out`, the MLP's last layer) by sqrt(2 · layers).
                writes_residual = name.endswith(("out.weight", "mlp.2.weight"))
                p.normal_(0, STD / math.sqrt(2 * layers) if writes_residual else STD)
        self.position.weight.normal_(0, STD)
        convention = CONVENTIONS[self.init]
        dim = self.embedding.embedding_dim
        # Both matrices are drawn, in this order, tied or not: one seed, the same numbers.
        head = _draw(self.head.weight, convention.head, dim)
        embedding = _draw(self.embedding.weight, convention.embedding, dim)
        if self.tied:
            keep = embedding if convention.tied_keeps == "embedding" else head
            self.head.weight.copy_(keep)
            self.embedding.weight = self.head.weight  # one Parameter, two names
        else:
            self.head.weight.copy_(head)
            self.embedding.weight.copy_(embedding)

    def residual_stream(self, tokens: torch.Tensor) -> torch.Tensor:
        """The first residual stream (batch, steps, d): scaled token embedding + position."""
        if tokens.shape[1] > self.context:
            raise ValueError(f"this model reads at most {self.context} tokens at a time, got "
                             f"{tokens.shape[1]}.")
        positions = torch.arange(tokens.shape[1], device=tokens.device)
        return self.embedding(tokens) * self.input_scale + self.position(positions)

    def forward(self, tokens: torch.Tensor, state=None):
        """Logits `(batch, steps, V)` for `tokens` `(batch, steps)`, and None (no state)."""
        x = self.drop(self.residual_stream(tokens))
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x) * self.output_scale), None

    def extra_repr(self) -> str:
        return f"tied={self.tied}, init={self.init!r}"


def transformer_parameter_count(vocab: int, dim: int, tied: bool, layers: int = 2,
                                context: int = 35, mlp_ratio: int = 4) -> int:
    """The unique parameters of a `TransformerLM`, by formula (the number of heads does not
    change it).

    Token embedding V·d (once when tied), head V·d (no bias), positions context·d, a final
    LayerNorm 2d, and per block: two LayerNorms 4d, attention 4d² + 4d (queries, keys, values and
    the output projection, with biases), MLP 2·r·d² + r·d + d (r = `mlp_ratio`).
    """
    block = 4 * dim + (4 * dim * dim + 4 * dim) + (2 * mlp_ratio * dim * dim + mlp_ratio * dim
                                                   + dim)
    return (1 if tied else 2) * vocab * dim + context * dim + layers * block + 2 * dim


def size_matched_dim(vocab: int, dim: int, layers: int = 2, heads: int = 2, context: int = 35,
                     mlp_ratio: int = 4) -> int:
    """The width d' (a multiple of `heads`, at most `dim`) of the untied model whose parameter
    count is closest to that of the tied model of width `dim`."""
    target = transformer_parameter_count(vocab, dim, True, layers, context, mlp_ratio)
    count = lambda d: transformer_parameter_count(vocab, d, False, layers, context, mlp_ratio)
    return min(range(heads, dim + 1, heads), key=lambda d: abs(count(d) - target))


size_matched_width = size_matched_dim  # its old name (recurrent_lm.py's is size_matched_dim too)


def check_transformer_sizes(**sizes) -> None:
    """ValueError naming the first size that is not a whole number >= 1, or a width that the
    number of heads does not divide (checks.py's `check_wholes` and `check_heads`)."""
    check_wholes(**sizes)
    if "dim" in sizes and "heads" in sizes:
        check_heads(sizes["dim"], sizes["heads"], name="the number of heads")


def _factor(text: str, dim: int) -> float:
    return {"1": 1.0, "sqrt(d)": math.sqrt(dim), "1/sqrt(d)": 1 / math.sqrt(dim)}[text]


def _draw(like: torch.Tensor, rule: str, dim: int) -> torch.Tensor:
    kind, _, size = rule.partition(":")
    size = 1 / math.sqrt(dim) if size == "1/sqrt(d)" else float(size)
    if kind == "normal":
        return torch.empty_like(like).normal_(0, size)
    return torch.empty_like(like).uniform_(-size, size)
