"""tying_utils: the helper package of the weight-tying notebook course.

Each module's docstring names the notebook that introduces it. Data flows one way:
tasks → train → stats → plots / explorer / command line, and corpus → recurrent_lm, transformer →
lm_training → notebooks / command line; `tying` and `toy_models` need nothing else of the package
but `checks`, and no library module imports the command line (`cli`).

`import tying_utils` imports the public names below (and so PyTorch). The command line,
`python -m tying_utils`, does not: it imports only what its command needs, so `--help` answers
without loading PyTorch. Any public name not yet imported is imported when first used.
"""

import importlib
import sys

# public name → the module that defines it
_PUBLIC = {
    "AuditReport": "audit", "Finding": "audit", "audit": "audit", "audit_checkpoint": "audit",
    "ParameterBudget": "budget", "parameter_budget": "budget",
    "load_corpus": "corpus", "prepare": "corpus",
    "ReplicaReport": "replicas", "check_replicas": "replicas",  # notebook 08
    "Explorer": "explorer_widget", "explorer": "explorer_widget",  # explorer(): notebook 04
    "RecurrentLM": "recurrent_lm",
    "LMConfig": "lm_training", "compare_variants": "lm_training", "perplexity": "lm_training",
    "run_sweep": "lm_training", "train_lm": "lm_training",
    "EmbedHead": "toy_models", "SeedTied": "toy_models", "SeedUntied": "toy_models",
    "set_threads": "runtime",
    "PairedSummary": "stats", "area_under_curve": "stats", "bootstrap_ci": "stats",
    "compare_curves": "stats", "default_threshold": "stats", "final_loss": "stats",
    "steps_to_threshold": "stats", "uniform_guess_loss": "stats",
    "TASKS": "tasks", "make_batch": "tasks",
    "LIMITS": "train", "ManyRun": "train", "PairRun": "train", "RunConfig": "train",
    "build_model": "train", "train_many": "train", "train_pair": "train",
    "TransformerLM": "transformer",
    "ParameterCount": "tying", "SharedGroup": "tying", "assert_tied": "tying",
    "count_parameters": "tying", "shared_memory_groups": "tying",
    "shared_tensor_groups": "tying", "tie": "tying", "tied_groups": "tying", "untie": "tying",
}
__all__ = sorted(_PUBLIC)
__version__ = "0.1.0"


def __getattr__(name: str):
    if name not in _PUBLIC:
        raise AttributeError(f"module 'tying_utils' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_PUBLIC[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted({*globals(), *_PUBLIC})


# While `python -m tying_utils` locates its module, sys.argv[0] is "-m" (Python's documented
# behaviour): the command line then imports what it needs itself. Everywhere else every public
# name is imported now, as a notebook expects (and so `tying_utils.audit` is the function, not
# the module of the same name).
if sys.argv[:1] != ["-m"]:
    for _name in __all__:
        __getattr__(_name)
    del _name
    # `tying_utils.explorer` is the function; the widget's module, once tying_utils/explorer.py,
    # is explorer_widget.py. Its old path still imports (`from tying_utils.explorer import
    # explorer`, as notebook 04 writes, or `... import Explorer`): the name points at the module.
    sys.modules[f"{__name__}.explorer"] = sys.modules[f"{__name__}.explorer_widget"]
