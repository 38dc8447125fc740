"""`parameter_budget`: each family's formula against the model transformers builds, and the real
models' totals. Models are built on the meta device (shapes only, no memory, nothing downloaded).
"""

from __future__ import annotations

import os

import pytest

from tying_utils.budget import FAMILIES, REAL_MODELS, ParameterBudget, parameter_budget

os.environ.setdefault("HF_HUB_OFFLINE", "1")
transformers = pytest.importorskip("transformers")
torch = pytest.importorskip("torch")


def hf_count(config: dict) -> int:
    """Unique parameters of the model transformers builds from `config` (a tie counted once)."""
    from tying_utils.tying import count_parameters

    settings = {k: v for k, v in config.items() if k != "model_type"}
    hf_config = transformers.AutoConfig.for_model(config["model_type"], **settings)
    with torch.device("meta"):
        if config["model_type"] == "bert":
            model = transformers.BertForMaskedLM(hf_config)
        elif config["model_type"] == "t5":
            model = transformers.T5ForConditionalGeneration(hf_config)
        else:
            model = transformers.AutoModelForCausalLM.from_config(hf_config)
    model.tie_weights()
    seen = {}
    for param in model.parameters():  # meta tensors have no storage: count by identity
        seen[id(param)] = param.numel()
    unique = sum(seen.values())
    if not any(p.is_meta for p in model.parameters()):  # pragma: no cover - a real build
        assert unique == count_parameters(model).unique
    return unique


SMALL = {
    "gpt2 tied": {"model_type": "gpt2", "vocab_size": 97, "n_embd": 24, "n_layer": 2,
                  "n_head": 4, "n_positions": 40},
    "gpt2 untied, n_inner": {"model_type": "gpt2", "vocab_size": 97, "n_embd": 24, "n_layer": 3,
                             "n_head": 4, "n_positions": 16, "n_inner": 50,
                             "tie_word_embeddings": False},
    "bert tied": {"model_type": "bert", "vocab_size": 101, "hidden_size": 16,
                  "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 40,
                  "max_position_embeddings": 30},
    "bert untied, 3 segment types": {"model_type": "bert", "vocab_size": 101, "hidden_size": 16,
                                     "num_hidden_layers": 1, "num_attention_heads": 2,
                                     "intermediate_size": 24, "max_position_embeddings": 20,
                                     "type_vocab_size": 3, "tie_word_embeddings": False},
    "t5 relu": {"model_type": "t5", "vocab_size": 90, "d_model": 16, "d_kv": 4, "d_ff": 40,
                "num_layers": 2, "num_heads": 3},
    "t5 gated, deeper decoder": {"model_type": "t5", "vocab_size": 90, "d_model": 16, "d_kv": 8,
                                 "d_ff": 24, "num_layers": 1, "num_decoder_layers": 3,
                                 "num_heads": 2, "relative_attention_num_buckets": 8,
                                 "feed_forward_proj": "gated-gelu"},
    "llama untied, GQA": {"model_type": "llama", "vocab_size": 120, "hidden_size": 32,
                          "num_hidden_layers": 2, "intermediate_size": 48,
                          "num_attention_heads": 4, "num_key_value_heads": 2},
    "llama tied, head_dim, biases": {"model_type": "llama", "vocab_size": 120, "hidden_size": 32,
                                     "num_hidden_layers": 1, "intermediate_size": 40,
                                     "num_attention_heads": 4, "num_key_value_heads": 1,
                                     "head_dim": 12, "attention_bias": True, "mlp_bias": True,
                                     "tie_word_embeddings": True},
    "mistral": {"model_type": "mistral", "vocab_size": 64, "hidden_size": 32,
                "num_hidden_layers": 2, "intermediate_size": 56, "num_attention_heads": 8,
                "num_key_value_heads": 2},
    "mistral tied, head_dim": {"model_type": "mistral", "vocab_size": 64, "hidden_size": 32,
                               "num_hidden_layers": 1, "intermediate_size": 40,
                               "num_attention_heads": 4, "num_key_value_heads": 4,
                               "head_dim": 16, "tie_word_embeddings": True},
    "qwen2 tied": {"model_type": "qwen2", "vocab_size": 150, "hidden_size": 24,
                   "num_hidden_layers": 2, "intermediate_size": 36, "num_attention_heads": 6,
                   "num_key_value_heads": 2, "tie_word_embeddings": True},
    "qwen2 untied": {"model_type": "qwen2", "vocab_size": 150, "hidden_size": 24,
                     "num_hidden_layers": 1, "intermediate_size": 36, "num_attention_heads": 3,
                     "num_key_value_heads": 3},
    "gemma": {"model_type": "gemma", "vocab_size": 200, "hidden_size": 16,
              "num_hidden_layers": 2, "intermediate_size": 48, "num_attention_heads": 4,
              "num_key_value_heads": 1, "head_dim": 8},
    "gemma untied": {"model_type": "gemma", "vocab_size": 200, "hidden_size": 16,
                     "num_hidden_layers": 1, "intermediate_size": 48, "num_attention_heads": 2,
                     "num_key_value_heads": 2, "head_dim": 16, "tie_word_embeddings": False},
}


@pytest.mark.parametrize("name", SMALL)
def test_formula_matches_the_model_transformers_builds(name):
    config = SMALL[name]
    budget = parameter_budget(config)
    assert budget.total == hf_count(config), name
    vocab, width = budget.vocab_size, budget.hidden_size
    assert budget.embedding == vocab * width
    assert budget.untied_total - budget.total == (vocab * width if budget.tied else 0)


def test_every_family_is_checked_against_transformers():
    assert {config["model_type"] for config in SMALL.values()} == set(FAMILIES)
    tied = {(c["model_type"], parameter_budget(c).tied) for c in SMALL.values()}
    for family in FAMILIES:  # T5 only tied: transformers 5 always ties T5's matrices
        assert (family, True) in tied
        assert family == "t5" or (family, False) in tied


@pytest.mark.parametrize("model_id", REAL_MODELS)
def test_real_models_totals(model_id):
    """Formula == the stored total == what transformers builds from the same config values."""
    entry = REAL_MODELS[model_id]
    budget = parameter_budget(entry["config"])
    assert budget.total == entry["total"]
    assert hf_count(entry["config"]) == entry["total"]


def test_published_totals_quoted_in_the_issue():
    totals = {m: parameter_budget(e["config"]).total for m, e in REAL_MODELS.items()}
    assert totals["openai-community/gpt2"] == 124_439_808
    assert totals["meta-llama/Llama-3.2-1B"] == 1_235_814_400
    assert totals["google/gemma-2b"] == 2_506_172_416


def test_the_real_models_include_tied_and_untied_families():
    budgets = [parameter_budget(e["config"]) for e in REAL_MODELS.values()]
    assert len(budgets) >= 8
    assert {b.tied for b in budgets} == {True, False}
    tied_names = {m for m, e in REAL_MODELS.items() if parameter_budget(e["config"]).tied}
    assert {"openai-community/gpt2", "meta-llama/Llama-3.2-1B", "Qwen/Qwen2-0.5B",
            "google/gemma-2b"} <= tied_names
    assert "meta-llama/Meta-Llama-3-8B" not in tied_names


def test_budget_parts_and_shares():
    gpt2 = parameter_budget(REAL_MODELS["openai-community/gpt2"]["config"])
    assert gpt2.tied and gpt2.head == 0 and gpt2.embedding == 50257 * 768
    assert gpt2.untied_total == 124_439_808 + 50257 * 768
    assert gpt2.embedding_share == pytest.approx(50257 * 768 / gpt2.untied_total)
    llama = parameter_budget(REAL_MODELS["meta-llama/Meta-Llama-3-8B"]["config"])
    assert not llama.tied and llama.head == llama.embedding == 128256 * 4096
    assert llama.untied_total == llama.total and llama.saved_by_tying == 128256 * 4096
    bert = parameter_budget(REAL_MODELS["google-bert/bert-base-uncased"]["config"])
    assert bert.head == 30522  # tied: only the output bias is the head's own
    assert isinstance(bert, ParameterBudget)


def test_hugging_face_aliases_are_accepted():
    native = SMALL["gpt2 tied"]
    aliased = {"model_type": "gpt2", "vocab_size": 97, "hidden_size": 24,
               "num_hidden_layers": 2, "num_attention_heads": 4, "max_position_embeddings": 40}
    assert parameter_budget(aliased) == parameter_budget(native)


@pytest.mark.parametrize("config, message", [
    ({"model_type": "falcon", "vocab_size": 10}, r"unknown model_type 'falcon': parameter_budget "
     r"knows gpt2, bert, t5, llama, mistral, qwen2, gemma"),
    ({"vocab_size": 10}, r"lacks 'model_type'"),
    ({"model_type": "llama", "vocab_size": 10, "hidden_size": 8, "num_hidden_layers": 1,
      "num_attention_heads": 2}, r"the llama config lacks 'intermediate_size'"),
    ({"model_type": "gpt2", "vocab_size": 10, "n_embd": 8, "n_layer": 1, "n_head": 2},
     r"lacks 'n_positions' \(or 'max_position_embeddings'\)"),
    ({k: v for k, v in SMALL["mistral"].items() if k != "num_key_value_heads"},
     r"the mistral config lacks 'num_key_value_heads'"),
    ({**SMALL["mistral"], "hidden_size": 0}, r"hidden_size must be a whole number >= 1, got 0"),
    ({**SMALL["mistral"], "num_hidden_layers": 2.5}, r"num_hidden_layers must be a whole number"),
    ({**SMALL["mistral"], "vocab_size": True}, r"vocab_size must be a whole number"),
    ({**SMALL["qwen2 tied"], "tie_word_embeddings": "yes"}, r"tie_word_embeddings must be true "
     r"or false, got 'yes'"),
    ({**SMALL["t5 relu"], "feed_forward_proj": "gelu-gated"}, r"feed_forward_proj must be "
     r"'ACTIVATION' or 'gated-ACTIVATION'"),
    ({**SMALL["mistral"], "hidden_size": 30}, r"hidden_size \(30\) is not a multiple of "
     r"num_attention_heads \(8\): give head_dim"),
])
def test_bad_configs_are_one_clear_sentence(config, message):
    with pytest.raises(ValueError, match=message):
        parameter_budget(config)


def test_not_a_dict_is_refused():
    with pytest.raises(ValueError, match="needs a config dict"):
        parameter_budget(["gpt2"])
