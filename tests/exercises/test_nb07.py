"""Notebook 07 (tie_lifecycle): its "Check yourself" checkers. For each exercise the right answer
passes, and each wrong answer listed in the exercise's design gets the hint that names its
mistake (asserted by a distinctive phrase). Where a hint states a fact about PyTorch or about
tied models, a test here runs the code that shows it.
"""

from __future__ import annotations

import pytest
import torch
from checking import verdict
from torch import nn

from tying_utils.budget import REAL_MODELS, parameter_budget
from tying_utils.exercises import (
    NOT_ANSWERED,
    check_copied_head_count,
    check_decay_groups,
    check_quantized_head_bytes,
)

pytestmark = pytest.mark.usefixtures("one_thread")

QWEN = REAL_MODELS["Qwen/Qwen2-0.5B"]["config"]
GEMMA_MATRIX = 256_000 * 2_048


# --- 07.1: the count a copying loader reports ----------------------------------------------------


def test_copied_head_count_right(capsys):
    ok, out = verdict(capsys, check_copied_head_count, 630_167_424, QWEN)
    assert ok is True and out.startswith("✅") and "494,032,768" in out
    assert parameter_budget(QWEN).untied_total == 630_167_424


@pytest.mark.parametrize("answer, phrase", [
    (494_032_768, "the tied model's count, the right one"),
    (151_936 * 896, "the extra matrix alone"),
    (494_032_768 + 2 * 151_936 * 896, "not two"),
    (2 * 494_032_768, "not the whole model"),
    (494_032_768 - 151_936 * 896, "it removes none"),
    (630_167_424 + 151_936, "no bias"),
    (1, "Start from the tied count"),
    ("630167424", "whole number"),
])
def test_copied_head_count_wrong_gets_a_hint(answer, phrase, capsys):
    ok, out = verdict(capsys, check_copied_head_count, answer, QWEN)
    assert ok is False and out.startswith("❌") and phrase in out


# --- 07.2: weight-decay groups for a tied TransformerLM ------------------------------------------


def solution(model):
    embeddings = {id(m.weight) for m in model.modules() if isinstance(m, nn.Embedding)}
    decayed = [p for p in model.parameters() if p.dim() == 2 and id(p) not in embeddings]
    others = [p for p in model.parameters() if p.dim() < 2 or id(p) in embeddings]
    return torch.optim.AdamW([{"params": decayed, "weight_decay": 0.1},
                              {"params": others, "weight_decay": 0.0}])


def linear_rule(model):
    """Decay every nn.Linear weight: the tied matrix comes in through the head."""
    linear = {id(m.weight): m.weight for m in model.modules() if isinstance(m, nn.Linear)}
    rest = [p for p in model.parameters() if id(p) not in linear]
    return torch.optim.AdamW([{"params": list(linear.values()), "weight_decay": 0.1},
                              {"params": rest, "weight_decay": 0.0}])


def default_decay(model):
    groups = solution(model).param_groups
    return torch.optim.AdamW([{"params": groups[0]["params"], "weight_decay": 0.1},
                              {"params": groups[1]["params"]}])  # AdamW's default 0.01


def position_decayed(model):
    groups = solution(model).param_groups
    decayed = groups[0]["params"] + [model.position.weight]
    others = [p for p in groups[1]["params"] if p is not model.position.weight]
    return torch.optim.AdamW([{"params": decayed, "weight_decay": 0.1},
                              {"params": others, "weight_decay": 0.0}])


def bias_decayed(model):
    return torch.optim.AdamW([{"params": [p for p in model.parameters() if p.dim() == 1],
                               "weight_decay": 0.1},
                              {"params": [p for p in model.parameters() if p.dim() == 2],
                               "weight_decay": 0.0}])


def missing_the_tie(model):
    return torch.optim.AdamW([p for p in model.parameters() if p is not model.head.weight])


def in_two_groups(model):
    return torch.optim.AdamW([{"params": [model.head.weight]},
                              {"params": [model.embedding.weight]}])


def not_adamw(model):
    return torch.optim.SGD(model.parameters(), lr=0.1)


def not_an_optimizer(model):
    return list(model.parameters())


def test_decay_groups_right(capsys):
    ok, out = verdict(capsys, check_decay_groups, solution)
    assert ok is True and out.startswith("✅") and "audit(model, optimizer) is clean" in out


@pytest.mark.parametrize("answer, phrase", [
    (linear_rule, "through the head it looks like a Linear weight"),
    (default_decay, "AdamW's default"),
    (position_decayed, "position.weight is an embedding"),
    (bias_decayed, "is a norm or bias parameter"),
    (missing_the_tie, "the tied matrix is in no group"),
    (in_two_groups, "torch refused a Parameter in two groups"),
    (not_adamw, "Return torch.optim.AdamW"),
    (not_an_optimizer, "not a list"),
])
def test_decay_groups_wrong_gets_a_hint(answer, phrase, capsys):
    ok, out = verdict(capsys, check_decay_groups, answer)
    assert ok is False and out.startswith("❌") and phrase in out, out


def test_decay_groups_names_the_duplicate(capsys):
    def every_name(model):
        return torch.optim.AdamW([p for _, p in model.named_parameters(remove_duplicate=False)])

    with pytest.warns(UserWarning, match="duplicate parameters"):
        ok, out = verdict(capsys, check_decay_groups, every_name)
    assert ok is False and "holds the tied matrix twice" in out


def test_decay_groups_unanswered_function(capsys):
    def make_optimizer(model):
        return ...

    ok, out = verdict(capsys, check_decay_groups, make_optimizer)
    assert ok is False and out == NOT_ANSWERED


def test_decay_groups_leaves_the_global_random_stream_alone():
    torch.manual_seed(1)
    expected = torch.rand(3)
    torch.manual_seed(1)
    check_decay_groups(solution)
    assert torch.equal(torch.rand(3), expected)


# --- 07.3: the bytes a 4-bit tied head adds ------------------------------------------------------


def test_quantized_head_bytes_right(capsys):
    ok, out = verdict(capsys, check_quantized_head_bytes, GEMMA_MATRIX // 2)
    assert ok is True and out.startswith("✅") and "262,144,000" in out


@pytest.mark.parametrize("answer, phrase", [
    (-3 * GEMMA_MATRIX // 2, "what an untied model saves"),
    (-(GEMMA_MATRIX // 2), "The model grows"),
    (GEMMA_MATRIX, "how many numbers the matrix holds"),
    (2 * GEMMA_MATRIX, "the bf16 matrix itself"),
    (5 * GEMMA_MATRIX // 2, "what the matrix costs after quantizing"),
    (272_384_000, "scales and zero points included"),
    (12, "half a byte for each"),
    (1.5, "whole number of bytes"),
])
def test_quantized_head_bytes_wrong_gets_a_hint(answer, phrase, capsys):
    ok, out = verdict(capsys, check_quantized_head_bytes, answer)
    assert ok is False and out.startswith("❌") and phrase in out
