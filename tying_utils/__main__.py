"""`python -m tying_utils …` runs the command line, `cli.main` (the cli/ package)."""

import sys

from .cli import main

sys.exit(main())
