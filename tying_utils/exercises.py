"""Checkers for the "Check yourself" exercises at the end of every notebook.

Used by notebooks 01–05. Each checker takes the reader's answer, prints a short verdict and
returns True or False; a wrong answer gets a hint that points at the idea, not just "wrong".

    from tying_utils.exercises import check_...
    check_...(your_answer)
"""

from __future__ import annotations


def _verdict(ok: bool, praise: str, hint: str) -> bool:
    """Print ✅ and `praise`, or ❌ and `hint`; return `ok` so a notebook can assert on it."""
    print(("✅ " + praise) if ok else ("❌ Not yet. " + hint))
    return ok


# --- notebook 01: linear weight shapes -----------------------------------------------------------


# --- notebook 02: parameter sharing --------------------------------------------------------------


# --- notebook 03: paired training ----------------------------------------------------------------


# --- notebook 04: loss curves --------------------------------------------------------------------


# --- notebook 05: language model -----------------------------------------------------------------
