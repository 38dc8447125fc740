"""Old name of toy_models.py (the blog's models and EmbedHead, notebooks 02–04), for old imports."""
from .toy_models import *  # noqa: F401,F403
from .toy_models import EmbedHead, SeedTied, SeedUntied  # noqa: F401
