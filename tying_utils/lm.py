"""Old name of recurrent_lm.py (the recurrent language model, notebook 05), kept for old imports."""
from .recurrent_lm import *  # noqa: F401,F403
from .recurrent_lm import CELLS, INIT_RANGE, _check_sizes  # noqa: F401
