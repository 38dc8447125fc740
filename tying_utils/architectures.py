"""One record per language-model architecture: everything the trainer and the command line need
to know about "lstm" and "transformer", in one place.

Notebook 05 (language_model) trains the recurrent model, notebook 06 (transformer) both; the
trainer (lm_training.py: `LMConfig`, `build_lm`, `size_matched_config`, `train_lm`) and the `lm`
and `sweep` commands read `ARCHITECTURES[config.arch]` instead of asking which architecture a run
uses. A record holds

- `defaults` and `ranges`: what `None` means for `layers`, `lr` and `clip`, and the sizes it reads
  with the `(lowest, highest)` each may be on the command line (options.py's plain numbers);
  `own_options`, the settings only this architecture reads;
- `build(config, vocab, tied)`: the model (recurrent_lm.py's `RecurrentLM`, transformer.py's
  `TransformerLM`); `parameter_count(config, vocab, tied)`: its unique parameters, by formula;
  `size_matched_dim(config, vocab)`: the width d of the untied model whose parameter count is
  closest to the tied one's;
- `optimizer(parameters, lr)`: plain SGD for the LSTM (Zaremba et al. 2014, PyTorch's
  word_language_model example), Adam for the Transformer;
- `memory_parts(config, vocab, seeds)`: the bytes a run needs, by part (lm_memory.py);
- `check(config)`: the checks only this architecture needs; `describe(config)`: one line.

This module imports no PyTorch, so that `python -m tying_utils --help` can read the defaults and
ranges; the functions that need a model's module import it when they are called.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from . import lm_memory
from .checks import check_choice, check_heads
from .options import ARCH_DEFAULTS, ARCHS, CELL_GATES, CONVENTION_NAMES, LM_RANGES

__all__ = ["Architecture", "ARCHITECTURES", "architecture"]


@dataclass(frozen=True)
class Architecture:
    """One language-model architecture: see the module's docstring. Each function takes an
    `LMConfig` (or anything with its attributes) and plain numbers."""

    name: str
    optimizer_name: str  # the class in torch.optim
    build: Callable = field(repr=False)
    parameter_count: Callable = field(repr=False)
    size_matched_dim: Callable = field(repr=False)
    activations_per_token: Callable = field(repr=False)  # lm_memory: numbers kept per token
    check: Callable = field(repr=False)
    describe: Callable = field(repr=False)
    sizes: tuple[str, ...] = ()  # the whole-number sizes it reads (their ranges: `ranges`)
    own_options: tuple[str, ...] = ()  # the settings no other architecture reads

    @property
    def defaults(self) -> dict:
        """What `None` means for `layers`, `lr` and `clip` (options.ARCH_DEFAULTS)."""
        return ARCH_DEFAULTS[self.name]

    @property
    def ranges(self) -> dict[str, tuple[int, int]]:
        """The `(lowest, highest)` the command line allows each size (options.LM_RANGES)."""
        return {name: LM_RANGES[name] for name in self.sizes}

    def optimizer(self, parameters, lr: float):
        """The optimizer this architecture trains with, over `parameters`."""
        import torch

        return getattr(torch.optim, self.optimizer_name)(parameters, lr=lr)

    def memory_parts(self, config, vocab: int, seeds: int) -> dict[str, int]:
        """The bytes a run of `seeds` seeds of the three variants needs, by part."""
        return lm_memory.memory_parts(
            vocab=vocab, tied_parameters=self.parameter_count(config, vocab, True),
            untied_parameters=self.parameter_count(config, vocab, False),
            activations_per_token=self.activations_per_token(config),
            batch_size=config.batch_size, bptt=config.bptt, seeds=seeds)


# --- the recurrent model (recurrent_lm.py), notebook 05 -------------------------------------------

def _build_recurrent(config, vocab: int, tied: bool):
    from .recurrent_lm import RecurrentLM

    return RecurrentLM(vocab, config.dim, config.hidden, tied, config.cell, config.layers,
                       config.dropout)


def _count_recurrent(config, vocab: int, tied: bool) -> int:
    from .recurrent_lm import lm_parameter_count

    return lm_parameter_count(vocab, config.dim, config.hidden, tied, config.cell, config.layers)


def _matched_recurrent(config, vocab: int) -> int:
    from .recurrent_lm import size_matched_dim

    return size_matched_dim(vocab, config.dim, config.cell, config.layers)


def _describe_recurrent(config) -> str:
    return (f"cell={config.cell} layers={config.layers} dropout={config.dropout:g} "
            f"bptt={config.bptt} batch={config.batch_size} lr={config.lr:g}")


# --- the Transformer (transformer.py), notebook 06 ------------------------------------------------

def _build_transformer(config, vocab: int, tied: bool):
    from .transformer import TransformerLM

    return TransformerLM(vocab, config.dim, tied, config.layers, config.heads, config.bptt,
                         config.init, config.dropout)


def _count_transformer(config, vocab: int, tied: bool) -> int:
    from .transformer import transformer_parameter_count

    return transformer_parameter_count(vocab, config.dim, tied, config.layers, config.bptt)


def _matched_transformer(config, vocab: int) -> int:
    from .transformer import size_matched_dim

    return size_matched_dim(vocab, config.dim, config.layers, config.heads, config.bptt)


def _check_transformer(config) -> None:
    if config.hidden != config.dim:
        raise ValueError(f"a Transformer has one width: hidden ({config.hidden}) must equal dim "
                         f"({config.dim}).")
    check_heads(config.dim, config.heads)
    check_choice("init", config.init, CONVENTION_NAMES)


def _describe_transformer(config) -> str:
    return (f"arch=transformer layers={config.layers} heads={config.heads} init={config.init} "
            f"dropout={config.dropout:g} context={config.bptt} batch={config.batch_size} "
            f"Adam lr={config.lr:g}")


ARCHITECTURES = {
    "lstm": Architecture(
        "lstm", "SGD", _build_recurrent, _count_recurrent, _matched_recurrent,
        lambda c: lm_memory.recurrent_activations(c.dim, c.hidden, c.layers, CELL_GATES[c.cell]),
        lambda c: None, _describe_recurrent,
        sizes=("dim", "layers", "bptt", "batch_size", "epochs"), own_options=("cell",)),
    "transformer": Architecture(
        "transformer", "Adam", _build_transformer, _count_transformer, _matched_transformer,
        lambda c: lm_memory.transformer_activations(c.dim, c.layers, c.heads, c.bptt),
        _check_transformer, _describe_transformer,
        sizes=("dim", "layers", "heads", "bptt", "batch_size", "epochs"),
        own_options=("heads", "init")),
}


def architecture(name: str) -> Architecture:
    """The record of `name`, or one sentence naming the architectures there are."""
    check_choice("arch", name, ARCHS)
    return ARCHITECTURES[name]
