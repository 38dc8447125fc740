"""Checkers for the "Check yourself" exercises at the end of every notebook.

Used by the "Check yourself" section of every notebook (01–09). An exercise cell holds the
placeholder `...` until the reader answers it:

    your_answer = ...  # replace ... with your answer
    _ = check_linear_weight_shape(your_answer)

Each checker prints one verdict and returns True or False, so Run All runs top to bottom. The
verdict starts with a word, so it reads right where the emoji shows as a box, and is wrapped to at
most 100 columns (`WIDTH`), so JupyterLab does not wrap it mid-word:

- "⏳ Not answered yet: …" (the constant `NOT_ANSWERED`) while the answer is still `...`, or, where
  the answer is a function, while that function still returns `...`;
- "✅ Right: " and why the answer is right;
- "❌ Not yet: " and a hint that names the mistake, not just "wrong".

`core.py` holds what every checker shares (the verdict lines, the `exercise_checker` decorator,
`call_answer` and the helpers that read an answer; its docstring shows how to write a checker);
`nb01.py` … `nb09.py` hold each notebook's checkers, and tests/exercises/test_nb01.py … hold
each checker to its hints. Every name is re-exported here, so a notebook imports
`from tying_utils.exercises import check_…`.
"""

# The core's private helpers (noqa: F401) are re-exported too, for checker modules that import
# them from here (`from .exercises import _verdict`).
from .core import (
    NOT_ANSWERED,
    NOT_YET,
    RIGHT,
    WIDTH,
    _AnswerRaised,  # noqa: F401
    _as_int_tuple,  # noqa: F401
    _as_number,  # noqa: F401
    _as_number_list,  # noqa: F401
    _as_whole_number,  # noqa: F401
    _holds_placeholder,  # noqa: F401
    _NotAnswered,  # noqa: F401
    _one_line,  # noqa: F401
    _real_budget,  # noqa: F401
    _verdict,  # noqa: F401
    call_answer,
    exercise_checker,
    wrapped,
)
from .nb01 import (
    LOGITS_HIDDEN,
    LOGITS_WEIGHT,
    check_linear_weight_shape,
    check_logits,
    check_tie_partner,
)
from .nb02 import (
    TIE_OPERATIONS,
    check_parameter_count,
    check_tie_survivors,
    check_tied_names,
    tying_puzzle,
)
from .nb03 import (
    PAIR_DIM,
    PAIR_SEED,
    PAIR_VOCAB,
    check_blog_heads,
    check_paired_models,
    check_softmax_mse_gradient,
)
from .nb04 import check_fraction_tied_faster, check_matched_config, check_where_tying_hurts
from .nb05 import check_rows_changed, check_tied_lm_parameters, check_uniform_perplexity
from .nb06 import check_adam_bytes_saved, check_tied_logit_scale, check_tying_saving
from .nb07 import check_copied_head_count, check_decay_groups, check_quantized_head_bytes
from .nb08 import check_dcp_names, check_pipeline_sync
from .nb09 import check_gguf_head, check_int8_head_bytes, check_onnx_copy_bytes

__all__ = [
    # the core
    "NOT_ANSWERED", "RIGHT", "NOT_YET", "WIDTH", "wrapped", "exercise_checker", "call_answer",
    # 01
    "check_linear_weight_shape", "check_tie_partner", "check_logits", "LOGITS_HIDDEN",
    "LOGITS_WEIGHT",
    # 02
    "tying_puzzle", "check_tied_names", "check_parameter_count", "TIE_OPERATIONS",
    "check_tie_survivors",
    # 03
    "check_blog_heads", "check_softmax_mse_gradient", "PAIR_VOCAB", "PAIR_DIM", "PAIR_SEED",
    "check_paired_models",
    # 04
    "check_fraction_tied_faster", "check_where_tying_hurts", "check_matched_config",
    # 05
    "check_tied_lm_parameters", "check_uniform_perplexity", "check_rows_changed",
    # 06
    "check_tying_saving", "check_tied_logit_scale", "check_adam_bytes_saved",
    # 07
    "check_copied_head_count", "check_decay_groups", "check_quantized_head_bytes",
    # 08
    "check_pipeline_sync", "check_dcp_names",
    # 09
    "check_onnx_copy_bytes", "check_int8_head_bytes", "check_gguf_head",
]

# --- the checkers of later notebooks ------------------------------------------------------------
# A new notebook's checkers go into their own module, nbNN.py (from .core import ...), and are
# re-exported here: one import line per notebook below, and its names added to __all__, e.g.
#     from .nb10 import check_something  # noqa: E402
#     __all__ += ["check_something"]
