"""The names, defaults and limits that the command line offers, in a module that imports nothing
heavy (no PyTorch), so that `python -m tying_utils --help` and `… COMMAND --help` answer at once.

The modules that implement these choices import them from here, so each is written once:
tasks.py (`TASKS`), train.py (`LOSSES`, `INITS`, `LIMITS`), recurrent_lm.py (`CELL_GATES`),
transformer.py (`CONVENTION_NAMES`), lm_training.py and architectures.py (`ARCHS`, `ARCH_DEFAULTS`,
`LM_DEFAULTS`, `EVAL_BATCH`), the explorer (`EXPLORER_RANGES`) and the command line (`TOY_RANGES`,
`LM_RANGES`, `LM_REAL_RANGES`). Every range is plain numbers: a whole-number one is
`(lowest, highest)`, both allowed, and `check_whole` and its family (checks.py) hold a value to it;
a real-number one (`LM_REAL_RANGES`) also says which ends are allowed. Notebooks 02-09 meet them
through those modules.
"""

from __future__ import annotations

from types import SimpleNamespace

# The toy experiment (notebooks 03-04, the `compare` command): tasks.py and train.py.
TASKS = ("identity", "shift", "permutation", "cycle", "path")
LOSSES = ("mse", "ce")
INITS = ("default", "matched")  # how the untied embedding starts: its own init, or the head
INIT_ALIASES = {"seed": "default"}  # the name "default" had before (still accepted)
# What a run may ask for. The limits keep one run within a few GB and a few minutes on a laptop.
TOY_RANGES = {"vocab": (2, 5000), "dim": (1, 512), "steps": (1, 100_000), "seeds": (1, 20_000)}
TOY_MEMORY_LIMIT = 4_000_000_000  # bytes
# The highest of each (and the memory limit), as train.py has always offered them.
LIMITS = {**{name: high for name, (_, high) in TOY_RANGES.items()}, "bytes": TOY_MEMORY_LIMIT}
# The explorer of notebook 04 allows less than `TOY_RANGES`, so that one click gives an answer in
# seconds, not minutes: the same lowest values, smaller highest ones.
EXPLORER_RANGES = {name: (TOY_RANGES[name][0], high) for name, high in
                   (("vocab", 1000), ("dim", 256), ("steps", 20_000), ("seeds", 2000))}

# The language models (notebooks 05-06, the `lm` and `sweep` commands).
CELL_GATES = {"lstm": 4, "gru": 3}  # the recurrent cells recurrent_lm.py builds, and their gates
CONVENTION_NAMES = ("gpt2", "vaswani", "t5", "pytorch", "pytorch-head")  # transformer.py's
ARCHS = ("lstm", "transformer")
# What `None` means for `layers`, `lr` and `clip`, per architecture. The LSTM's are those of
# PyTorch's word_language_model example (plain SGD); the Transformer trains with Adam, whose
# step does not grow with the gradient, so its learning rate is a few thousand times smaller.
ARCH_DEFAULTS = {"lstm": {"layers": 1, "lr": 20.0, "clip": 0.25},
                 "transformer": {"layers": 2, "lr": 3e-3, "clip": 1.0}}
# LMConfig's other defaults: those of the `lm` command (lm_training.LMConfig explains them).
LM_DEFAULTS = {"dim": 64, "hidden": 64, "cell": "lstm", "dropout": 0.2, "bptt": 35,
               "batch_size": 20, "epochs": 6, "arch": "lstm", "heads": 2, "init": "gpt2"}
EVAL_BATCH = 10  # rows of text read side by side when measuring perplexity
# What one `lm` or `sweep` option may be: generous enough for a Penn-Treebank-sized model (a
# vocabulary of 10,000, 650 units, 2 layers, 40 epochs); the memory estimate (lm_memory.py) then
# checks the run as a whole. `width` is the sweep's `--widths`, `heads` the Transformer's.
LM_RANGES = {"seeds": (1, 100), "epochs": (1, 1000), "dim": (1, 4096), "vocab_cap": (2, 1_000_000),
             "layers": (1, 16), "bptt": (1, 4096), "batch_size": (1, 4096), "threads": (1, 1024),
             "heads": (1, 256), "width": (1, 4096)}
# The options that take any number in a range: (low, high) and which ends are allowed, written
# as an interval: "(]" excludes low and allows high, "[)" allows low and excludes high.
LM_REAL_RANGES = {"dropout": (0.0, 1.0, "[)"), "lr": (0.0, 1000.0, "(]"),
                  "clip": (0.0, 1000.0, "(]")}


def lm_defaults(arch: str = "lstm") -> SimpleNamespace:
    """The values `LMConfig(arch=arch)` takes by default, without building one."""
    return SimpleNamespace(**{**LM_DEFAULTS, "arch": arch, **ARCH_DEFAULTS[arch]})
