"""What the checker tests share: a checker's verdict, read the way a notebook shows it."""

from __future__ import annotations


def printed(capsys) -> str:
    """What the checker printed, its wrapped lines joined into one. Every printed line must fit in
    100 columns (the emoji counts as two)."""
    out = capsys.readouterr().out
    for line in out.splitlines():
        columns = len(line) + sum(line.count(mark) for mark in "✅❌⏳")
        assert columns <= 100, f"a verdict line of {columns} columns: {line!r}"
    return " ".join(out.split())


def verdict(capsys, checker, *args, **kwargs):
    """The checker's return value and its verdict, unwrapped into one line (see `printed`)."""
    ok = checker(*args, **kwargs)
    return ok, printed(capsys)


def assert_right(capsys, checker, *args, phrase="", **kwargs):
    ok, out = verdict(capsys, checker, *args, **kwargs)
    assert ok is True, out
    assert out.startswith("✅ Right: ") and phrase in out, out


def assert_hint(capsys, checker, hint, *args, **kwargs):
    ok, out = verdict(capsys, checker, *args, **kwargs)
    assert ok is False, out
    assert out.startswith("❌ Not yet: "), out
    assert hint in out, f"expected {hint!r} in {out!r}"
