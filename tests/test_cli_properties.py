"""Property: any bad argument to `compare` or `lm`, run the way a user runs it (a subprocess
`python -m tying_utils …`), ends with exit status 2, exactly one line on stderr, no traceback, and
no output file changed or left behind.

Each example costs a Python start with PyTorch (about 2 s of CPU), so each command gets 10
examples: 8 generated, derandomized (the same ones every run), and 2 written out (`@example`)
that a file must survive. The strategies are grouped by kind (a whole
number out of range, a word where a number belongs, NaN or infinity, a bad path, …) and each
example records its kind with `hypothesis.event`, so `--hypothesis-show-statistics` shows how
varied they were.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from hypothesis import event, example, given, settings
from hypothesis import strategies as st

from tying_utils.stats import uniform_guess_loss

OLD_JSON = b'{"old": "results"}\n'
SETTINGS = settings(max_examples=8, deadline=None, derandomize=True, database=None)

# Characters a command line can carry: no NUL, no lone surrogates.
ARGUMENT_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"),
                        max_size=12)


def _not_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return True
    return False


def _not_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return True
    return False


def whole_number_out_of_range(ranges: dict[str, tuple[int, int]]):
    return st.sampled_from(sorted(ranges)).flatmap(lambda option: st.tuples(
        st.just("whole number out of range"), st.just(option),
        st.one_of(st.integers(max_value=ranges[option][0] - 1),
                  st.integers(min_value=ranges[option][1] + 1)).map(str)))


def not_a_whole_number(options):
    words = st.sampled_from(["2.5", "1e3", "ten", "", " ", "0x10", "3 4", "--", "nan"])
    return st.tuples(st.just("not a whole number"), st.sampled_from(sorted(options)),
                     st.one_of(words, ARGUMENT_TEXT.filter(_not_int)))


def bad_real(option: str, low: float, high: float | None):
    """NaN, ±inf, a word, or a finite number outside [low, high] (low itself is bad too)."""
    outside = st.floats(max_value=low, allow_nan=False, allow_infinity=False)
    if high is not None:
        outside = st.one_of(outside, st.floats(min_value=high, exclude_min=True,
                                               allow_nan=False, allow_infinity=False))
    return st.tuples(
        st.just("NaN, infinity or out of range"), st.just(option),
        st.one_of(st.sampled_from(["nan", "NaN", "inf", "-inf", "infinity"]),
                  outside.map(repr), ARGUMENT_TEXT.filter(_not_float)))


def bad_choice(options):
    return st.tuples(st.just("not one of the choices"), st.sampled_from(options),
                     ARGUMENT_TEXT.filter(lambda t: t not in ("lstm", "gru", "cpu", "cuda",
                                                              "mse", "ce", "seed", "matched")
                                          and not t.startswith(("identity", "shift", "perm",
                                                                "cycle", "path"))))


UNKNOWN_OPTION = st.tuples(st.just("unknown option"), st.from_regex(r"--x-[a-z]{1,8}",
                                                                    fullmatch=True))

COMPARE_BAD = st.one_of(
    whole_number_out_of_range({"--seeds": (1, 20_000), "--steps": (1, 100_000),
                               "--vocab": (2, 5000), "--dim": (1, 512)}),
    not_a_whole_number(["--seeds", "--steps", "--vocab", "--dim"]),
    bad_real("--lr", 0, 10),
    bad_real("--threshold", 0, None),
    st.tuples(st.just("threshold not below the uniform-guess loss"), st.just("--threshold"),
              st.floats(min_value=uniform_guess_loss("mse", 10), max_value=1e300).map(repr)),
    bad_choice(["--task", "--loss", "--init"]),
    st.sampled_from([
        ("bad path", "--json", "{folder}"),
        ("bad path", "--json", "{folder}/missing/r.json"),
        ("bad path", "--json", "{folder}/r.json/inside.json"),
        ("bad path", "--json", os.devnull),
        ("bad path", "--plot", "{folder}/figure.svg"),
        ("bad path", "--plot", "{folder}/figure"),
        ("bad path", "--plot", "{folder}/r.json"),  # not .png, and the --json file besides
        ("same file twice", "--json", "{folder}/out.png", "--plot", "{folder}/out.png"),
    ]),
    UNKNOWN_OPTION,
)

LM_BAD = st.one_of(
    whole_number_out_of_range({"--seeds": (1, 100), "--epochs": (1, 1000), "--dim": (1, 4096),
                               "--hidden": (1, 4096), "--layers": (1, 16),
                               "--bptt": (1, 4096), "--batch-size": (1, 4096),
                               "--vocab-cap": (2, 1_000_000), "--threads": (1, 1024)}),
    not_a_whole_number(["--seeds", "--epochs", "--dim", "--layers", "--bptt", "--batch-size",
                        "--vocab-cap", "--threads"]),
    bad_real("--lr", 0, 1000),
    bad_real("--clip", 0, 1000),
    st.tuples(st.just("NaN, infinity or out of range"), st.just("--dropout"),
              st.one_of(st.sampled_from(["nan", "inf", "1", "1.0", "-0.01"]),
                        st.floats(min_value=1, max_value=1e300).map(repr))),
    bad_choice(["--cell", "--device"]),
    st.sampled_from([
        ("sizes that do not fit in memory", "--dim", "4096", "--seeds", "100"),
        ("sizes that do not fit in memory", "--dim", "4096", "--layers", "16"),
        ("dim and hidden differ", "--dim", "8", "--hidden", "16"),
        ("batch larger than the corpus", "--batch-size", "4096"),
        ("bad corpus", "--corpus", "{folder}/missing.txt"),
        ("bad corpus", "--corpus", "{folder}"),  # a folder without train.txt …
        ("bad corpus", "--corpus", "{folder}/r.json"),  # too short, and the --json file too
        ("bad corpus", "--corpus", os.devnull),
        ("bad path", "--json", "{folder}"),
        ("bad path", "--json", "{folder}/missing/r.json"),
        ("bad path", "--json", os.devnull),
        ("output is the corpus", "--json", "{folder}/tiny.txt"),
    ]),
    UNKNOWN_OPTION,
)


def _run_bad(command: str, base: list[str], bad: tuple) -> None:
    kind, *arguments = bad
    event(kind)
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        json_path = folder / "r.json"
        json_path.write_bytes(OLD_JSON)
        corpus = folder / "tiny.txt"
        corpus.write_text("the cat sat on the mat .\n" * 60, encoding="utf-8")
        corpus_bytes = corpus.read_bytes()
        filled = [a.replace("{folder}", name) for a in arguments]
        base = [a.replace("{folder}", name) for a in base]
        done = subprocess.run(
            [sys.executable, "-m", "tying_utils", command, *base, "--json", str(json_path),
             *filled],
            capture_output=True, text=True, timeout=300,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
        )
        assert done.returncode == 2, (filled, done.returncode, done.stderr[-2000:])
        assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1, (
            filled, done.stderr[-2000:])
        assert "Traceback" not in done.stderr
        assert json_path.read_bytes() == OLD_JSON and corpus.read_bytes() == corpus_bytes
        assert sorted(p.name for p in folder.iterdir()) == ["r.json", "tiny.txt"], filled


@SETTINGS
@given(COMPARE_BAD)
@example(("same file twice", "--json", "{folder}/out.png", "--plot", "{folder}/out.png"))
@example(("bad path", "--json", os.devnull))
def test_compare_refuses_any_bad_argument_in_one_line(bad):
    _run_bad("compare", ["--seeds", "4", "--steps", "50"], bad)


@SETTINGS
@given(LM_BAD)
@example(("output is the corpus", "--json", "{folder}/tiny.txt"))
@example(("sizes that do not fit in memory", "--dim", "4096", "--seeds", "100"))
def test_lm_refuses_any_bad_argument_in_one_line(bad):
    _run_bad("lm", ["--corpus", "{folder}/tiny.txt", "--epochs", "1", "--dim", "8",
                    "--bptt", "6", "--batch-size", "4", "--no-progress"], bad)
