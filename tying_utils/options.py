"""The names, defaults and limits that the command line offers, in a module that imports nothing
heavy (no PyTorch), so that `python -m tying_utils --help` and `… COMMAND --help` answer at once.

The modules that implement these choices import them from here, so each is written once:
tasks.py (`TASKS`), train.py (`LOSSES`, `INITS`, `LIMITS`), lm.py (`CELL_GATES`), transformer.py
(`CONVENTION_NAMES`) and lm_training.py (`ARCHS`, `ARCH_DEFAULTS`, `LM_DEFAULTS`, `EVAL_BATCH`).
Notebooks 03-06 meet them through those modules.
"""

from __future__ import annotations

from types import SimpleNamespace

# The toy experiment (notebooks 03-04, the `compare` command): tasks.py and train.py.
TASKS = ("identity", "shift", "permutation", "cycle", "path")
LOSSES = ("mse", "ce")
INITS = ("default", "matched")  # how the untied embedding starts: its own init, or the head
INIT_ALIASES = {"seed": "default"}  # the name "default" had before (still accepted)
# What a run may ask for. The limits keep one run within a few GB and a few minutes on a laptop.
LIMITS = {"vocab": 5000, "dim": 512, "steps": 100_000, "seeds": 20_000, "bytes": 4_000_000_000}

# The language models (notebooks 05-06, the `lm` and `sweep` commands).
CELL_GATES = {"lstm": 4, "gru": 3}  # the recurrent cells lm.py builds, and their gates
CONVENTION_NAMES = ("gpt2", "vaswani", "t5", "pytorch", "pytorch-head")  # transformer.py's
ARCHS = ("lstm", "transformer")
# What `None` means for `layers`, `lr` and `clip`, per architecture. The LSTM's are those of
# PyTorch's word_language_model example (plain SGD); the Transformer trains with Adam, whose
# step does not grow with the gradient, so its learning rate is a few thousand times smaller.
ARCH_DEFAULTS = {"lstm": {"layers": 1, "lr": 20.0, "clip": 0.25},
                 "transformer": {"layers": 2, "lr": 3e-3, "clip": 1.0}}
# LMConfig's other defaults: those of the `lm` command (lm_training.LMConfig explains them).
LM_DEFAULTS = {"emb": 64, "hidden": 64, "cell": "lstm", "dropout": 0.2, "bptt": 35,
               "batch_size": 20, "epochs": 6, "arch": "lstm", "heads": 2, "init": "gpt2"}
EVAL_BATCH = 10  # rows of text read side by side when measuring perplexity


def lm_defaults(arch: str = "lstm") -> SimpleNamespace:
    """The values `LMConfig(arch=arch)` takes by default, without building one."""
    return SimpleNamespace(**{**LM_DEFAULTS, "arch": arch, **ARCH_DEFAULTS[arch]})
