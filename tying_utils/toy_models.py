"""The blog's two models, faithfully, and a general embedding → head model.

Introduced in notebook 03 (paired_training); `EmbedHead` is used by notebooks 02 and 04 and by the
trainers in `train.py`.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import nn

from .checks import check_whole
from .tying import tie

__all__ = ["SeedUntied", "SeedTied", "EmbedHead"]


class SeedUntied(nn.Module):
    """The blog's `Model_1`: a 10-token embedding of size 3, a head back to 10 tokens, softmax out.

    The embedding and the head have separate weights.
    """

    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(10, 3)
        self.head = nn.Linear(3, 10)

    def forward(self, x):
        return F.softmax(self.head(self.embedding(x)), dim=-1)


class SeedTied(nn.Module):
    """The blog's `Model_2`: `Model_1` with `self.embedding.weight = self.head.weight`.

    The embedding's own N(0, 1) initialisation is replaced by the head's U(-1/√3, 1/√3) one.
    """

    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(10, 3)
        self.head = nn.Linear(3, 10)
        self.embedding.weight = self.head.weight

    def forward(self, x):
        return F.softmax(self.head(self.embedding(x)), dim=-1)


class EmbedHead(nn.Module):
    """`Embedding(vocab, dim)` then `Linear(dim, vocab)`, tied or not; returns logits.

    Built in the blog's order (embedding first, then head), so under one `torch.manual_seed` the
    tied and the untied model get the same head weight and bias: a paired comparison.
    """

    def __init__(self, vocab: int, dim: int, tied: bool, bias: bool = True):
        super().__init__()
        check_whole("vocab", vocab, owner="EmbedHead")
        check_whole("dim", dim, owner="EmbedHead")
        self.tied = bool(tied)
        self.embedding = nn.Embedding(vocab, dim)
        self.head = nn.Linear(dim, vocab, bias=bias)
        if self.tied:
            tie(self.embedding, self.head)

    def forward(self, x):
        return self.head(self.embedding(x))

    def extra_repr(self) -> str:
        return f"tied={self.tied}"
