"""How a bad command line ends, for every command of `python -m tying_utils` (notebooks 04-08):
`UsageError` carries one sentence, and `Parser` turns argparse's own complaints into one.

`cli.main` prints the sentence as one line, `error: …`, and returns exit status 2, without a
traceback. Nothing here imports PyTorch.
"""

from __future__ import annotations

import argparse

__all__ = ["UsageError", "Parser"]


class UsageError(Exception):
    """A bad command-line argument: the message is shown as it is, and the exit status is 2."""


class Parser(argparse.ArgumentParser):
    """An argparse parser whose errors are one line: what was wrong, and where --help is."""

    def error(self, message):  # one line instead of usage + message
        raise UsageError(f"{message} (see {self.prog} --help)")
