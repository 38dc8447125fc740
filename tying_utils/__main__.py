"""`python -m tying_utils …` runs the command line in `cli.py`."""

import sys

from .cli import main

sys.exit(main())
