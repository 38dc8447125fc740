"""tying_utils: the helper package of the weight-tying notebook course.

Each module's docstring names the notebook that introduces it. Data flows one way:
tasks → train → stats → plots / explorer / command line; `tying` and `models` need nothing else.
"""

from .explorer import Explorer
from .lm import LMConfig, RecurrentLM, compare_variants, load_corpus, perplexity, prepare, train_lm
from .models import EmbedHead, SeedTied, SeedUntied
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
from .tying import ParameterCount, assert_tied, count_parameters, tie, tied_groups, untie

__version__ = "0.1.0"
