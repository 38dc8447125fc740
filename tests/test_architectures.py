"""The record of each language-model architecture (architectures.py) says what building and
training one really does, the memory model (lm_memory.py) gives the bytes it always gave, and the
shared checks (checks.py) and ranges (options.py) hold every size to one sentence."""

from __future__ import annotations

import subprocess
import sys
from types import SimpleNamespace

import pytest
import torch

from tying_utils import checks, lm_memory, options, recurrent_lm, transformer
from tying_utils.architectures import ARCHITECTURES, architecture
from tying_utils.cli.arguments import LM_RANGES, TRANSFORMER_RANGES
from tying_utils.cli.lm import lm_memory_parts
from tying_utils.lm_training import LMConfig, build_lm, size_matched_config
from tying_utils.tying import count_parameters

CONFIGS = [
    dict(arch="lstm", dim=8, hidden=8),
    dict(arch="lstm", dim=6, hidden=10, layers=2, cell="gru"),
    dict(arch="lstm", dim=12, hidden=12, layers=3, cell="lstm"),
    dict(arch="transformer", dim=8, hidden=8),
    dict(arch="transformer", dim=12, hidden=12, layers=3, heads=3, bptt=9),
    dict(arch="transformer", dim=16, hidden=16, layers=1, heads=4, bptt=5, init="t5"),
]


def test_there_is_one_record_per_architecture_the_options_name():
    assert tuple(ARCHITECTURES) == options.ARCHS
    for name, record in ARCHITECTURES.items():
        assert record.name == name
        assert record.defaults == options.ARCH_DEFAULTS[name]
        assert all(record.ranges[size] == options.LM_RANGES[size] for size in record.sizes)
    with pytest.raises(ValueError, match="unknown arch 'gpt'; choose one of lstm, transformer."):
        architecture("gpt")


@pytest.mark.parametrize("sizes", CONFIGS, ids=lambda s: " ".join(f"{k}={v}" for k, v in
                                                                s.items()))
@pytest.mark.parametrize("tied", [True, False])
def test_the_record_counts_the_parameters_of_the_model_it_builds(sizes, tied):
    if tied and sizes["dim"] != sizes["hidden"]:
        pytest.skip("tying needs dim == hidden")
    config, vocab = LMConfig(**sizes), 23
    record = ARCHITECTURES[config.arch]
    model = build_lm(config, vocab, tied)
    assert type(model) is type(record.build(config, vocab, tied))
    assert record.parameter_count(config, vocab, tied) == count_parameters(model).unique


@pytest.mark.parametrize("sizes", [s for s in CONFIGS if s["dim"] == s["hidden"]],
                         ids=lambda s: " ".join(f"{k}={v}" for k, v in s.items()))
def test_the_size_matched_width_is_the_closest_untied_count(sizes):
    config, vocab = LMConfig(**sizes), 200
    record = ARCHITECTURES[config.arch]
    width = record.size_matched_dim(config, vocab)
    if config.arch == "lstm":
        assert width == recurrent_lm.size_matched_dim(vocab, config.dim, config.cell, config.layers)
    else:
        assert width == transformer.size_matched_dim(vocab, config.dim, config.layers,
                                                     config.heads, config.bptt)
        assert width % config.heads == 0
    matched = size_matched_config(config, vocab)
    assert (matched.dim, matched.hidden) == (width, width)
    target = record.parameter_count(config, vocab, True)
    gap = abs(record.parameter_count(matched, vocab, False) - target)
    step = config.heads if config.arch == "transformer" else 1
    for other in range(step, config.dim + 1, step):  # no other width is closer
        candidate = LMConfig(**{**sizes, "dim": other, "hidden": other})
        assert gap <= abs(record.parameter_count(candidate, vocab, False) - target)


def test_the_optimizer_is_sgd_for_the_lstm_and_adam_for_the_transformer():
    for arch, kind in (("lstm", torch.optim.SGD), ("transformer", torch.optim.Adam)):
        weights = [torch.nn.Parameter(torch.zeros(3))]
        optimizer = ARCHITECTURES[arch].optimizer(weights, 0.5)
        assert type(optimizer) is kind and optimizer.param_groups[0]["lr"] == 0.5


# The bytes the `lm` command's memory model gave before it moved out of the command line.
MEMORY_BEFORE = [
    (dict(), 2000, 3, {"the parameters": 6990720, "the activations": 3942400,
                       "the logits": 22400000, "the trained models": 7414080}),
    (dict(dim=650, hidden=650, layers=2, cell="gru", batch_size=5, bptt=70), 10000, 7,
     {"the parameters": 434107200, "the activations": 29120000, "the logits": 112000000,
      "the trained models": 1155375200}),
    (dict(arch="transformer"), 1000, 5,
     {"the parameters": 5528064, "the activations": 16195200, "the logits": 11200000,
      "the trained models": 11260160}),
    (dict(arch="transformer", dim=96, hidden=96, layers=3, heads=4, bptt=64, batch_size=4), 4000,
     2, {"the parameters": 26636544, "the activations": 13959168, "the logits": 40960000,
         "the trained models": 20492544}),
]


@pytest.mark.parametrize("sizes, vocab, seeds, expected", MEMORY_BEFORE)
def test_the_memory_estimate_gives_the_bytes_it_always_gave(sizes, vocab, seeds, expected):
    config = LMConfig(**sizes)
    assert ARCHITECTURES[config.arch].memory_parts(config, vocab, seeds) == expected
    assert lm_memory_parts(SimpleNamespace(seeds=seeds), config, vocab) == expected


def test_the_memory_sentence_names_the_largest_part_and_what_to_give():
    parts = {"the parameters": 1, "the activations": 2, "the logits": 6_000_000_000,
             "the trained models": 3_000_000_000}
    assert lm_memory.memory_problem(parts) == (
        "this run would need about 9.0 GB of memory, over the 8 GB limit, most of it (6.0 GB) "
        "for the logits: give a smaller --batch-size, --bptt or --vocab-cap.")
    assert lm_memory.memory_problem(parts, limit=10_000_000_000) is None


def test_the_command_lines_ranges_are_the_options_numbers():
    for name, (low, high) in options.LM_RANGES.items():
        assert LM_RANGES[name].range == f"{low}–{high}"
    assert TRANSFORMER_RANGES["heads"] is LM_RANGES["heads"]
    assert LM_RANGES["dropout"].range == "at least 0 and below 1"
    assert LM_RANGES["lr"].range == "more than 0 and at most 1000"


def test_the_toy_limits_are_the_ranges_highest_values():
    assert options.LIMITS == {"vocab": 5000, "dim": 512, "steps": 100_000, "seeds": 20_000,
                              "bytes": 4_000_000_000}
    for name, (low, high) in options.EXPLORER_RANGES.items():
        assert options.TOY_RANGES[name][0] == low and high <= options.TOY_RANGES[name][1]


@pytest.mark.parametrize("call, message", [
    (lambda: checks.check_whole("layers", 0), "layers must be a whole number >= 1, got 0."),
    (lambda: checks.check_whole("dim", 2.0), "dim must be a whole number >= 1, got 2.0."),
    (lambda: checks.check_whole("dim", True), "dim must be a whole number >= 1, got True."),
    (lambda: checks.check_whole("vocab", 1, 2, 5000),
     "vocab must be a whole number from 2 to 5000, got 1."),
    (lambda: checks.check_in_range("steps", 100_001, options.TOY_RANGES["steps"]),
     "steps must be a whole number from 1 to 100000, got 100001."),
    (lambda: checks.check_whole("dim", -1, owner="EmbedHead"),
     "EmbedHead needs dim to be a whole number >= 1, got -1."),
    (lambda: checks.check_wholes(dim=4, hidden="4"),
     "hidden must be a whole number >= 1, got '4'."),
    (lambda: checks.check_positive("lr", float("inf")), "lr must be a positive number, got inf."),
    (lambda: checks.check_dropout(1.0), "dropout must be in [0, 1), got 1.0."),
    (lambda: checks.check_heads(10, 4),
     "the width (10) must be a multiple of heads (4): each head reads an equal slice of it."),
    (lambda: checks.check_choice("cell", "rnn", ("lstm", "gru")),
     "unknown cell 'rnn'; choose one of lstm, gru."),
])
def test_each_check_fails_with_one_sentence(call, message):
    with pytest.raises(ValueError) as error:
        call()
    assert str(error.value) == message


def test_the_checks_pass_good_values_through():
    assert checks.check_whole("steps", 100_000, 1, 100_000) == 100_000
    assert checks.check_in_range("vocab", 2, options.TOY_RANGES["vocab"]) == 2
    assert checks.check_positive("clip", 0.25) == 0.25
    checks.check_wholes(dim=1, hidden=2)
    checks.check_heads(12, 3)


def test_the_records_ranges_and_memory_import_no_torch():
    """The command line reads them while it parses (tests/test_cli_help.py checks --help); here
    the modules themselves, with the package's eager imports off as under `python -m`."""
    code = ("import sys\n"
            "sys.argv[:1] = ['-m']  # what `python -m tying_utils` sees while the package loads\n"
            "import tying_utils.architectures, tying_utils.lm_memory, tying_utils.checks\n"
            "assert not [m for m in sys.modules if m == 'torch' or m.startswith('torch.')]\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
