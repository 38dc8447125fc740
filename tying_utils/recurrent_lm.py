"""A small recurrent language model, tied or untied, and its parameter count.

Introduced in notebook 05 (language_model); trained by `lm_training.py`, which the `lm` command
and notebook 06 also use.

`RecurrentLM` is embedding → LSTM (or GRU) → linear head, the model of Zaremba et al. (2014) that
Press & Wolf (2017) tie.
"""

from __future__ import annotations

import torch
from torch import nn

from .checks import check_choice, check_dropout, check_wholes, renamed_keywords
from .options import CELL_GATES
from .tying import tie

__all__ = ["CELLS", "RecurrentLM", "lm_parameter_count", "size_matched_dim"]

# the module and its number of gates
CELLS = {"lstm": (nn.LSTM, CELL_GATES["lstm"]), "gru": (nn.GRU, CELL_GATES["gru"])}
INIT_RANGE = 0.1  # embedding and output weights start from U(-0.1, 0.1), as in Zaremba et al.


class RecurrentLM(nn.Module):
    """Embedding(V, dim) → dropout → LSTM or GRU (hidden) → dropout → Linear(hidden, V).

    `dim` is the embedding width d; `hidden` is the recurrent cell's own size, a separate setting
    (it may differ from `dim` only untied).
    Tied, the embedding and the head are one (V, dim) matrix, which needs hidden == dim
    (Press & Wolf 2017). Under one seed a tied and an untied model start with the same recurrent
    weights and the same head; the untied one also draws its own embedding. `emb=`, the old name
    of `dim`, is still accepted.
    """

    @renamed_keywords(emb="dim")
    def __init__(self, vocab: int, dim: int, hidden: int, tied: bool, cell: str = "lstm",
                 layers: int = 1, dropout: float = 0.2):
        super().__init__()
        check_wholes(vocab=vocab, dim=dim, hidden=hidden, layers=layers)
        check_choice("cell", cell, CELLS)
        check_dropout(dropout)
        if tied and dim != hidden:
            raise ValueError(f"tying needs the hidden size to equal the embedding size, got "
                             f"hidden {hidden} and embedding {dim}.")
        self.tied, self.cell = bool(tied), cell
        self.embedding = nn.Embedding(vocab, dim)
        self.rnn = CELLS[cell][0](dim, hidden, layers, batch_first=True,
                                  dropout=dropout if layers > 1 else 0.0)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, vocab)
        with torch.no_grad():
            self.head.weight.uniform_(-INIT_RANGE, INIT_RANGE)
            self.head.bias.zero_()
            if self.tied:
                tie(self.embedding, self.head)
            else:
                self.embedding.weight.uniform_(-INIT_RANGE, INIT_RANGE)

    def forward(self, tokens: torch.Tensor, state=None):
        """Logits `(batch, steps, V)` for `tokens` `(batch, steps)`, and the recurrent state."""
        output, state = self.rnn(self.drop(self.embedding(tokens)), state)
        return self.head(self.drop(output)), state

    def extra_repr(self) -> str:
        return f"tied={self.tied}"


@renamed_keywords(emb="dim")
def lm_parameter_count(vocab: int, dim: int, hidden: int, tied: bool, cell: str = "lstm",
                       layers: int = 1) -> int:
    """The unique parameters of a `RecurrentLM`, by formula (`emb=` still names `dim`).

    Embedding V·dim, head V·hidden + V (bias), and per recurrent layer `gates · (in·hidden +
    hidden·hidden + 2·hidden)` (PyTorch keeps two bias vectors). Tying removes V·dim.
    """
    gates = CELLS[cell][1]
    recurrent = sum(gates * (size_in * hidden + hidden * hidden + 2 * hidden)
                    for size_in in [dim] + [hidden] * (layers - 1))
    return (0 if tied else vocab * dim) + vocab * hidden + vocab + recurrent


def size_matched_dim(vocab: int, dim: int, cell: str = "lstm", layers: int = 1) -> int:
    """The size d (embedding = hidden = d) of the untied model whose parameter count is closest to
    that of the tied model with embedding = hidden = `dim`."""
    target = lm_parameter_count(vocab, dim, dim, True, cell, layers)
    return min(range(1, dim + 1),
               key=lambda d: abs(lm_parameter_count(vocab, d, d, False, cell, layers) - target))


_check_sizes = check_wholes  # its old name
