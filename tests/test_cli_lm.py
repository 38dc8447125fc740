"""`python -m tying_utils lm`: the success path writes the JSON; every size is bounded before
training; bad input is one line, exit status 2, and leaves output files alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from types import SimpleNamespace

import pytest

from tying_utils.cli import main
from tying_utils.cli.arguments import LM_RANGES
from tying_utils.cli.lm import lm_memory_parts
from tying_utils.lm_memory import LM_MEMORY_LIMIT
from tying_utils.lm_training import LMConfig
from tying_utils.recurrent_lm import lm_parameter_count

TINY = ["--epochs", "1", "--dim", "8", "--vocab-cap", "30", "--bptt", "6", "--batch-size", "4",
        "--no-progress"]
OLD_JSON = b'{"old": "results"}\n'


pytestmark = pytest.mark.usefixtures("one_thread")


def command_line(*args):
    """Run `python -m tying_utils ARGS` the way a user does, on one thread."""
    return subprocess.run([sys.executable, "-m", "tying_utils", *args], capture_output=True,
                          text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})


def assert_one_line_error(stderr: str, message: str) -> None:
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    assert "Traceback" not in stderr and message in lines[0], stderr


def test_lm_trains_three_variants_and_writes_json(corpus, tmp_path, capsys):
    out = tmp_path / "lm.json"
    out.write_bytes(OLD_JSON)
    assert main(["lm", "--corpus", str(corpus), "--seeds", "2", *TINY, "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    for label in ("tied", "untied", "untied (size-matched)", "valid ppl", "± "):
        assert label in printed
    # --vocab-cap 30 is more than this corpus has: said, not an error
    assert ("note: the training split has 12 distinct words, so the vocabulary has 13 entries "
            "with <unk>, fewer than --vocab-cap 30.") in printed
    result = json.loads(out.read_text())
    assert set(result) == {"config", "tied", "untied", "untied_size_matched"}
    assert result["config"]["seeds"] == [0, 1] and result["config"]["dim"] == 8
    assert result["config"]["vocab"] == 13
    for variant in ("tied", "untied", "untied_size_matched"):
        numbers = result[variant]
        for key in ("valid_ppl", "test_ppl", "train_ppl"):
            assert len(numbers[key]) == 2 and all(value > 1 for value in numbers[key])
        assert isinstance(numbers["parameters"], int)
    assert result["tied"]["parameters"] < result["untied"]["parameters"]
    assert result["untied_size_matched"]["dim"] < 8
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lm.json", "tiny.txt"]


def _bad_inputs(tmp_path, corpus):
    binary = tmp_path / "image.bin"
    binary.write_bytes(b"\x89PNG\x00\x00")
    half = tmp_path / "half"
    half.mkdir()
    (half / "train.txt").write_text("a b c", encoding="utf-8")
    odd = tmp_path / "odd"
    odd.mkdir()
    for name in ("train.txt", "test.txt"):
        (odd / name).write_text(corpus.read_text(), encoding="utf-8")
    (odd / "valid.txt").mkdir()
    short = tmp_path / "short"
    short.mkdir()
    for name, text in (("train.txt", corpus.read_text()), ("valid.txt", "a few words ."),
                       ("test.txt", corpus.read_text())):
        (short / name).write_text(text, encoding="utf-8")
    one_word = tmp_path / "one.txt"
    one_word.write_text("word", encoding="utf-8")
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    c = ["--corpus", str(corpus)]
    return {
        "seeds below 1": (["--seeds", "0"], "argument --seeds: must be a whole number from 1 "
                          "to 100, got '0'"),
        "seeds negative": (["--seeds", "-3"], "argument --seeds: must be a whole number"),
        "epochs below 1": (["--epochs", "0"], "argument --epochs: must be a whole number from 1"),
        "dim 200000": (["--dim", "200000"], "argument --dim: must be a whole number from 1 to "
                       "4096, got '200000'"),
        "emb (--dim's old name) 200000": (["--emb", "200000"], "argument --emb: must be a whole "
                                          "number from 1 to 4096, got '200000'"),
        "hidden too big": (["--hidden", "5000"], "argument --hidden: must be a whole number"),
        "layers 0": (["--layers", "0"], "argument --layers: must be a whole number from 1 to 16"),
        "bptt too big": (["--bptt", "5000"], "argument --bptt: must be a whole number from 1 to"),
        "batch size 0": (["--batch-size", "0"], "argument --batch-size: must be a whole number"),
        "vocab cap < 2": (["--vocab-cap", "1"], "argument --vocab-cap: must be a whole number "
                          "from 2 to 1000000"),
        "lr nan": (["--lr", "nan"], "argument --lr: must be a number more than 0 and at most "
                   "1000, got 'nan'"),
        "lr inf": (["--lr", "inf"], "argument --lr: must be a number more than 0"),
        "lr too big": (["--lr", "1e6"], "argument --lr: must be a number more than 0 and at "
                       "most 1000"),
        "clip negative": (["--clip", "-1"], "argument --clip: must be a number more than 0"),
        "dropout 1": (["--dropout", "1"], "argument --dropout: must be a number at least 0 and "
                      "below 1, got '1'"),
        "dropout negative": (["--dropout", "-0.1"], "argument --dropout: must be a number at "
                             "least 0"),
        "threads below 1": (["--threads", "0"], "argument --threads: must be a whole number from "
                            "1 to 1024"),
        "not a number": (["--epochs", "many"], "argument --epochs: must be a whole number"),
        "unknown cell": (["--cell", "rnn"], "invalid choice"),
        "unknown device": (["--device", "tpu"], "argument --device: invalid choice: 'tpu'"),
        "dim != hidden": ([*c, "--dim", "8", "--hidden", "16"], "--hidden 16 and --dim 8"),
        "emb != hidden": ([*c, "--emb", "8", "--hidden", "16"], "--hidden 16 and --dim 8"),
        "missing corpus": (["--corpus", str(tmp_path / "nope.txt")], "no corpus at"),
        "binary corpus": (["--corpus", str(binary)], "looks binary"),
        "empty corpus": (["--corpus", str(empty)], "empty.txt' is empty"),
        "one-word corpus": (["--corpus", str(one_word)], "'one.txt' has only 1 token:"),
        "folder lacks files": (["--corpus", str(half)], "lacks valid.txt and test.txt"),
        "split is a folder": (["--corpus", str(odd)], "valid.txt' is a folder"),
        "split too short": (["--corpus", str(short)], "the valid split of 'short' has 4 tokens, "
                            "too few: perplexity is measured on 10 rows"),
        "batch too big": ([*c, "--batch-size", "4000"], "the train split of 'tiny.txt' has "
                          "1,209 tokens, too few: it is read in 4000 rows"),
        "too much memory": ([*c, "--dim", "4096", "--seeds", "100"], "GB of memory, over the "
                            "8 GB limit, most of it"),
        "json folder missing": ([*c, "--json", str(tmp_path / "no" / "x.json")],
                                "does not exist"),
        "json is a folder": ([*c, "--json", str(tmp_path)], "is a folder"),
        "json is the corpus": ([*c, "--json", str(corpus)], f"--json '{corpus}' is the corpus: "
                               "writing it would destroy the input"),
        "json inside the corpus": (["--corpus", str(odd), "--json", str(odd / "r.json")],
                                   "lies inside the corpus"),
    }


def test_bad_input_is_one_line_and_exit_status_2(corpus, tmp_path, capsys):
    # One test over every case: each is checked before any training starts.
    for case, (arguments, message) in _bad_inputs(tmp_path, corpus).items():
        corpus_before = corpus.read_bytes()
        assert main(["lm", *arguments]) == 2, case
        captured = capsys.readouterr()
        assert_one_line_error(captured.err, message)
        assert captured.out == "", case
        assert corpus.read_bytes() == corpus_before


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a file whatever its permissions, so "
                    "an unreadable corpus cannot be made when the tests run as root")
def test_unreadable_corpus_is_named(corpus, capsys):
    corpus.chmod(0o000)
    try:
        assert main(["lm", "--corpus", str(corpus)]) == 2
        assert_one_line_error(capsys.readouterr().err, f"cannot read '{corpus}' (Permission")
    finally:
        corpus.chmod(0o600)


def test_a_diverging_run_is_one_line_and_writes_nothing(corpus, tmp_path, capsys):
    out = tmp_path / "lm.json"
    out.write_bytes(OLD_JSON)
    arguments = ["lm", "--corpus", str(corpus), "--seeds", "1", *TINY, "--lr", "1000",
                 "--clip", "100", "--json", str(out)]
    assert main(arguments) == 2
    assert_one_line_error(capsys.readouterr().err, "training diverged")
    assert out.read_bytes() == OLD_JSON


def test_python_dash_m_reports_a_bad_argument_without_a_traceback(tmp_path):
    # Issue 9, item 1: `lm --json <a folder>` once ended in a 14-line traceback (an import
    # circle between __main__ and lm).
    result = command_line("lm", "--json", str(tmp_path))
    assert result.returncode == 2 and result.stdout == ""
    assert_one_line_error(result.stderr, f"--json must name a file, but '{tmp_path}' is a folder")


def test_help_states_every_limit(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["lm", "--help"])
    assert stop.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    options = text[text.index("options:"):]
    for option, name in (("--seeds", "seeds"), ("--epochs", "epochs"), ("--dim", "dim"),
                         ("--hidden", "dim"), ("--vocab-cap", "vocab_cap"),
                         ("--layers", "layers"), ("--bptt", "bptt"),
                         ("--batch-size", "batch_size"), ("--dropout", "dropout"),
                         ("--lr", "lr"), ("--clip", "clip"), ("--threads", "threads")):
        metavar = option.lstrip("-").upper().replace("-", "_")
        start = options.index(f"{option} {metavar} ")
        assert f"({LM_RANGES[name].range};" in options[start:start + 160], option
    assert "(1–4096; default 64)" in text and "at least 0 and below 1" in text
    assert "more than 8 GB of memory is refused before training" in text
    assert "--emb EMB" not in text and "called --emb before" in text  # the old name, hidden


def test_the_old_option_name_emb_still_sets_dim():
    from tying_utils.cli import lm
    from tying_utils.cli.usage import Parser

    parser = Parser(prog="python -m tying_utils")
    lm.add_parser(parser.add_subparsers(dest="command", parser_class=Parser))
    old, new = parser.parse_args(["lm", "--emb", "8"]), parser.parse_args(["lm", "--dim", "8"])
    assert vars(old) == vars(new) and new.dim == 8 and not hasattr(new, "emb")


def _parts(seeds=3, vocab=2000, **sizes):
    return lm_memory_parts(SimpleNamespace(seeds=seeds), LMConfig(**sizes), vocab)


def test_memory_estimate_allows_the_defaults_and_a_penn_treebank_run():
    assert sum(_parts().values()) < 0.1e9
    # Zaremba et al.'s medium model: vocabulary 10,000, 650 units, 2 layers, 10 seeds
    ptb = _parts(seeds=10, vocab=10_000, dim=650, hidden=650, layers=2)
    assert sum(ptb.values()) < LM_MEMORY_LIMIT / 2
    # and the large one, 1500 units, over 3 seeds
    large = _parts(seeds=3, vocab=10_000, dim=1500, hidden=1500, layers=2)
    assert sum(large.values()) < LM_MEMORY_LIMIT


def test_memory_estimate_counts_what_the_run_holds():
    vocab, dim, layers, seeds = 10_000, 650, 2, 10
    parts = _parts(seeds=seeds, vocab=vocab, dim=dim, hidden=dim, layers=layers)
    untied = lm_parameter_count(vocab, dim, dim, False, "lstm", layers)
    tied = lm_parameter_count(vocab, dim, dim, True, "lstm", layers)
    assert parts["the parameters"] == 4 * 6 * untied
    assert parts["the trained models"] == 4 * seeds * (2 * tied + untied)
    assert parts["the logits"] == 4 * 4 * 20 * 35 * vocab  # batch 20 × bptt 35 × vocabulary
    # --dim 200000 (the 640 GB allocation) would be far over the limit even if allowed
    assert sum(_parts(vocab=2000, dim=200_000, hidden=200_000).values()) > 100 * LM_MEMORY_LIMIT
