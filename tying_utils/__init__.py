"""tying_utils: the helper package of the weight-tying notebook course.

Each module's docstring names the notebook that introduces it. Data flows one way:
tasks → train → stats → plots / explorer / command line, and corpus → models → lm_training →
notebooks / command line; `tying` and `models` need nothing else, and no library module imports
the command line (`cli`).
"""

from .audit import AuditReport, Finding, audit, audit_checkpoint
from .budget import ParameterBudget, parameter_budget
from .corpus import load_corpus, prepare
from .distributed import ReplicaReport, check_replicas  # notebook 08
from .explorer import Explorer  # and tying_utils.explorer, a callable module: explorer()
from .lm import RecurrentLM
from .lm_training import LMConfig, compare_variants, perplexity, run_sweep, train_lm
from .models import EmbedHead, SeedTied, SeedUntied
from .runtime import set_threads
from .stats import (
    PairedSummary,
    area_under_curve,
    bootstrap_ci,
    compare_curves,
    default_threshold,
    final_loss,
    steps_to_threshold,
    uniform_guess_loss,
)
from .tasks import TASKS, make_batch
from .train import LIMITS, ManyRun, PairRun, RunConfig, build_model, train_many, train_pair
from .transformer import TransformerLM
from .tying import (
    ParameterCount,
    SharedGroup,
    assert_tied,
    count_parameters,
    shared_memory_groups,
    shared_tensor_groups,
    tie,
    tied_groups,
    untie,
)

__version__ = "0.1.0"
