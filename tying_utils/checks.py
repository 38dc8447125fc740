"""The checks every size and setting of the package goes through, each failing with one sentence
that names the value, says what was wrong and what is allowed.

Imports only the standard library (no PyTorch), so the models (toy_models.py, recurrent_lm.py,
transformer.py), the trainers (train.py, lm_training.py) and the command line share them; the
ranges they check against are the plain numbers of options.py. Used by notebooks 02-09 through
those modules.

- `check_whole(name, value, low=1, high=None)`: a whole number (a Python int, not a bool) from
  `low` to `high` (no highest when None);
- `check_wholes(low=1, **values)`: `check_whole` for each, in order;
- `check_in_range(name, value, (low, high))`: `check_whole` against a range of options.py;
- `check_positive(name, value)`: a finite number above 0; `check_dropout(value)`: in [0, 1);
- `check_heads(dim, heads)`: a width d that the number of attention heads divides;
- `check_choice(name, value, allowed)`: one of the names allowed;
- `renamed_keywords(old=new, ...)`: a function that also takes its parameters' old names.
"""

from __future__ import annotations

import functools
import math

__all__ = ["check_whole", "check_wholes", "check_in_range", "check_positive", "check_dropout",
           "check_heads", "check_choice", "renamed_keywords"]


def check_whole(name: str, value, low: int = 1, high: int | None = None, *,
                owner: str | None = None) -> int:
    """`value` when it is a whole number from `low` to `high` (a Python int; not a bool, not
    2.0), else ValueError: "{name} must be a whole number >= {low}, got …" (or "from {low} to
    {high}"); with `owner`, "{owner} needs {name} to be a whole number …"."""
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (
            high is not None and value > high):
        allowed = f">= {low}" if high is None else f"from {low} to {high}"
        subject = f"{name} must be" if owner is None else f"{owner} needs {name} to be"
        raise ValueError(f"{subject} a whole number {allowed}, got {value!r}.")
    return value


def check_wholes(low: int = 1, **values) -> None:
    """`check_whole(name, value, low)` for each keyword, in the order given."""
    for name, value in values.items():
        check_whole(name, value, low)


def check_in_range(name: str, value, limits: tuple[int, int]) -> int:
    """`check_whole` against one of options.py's `(lowest, highest)` ranges."""
    low, high = limits
    return check_whole(name, value, low, high)


def check_positive(name: str, value) -> float:
    """`value` when it is a finite number above 0 (not a bool), else ValueError."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
            math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive number, got {value}.")
    return value


def check_dropout(value) -> float:
    """A dropout rate: a number in [0, 1)."""
    if not 0 <= value < 1:
        raise ValueError(f"dropout must be in [0, 1), got {value}.")
    return value


def check_heads(dim: int, heads: int, *, name: str = "heads") -> None:
    """Each attention head reads an equal slice of the width `dim`, so `heads` must divide it."""
    if dim % heads:
        raise ValueError(f"the width ({dim}) must be a multiple of {name} ({heads}): each "
                         f"head reads an equal slice of it.")


def check_choice(name: str, value, allowed) -> None:
    """`value` must be one of `allowed` (names)."""
    if value not in allowed:
        raise ValueError(f"unknown {name} {value!r}; choose one of {', '.join(allowed)}.")


def renamed_keywords(**old_to_new: str):
    """Let a function (or `__init__`) take its parameters' old names as keywords too:
    `@renamed_keywords(emb="dim")` makes `f(emb=8)` mean `f(dim=8)`; giving both is a TypeError."""
    def wrap(function):
        @functools.wraps(function)
        def call(*args, **kwargs):
            for old, new in old_to_new.items():
                if old in kwargs:
                    if new in kwargs:
                        raise TypeError(f"{function.__qualname__} got both {new} and {old} ({old} "
                                        f"is {new}'s old name): give {new} alone; "
                                        f"dataclasses.replace takes {new}= only.")
                    kwargs[new] = kwargs.pop(old)
            return function(*args, **kwargs)
        return call
    return wrap
