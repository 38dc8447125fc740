"""The shared core of the "Check yourself" checkers: the verdict lines, the decorator every
checker wears, and the helpers that read a reader's answer.

How to write a checker (in the module of its notebook, `nbNN.py`):

    @exercise_checker
    def check_something(answer) -> bool:
        # no need to look for `...`: the decorator answers "not answered yet" for you
        result = call_answer(answer, x)  # only where the answer is a function: call it like this
        return _verdict(ok, "why it is right", "a hint that names the mistake")

`exercise_checker` prints `NOT_ANSWERED` when any argument is `...` (or holds `...` in a list,
tuple, set or dict), or when `call_answer` finds the reader's function returning `...`.
`call_answer` turns an exception in the reader's function into one ❌ line with the exception's
type and message, and the decorator does the same for an answer the checker itself cannot read.
"""

from __future__ import annotations

import functools
import math
import numbers
import textwrap

from ..budget import REAL_MODELS, parameter_budget

NOT_ANSWERED = "⏳ Not answered yet: replace `...` with your answer"
RIGHT = "✅ Right: "
NOT_YET = "❌ Not yet: "
WIDTH = 100  # columns; the emoji counts as two


def wrapped(line: str) -> str:
    """`line` cut at spaces into lines of at most `WIDTH` columns, the later ones indented."""
    return textwrap.fill(line, WIDTH - 1, subsequent_indent="   ", break_long_words=False,
                         break_on_hyphens=False)


def _verdict(ok: bool, praise: str, hint: str) -> bool:
    """Print "✅ Right: " and `praise`, or "❌ Not yet: " and `hint`, wrapped to `WIDTH`
    columns; return `ok` so a notebook can assert on it."""
    print(wrapped((RIGHT + praise) if ok else (NOT_YET + hint)))
    return ok


class _NotAnswered(Exception):
    """Raised by `call_answer` when the reader's function still returns `...`."""


class _AnswerRaised(Exception):
    """Raised by `call_answer` when the reader's function fails; the message is the hint."""


def _one_line(error: BaseException) -> str:
    """`TypeError: the message`, on one line and not too long."""
    message = " ".join(str(error).split())
    text = f"{type(error).__name__}: {message}" if message else type(error).__name__
    return text if len(text) <= 200 else text[:199] + "…"


def _holds_placeholder(value, depth: int = 0) -> bool:
    """True if `value` is `...` or a list, tuple, set or dict (nested up to 3 deep) holding it."""
    if value is ...:
        return True
    if depth < 3 and isinstance(value, (list, tuple, set, frozenset)):
        return any(_holds_placeholder(item, depth + 1) for item in value)
    if depth < 3 and isinstance(value, dict):
        return any(_holds_placeholder(item, depth + 1) for item in value.values())
    return False


def call_answer(function, *args):
    """Call the reader's `function` with `args` and return what it returns.

    Inside a checker wearing `exercise_checker`: a function that still returns `...` ends the
    check with "not answered yet", one that raises ends it with a ❌ line naming the exception.
    """
    if not callable(function):
        raise _AnswerRaised(f"Answer with a function (def …), not a {type(function).__name__}.")
    try:
        result = function(*args)
    except Exception as error:  # the reader's code: report any failure in one line
        raise _AnswerRaised(f"Your function raised {_one_line(error)}") from None
    if result is ...:
        raise _NotAnswered
    return result


def exercise_checker(check):
    """Decorator worn by every `check_…` function: it handles the placeholder `...`.

    Any argument that is (or holds) `...`, or an answer function that returns `...` (see
    `call_answer`), prints `NOT_ANSWERED` and returns False. An answer the checker cannot read
    (an exception inside the checker) gets one ❌ line instead of a traceback.
    """

    @functools.wraps(check)
    def checked(*args, **kwargs) -> bool:
        if any(_holds_placeholder(value) for value in (*args, *kwargs.values())):
            print(NOT_ANSWERED)
            return False
        try:
            return check(*args, **kwargs)
        except _NotAnswered:
            print(NOT_ANSWERED)
            return False
        except _AnswerRaised as error:
            return _verdict(False, "", str(error))
        except Exception as error:  # an answer of a shape this checker did not foresee
            return _verdict(False, "", f"This answer could not be checked ({_one_line(error)}); "
                            "answer in the form the question asks for.")

    checked.is_exercise_checker = True
    return checked


# --- reading answers -----------------------------------------------------------------------------


def _as_int_tuple(answer) -> tuple | None:
    """`answer` as a tuple of ints (from a tuple, list or torch.Size), or None if it is not one."""
    if isinstance(answer, (str, bytes)):
        return None
    try:
        items = tuple(answer)
    except TypeError:
        return None
    if not all(hasattr(n, "__index__") and not isinstance(n, bool) for n in items):
        return None
    return tuple(int(n) for n in items)


def _as_number_list(answer) -> list[float]:
    """A flat list of floats from a list, tuple, tensor or array; TypeError/ValueError if not."""
    if hasattr(answer, "tolist"):
        answer = answer.tolist()
    if isinstance(answer, (list, tuple)):
        return [v for item in answer for v in _as_number_list(item)]
    if isinstance(answer, (str, bytes, bool)) or answer is None:
        raise TypeError(f"{answer!r} is not a number")
    return [float(answer)]


def _as_number(answer) -> float | None:
    """A real number (int, float, NumPy scalar, one-element tensor or array) as a float, or
    None (a bool, a string or anything else)."""
    if hasattr(answer, "tolist"):
        answer = answer.tolist()
        while isinstance(answer, list) and len(answer) == 1:
            answer = answer[0]
    if isinstance(answer, bool) or not isinstance(answer, numbers.Real):
        return None
    return float(answer)


def _as_whole_number(answer) -> int | None:
    """A whole number (an int, or a float or NumPy scalar with no fraction) as an int, or None."""
    value = _as_number(answer)
    if value is None or not math.isfinite(value) or value != int(value):
        return None
    return int(value)


# --- facts several checkers need ----------------------------------------------------------------


def _real_budget(model_id: str):
    """The `ParameterBudget` of one of `budget.REAL_MODELS` (notebooks 06 and 07)."""
    return parameter_budget(REAL_MODELS[model_id]["config"])
