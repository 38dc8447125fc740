"""Parameter counts of real model families from their configs: how much of a model tying saves.

Introduced in notebook 06 (transformer). `parameter_budget(config)` reads a Hugging Face-style
config dict (the model's `config.json`, as a dict) of one of the families in `FAMILIES` and
counts, by formula, the unique parameters of the model with its language-model head, and the
parts that tying concerns. Nothing is downloaded: the counts come from the config alone, and the
tests hold each formula to the model that `transformers` builds from a config.

What each family's count covers (the class `transformers` builds for it):

- gpt2: `GPT2LMHeadModel` (learned positions, biases everywhere, no head bias);
- bert: `BertForMaskedLM` (no pooler; the masked-LM head has a transform layer and an output bias,
  two when untied, as transformers builds it);
- t5: `T5ForConditionalGeneration` (encoder and decoder share the embedding; relative position
  biases; the feed-forward is gated when `feed_forward_proj` starts with "gated-");
- llama, mistral, qwen2, gemma: `…ForCausalLM` (RMSNorm, gated MLP, grouped-query attention;
  qwen2 has biases on queries, keys and values; gemma's heads are `head_dim` wide).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FAMILIES", "ParameterBudget", "parameter_budget", "BYTES_PER_PARAMETER",
           "REAL_MODELS"]

REQUIRED = object()  # marks a config key without a default

# Bytes each parameter costs. Inference in bf16 stores 2 bytes. Training with Adam in mixed
# precision, as counted by Rajbhandari et al. 2020 (ZeRO): bf16 weight and gradient (2 + 2), fp32
# master weight (4) and Adam's two fp32 moments (4 + 4).
BYTES_PER_PARAMETER = {"bf16 weights": 2, "Adam, mixed precision": 16}


@dataclass(frozen=True)
class ParameterBudget:
    """Where a model's parameters are. `embedding` is the input token matrix (V·d); `head` is what
    the output layer holds of its own: V·d when untied, 0 when tied, plus an output bias if the
    family has one. `total` counts every unique parameter once."""

    model_type: str
    vocab_size: int
    hidden_size: int
    tied: bool
    total: int
    embedding: int
    head: int

    @property
    def untied_total(self) -> int:
        """The count of the same model untied (a tied model plus one more V·d matrix)."""
        return self.total + (self.embedding if self.tied else 0)

    @property
    def embedding_share(self) -> float:
        """The input embedding's share of the untied model's parameters: what tying removes, as a
        fraction of the untied model (the x axis of notebook 06's sweep)."""
        return self.embedding / self.untied_total

    @property
    def saved_by_tying(self) -> int:
        """Parameters one more V·d matrix holds: what this model saves (tied) or would save."""
        return self.embedding


def parameter_budget(config: dict) -> ParameterBudget:
    """Count the parameters of the model a Hugging Face-style `config` describes.

    `config` needs `model_type` (one of `FAMILIES`) and that family's keys (`FAMILIES[name]`
    lists them with their defaults, those of `transformers`' config classes). A missing key, a
    value of the wrong kind or an unknown family is a ValueError that names it.
    """
    if not isinstance(config, dict):
        raise ValueError(f"parameter_budget needs a config dict (a model's config.json), got "
                         f"{type(config).__name__}.")
    if "model_type" not in config:
        raise ValueError(f"the config lacks 'model_type': give one of {', '.join(FAMILIES)}.")
    family = config["model_type"]
    if family not in FAMILIES:
        raise ValueError(f"unknown model_type {family!r}: parameter_budget knows "
                         f"{', '.join(FAMILIES)}.")
    keys, count = FAMILIES[family]
    values = {key: _read(config, family, key, default) for key, default in keys.items()}
    total, embedding, head = count(values)
    vocab, hidden = values["vocab_size"], values[_HIDDEN[family]]
    return ParameterBudget(family, vocab, hidden, values["tie_word_embeddings"], total,
                           embedding, head)


# --- the families ---------------------------------------------------------------------------------
# Each returns (total, embedding, head). `v` holds the config's values, checked.

def _gpt2(v) -> tuple[int, int, int]:
    V, d, P = v["vocab_size"], v["n_embd"], v["n_positions"]
    inner = v["n_inner"] or 4 * d
    layer = (2 * d  # ln_1
             + d * 3 * d + 3 * d  # c_attn: queries, keys, values
             + d * d + d  # attention's c_proj
             + 2 * d  # ln_2
             + d * inner + inner + inner * d + d)  # the MLP
    head = 0 if v["tie_word_embeddings"] else V * d
    return V * d + P * d + v["n_layer"] * layer + 2 * d + head, V * d, head


def _bert(v) -> tuple[int, int, int]:
    V, d, inner = v["vocab_size"], v["hidden_size"], v["intermediate_size"]
    embeddings = (V + v["max_position_embeddings"] + v["type_vocab_size"]) * d + 2 * d
    layer = 4 * (d * d + d) + 2 * d + d * inner + inner + inner * d + d + 2 * d
    transform = d * d + d + 2 * d  # the masked-LM head's dense layer and LayerNorm
    # The output bias, and the matrix when untied. transformers ties the decoder's bias to
    # `cls.predictions.bias` together with the matrix; untied, the model holds both biases.
    head = V if v["tie_word_embeddings"] else V * d + 2 * V
    return embeddings + v["num_hidden_layers"] * layer + transform + head, V * d, head


def _t5(v) -> tuple[int, int, int]:
    V, d, d_ff = v["vocab_size"], v["d_model"], v["d_ff"]
    inner = v["num_heads"] * v["d_kv"]
    attention = 4 * d * inner  # q, k, v: d → heads·d_kv; o back to d; no biases
    gated = v["feed_forward_proj"].startswith("gated-")
    feed_forward = (3 if gated else 2) * d * d_ff
    position_bias = v["relative_attention_num_buckets"] * v["num_heads"]  # first layer of a stack
    decoder_layers = v["num_decoder_layers"] or v["num_layers"]
    encoder = v["num_layers"] * (attention + feed_forward + 2 * d) + position_bias + d
    decoder = decoder_layers * (2 * attention + feed_forward + 3 * d) + position_bias + d
    head = 0 if v["tie_word_embeddings"] else V * d
    return V * d + encoder + decoder + head, V * d, head


def _decoder_only(v, qkv_bias: bool) -> tuple[int, int, int]:
    """Llama's layout, shared by mistral, qwen2 and gemma: RMSNorm (one weight vector), a gated
    MLP (gate, up, down), grouped-query attention with `num_key_value_heads` key/value heads."""
    V, d, inner = v["vocab_size"], v["hidden_size"], v["intermediate_size"]
    heads = v["num_attention_heads"]
    kv_heads = v.get("num_key_value_heads") or heads
    head_dim = v.get("head_dim") or _whole_division(d, heads)
    q, kv = heads * head_dim, kv_heads * head_dim
    attention = d * q + 2 * d * kv + q * d
    if v.get("attention_bias"):
        attention += q + 2 * kv + d
    elif qkv_bias:
        attention += q + 2 * kv
    mlp = 3 * d * inner + (2 * inner + d if v.get("mlp_bias") else 0)
    layer = attention + mlp + 2 * d
    head = 0 if v["tie_word_embeddings"] else V * d
    return V * d + v["num_hidden_layers"] * layer + d + head, V * d, head


def _whole_division(hidden: int, heads: int) -> int:
    if hidden % heads:
        raise ValueError(f"hidden_size ({hidden}) is not a multiple of num_attention_heads "
                         f"({heads}): give head_dim.")
    return hidden // heads


_LLAMA_KEYS = {"vocab_size": REQUIRED, "hidden_size": REQUIRED, "num_hidden_layers": REQUIRED,
               "intermediate_size": REQUIRED, "num_attention_heads": REQUIRED,
               "num_key_value_heads": None, "head_dim": None, "tie_word_embeddings": False}

FAMILIES = {
    "gpt2": ({"vocab_size": REQUIRED, "n_embd": REQUIRED, "n_layer": REQUIRED,
              "n_head": REQUIRED, "n_positions": REQUIRED, "n_inner": None,
              "tie_word_embeddings": True}, _gpt2),
    "bert": ({"vocab_size": REQUIRED, "hidden_size": REQUIRED, "num_hidden_layers": REQUIRED,
              "num_attention_heads": REQUIRED, "intermediate_size": REQUIRED,
              "max_position_embeddings": REQUIRED, "type_vocab_size": 2,
              "tie_word_embeddings": True}, _bert),
    "t5": ({"vocab_size": REQUIRED, "d_model": REQUIRED, "d_kv": REQUIRED, "d_ff": REQUIRED,
            "num_layers": REQUIRED, "num_decoder_layers": None, "num_heads": REQUIRED,
            "relative_attention_num_buckets": 32, "feed_forward_proj": "relu",
            "tie_word_embeddings": True}, _t5),
    "llama": ({**_LLAMA_KEYS, "attention_bias": False, "mlp_bias": False},
              lambda v: _decoder_only(v, qkv_bias=False)),
    "mistral": ({**_LLAMA_KEYS, "num_key_value_heads": REQUIRED},
                lambda v: _decoder_only(v, qkv_bias=False)),
    "qwen2": ({**_LLAMA_KEYS, "num_key_value_heads": REQUIRED},
              lambda v: _decoder_only(v, qkv_bias=True)),
    "gemma": ({**_LLAMA_KEYS, "num_key_value_heads": REQUIRED, "head_dim": 256,
               "tie_word_embeddings": True, "attention_bias": False},
              lambda v: _decoder_only(v, qkv_bias=False)),
}
"""model_type → (its config keys with their defaults, REQUIRED for none; the counting formula).
A default is what transformers' config class assumes when config.json leaves the key out (a
missing `num_key_value_heads` means one key/value head per query head in llama; the other three
families' classes default it to a size of their own, so there it is required)."""

_HIDDEN = {"gpt2": "n_embd", "t5": "d_model"}
_HIDDEN = {family: _HIDDEN.get(family, "hidden_size") for family in FAMILIES}
# Other names transformers accepts for the same keys (its config classes' attribute_map).
_ALIASES = {"gpt2": {"n_embd": "hidden_size", "n_layer": "num_hidden_layers",
                     "n_head": "num_attention_heads", "n_positions": "max_position_embeddings"},
            "t5": {"d_model": "hidden_size", "num_heads": "num_attention_heads",
                   "num_layers": "num_hidden_layers"}}
_FLAGS = {"tie_word_embeddings", "attention_bias", "mlp_bias"}


def _read(config: dict, family: str, key: str, default):
    alias = _ALIASES.get(family, {}).get(key)
    if key in config:
        value = config[key]
    elif alias is not None and alias in config:
        key, value = alias, config[alias]
    elif default is REQUIRED:
        also = f" (or {alias!r})" if alias else ""
        raise ValueError(f"the {family} config lacks {key!r}{also}: a {family} config needs "
                         f"{', '.join(k for k, d in FAMILIES[family][0].items() if d is REQUIRED)}"
                         f".")
    else:
        return default
    if key in _FLAGS:
        if not isinstance(value, bool):
            raise ValueError(f"{key} must be true or false, got {value!r}.")
    elif key == "feed_forward_proj":
        parts = value.split("-") if isinstance(value, str) else []
        if not 1 <= len(parts) <= 2 or (len(parts) == 2 and parts[0] != "gated"):
            raise ValueError(f"feed_forward_proj must be 'ACTIVATION' or "
                             f"'gated-ACTIVATION' (e.g. 'relu', 'gated-gelu'), got {value!r}.")
    elif value is None and default is not REQUIRED:
        return default
    elif isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{key} must be a whole number >= 1, got {value!r}.")
    return value


# --- real models ----------------------------------------------------------------------------------
# The values that count parameters, copied from each model's config.json on the Hugging Face Hub
# (the key is the model id: huggingface.co/<id>/blob/main/config.json); keys left out take the
# family's defaults above. `total` is the model's parameter count, each tied matrix once: what
# transformers' `num_parameters()` gives for the model built from this config, and what model
# cards round ("124M", "1.24B", "2.51B"). tests/test_budget.py holds the formula to it and to the
# model transformers builds from the same values on the meta device.

REAL_MODELS = {
    "openai-community/gpt2": {
        "config": {"model_type": "gpt2", "vocab_size": 50257, "n_embd": 768, "n_layer": 12,
                   "n_head": 12, "n_positions": 1024, "n_inner": None},
        "total": 124_439_808},
    "google-bert/bert-base-uncased": {
        "config": {"model_type": "bert", "vocab_size": 30522, "hidden_size": 768,
                   "num_hidden_layers": 12, "num_attention_heads": 12,
                   "intermediate_size": 3072, "max_position_embeddings": 512,
                   "type_vocab_size": 2},
        "total": 109_514_298},
    "google-t5/t5-small": {
        "config": {"model_type": "t5", "vocab_size": 32128, "d_model": 512, "d_kv": 64,
                   "d_ff": 2048, "num_layers": 6, "num_heads": 8,
                   "relative_attention_num_buckets": 32, "feed_forward_proj": "relu"},
        "total": 60_506_624},
    "Qwen/Qwen2-0.5B": {
        "config": {"model_type": "qwen2", "vocab_size": 151936, "hidden_size": 896,
                   "num_hidden_layers": 24, "intermediate_size": 4864,
                   "num_attention_heads": 14, "num_key_value_heads": 2,
                   "tie_word_embeddings": True},
        "total": 494_032_768},
    "meta-llama/Llama-3.2-1B": {
        "config": {"model_type": "llama", "vocab_size": 128256, "hidden_size": 2048,
                   "num_hidden_layers": 16, "intermediate_size": 8192,
                   "num_attention_heads": 32, "num_key_value_heads": 8, "head_dim": 64,
                   "tie_word_embeddings": True},
        "total": 1_235_814_400},
    "google/gemma-2b": {
        "config": {"model_type": "gemma", "vocab_size": 256000, "hidden_size": 2048,
                   "num_hidden_layers": 18, "intermediate_size": 16384,
                   "num_attention_heads": 8, "num_key_value_heads": 1, "head_dim": 256},
        "total": 2_506_172_416},
    "meta-llama/Llama-3.2-3B": {
        "config": {"model_type": "llama", "vocab_size": 128256, "hidden_size": 3072,
                   "num_hidden_layers": 28, "intermediate_size": 8192,
                   "num_attention_heads": 24, "num_key_value_heads": 8, "head_dim": 128,
                   "tie_word_embeddings": True},
        "total": 3_212_749_824},
    "meta-llama/Llama-2-7b-hf": {
        "config": {"model_type": "llama", "vocab_size": 32000, "hidden_size": 4096,
                   "num_hidden_layers": 32, "intermediate_size": 11008,
                   "num_attention_heads": 32, "num_key_value_heads": 32,
                   "tie_word_embeddings": False},
        "total": 6_738_415_616},
    "mistralai/Mistral-7B-v0.1": {
        "config": {"model_type": "mistral", "vocab_size": 32000, "hidden_size": 4096,
                   "num_hidden_layers": 32, "intermediate_size": 14336,
                   "num_attention_heads": 32, "num_key_value_heads": 8,
                   "tie_word_embeddings": False},
        "total": 7_241_732_096},
    "Qwen/Qwen2-7B": {
        "config": {"model_type": "qwen2", "vocab_size": 152064, "hidden_size": 3584,
                   "num_hidden_layers": 28, "intermediate_size": 18944,
                   "num_attention_heads": 28, "num_key_value_heads": 4,
                   "tie_word_embeddings": False},
        "total": 7_615_616_512},
    "meta-llama/Meta-Llama-3-8B": {
        "config": {"model_type": "llama", "vocab_size": 128256, "hidden_size": 4096,
                   "num_hidden_layers": 32, "intermediate_size": 14336,
                   "num_attention_heads": 32, "num_key_value_heads": 8,
                   "tie_word_embeddings": False},
        "total": 8_030_261_248},
    "google/gemma-7b": {
        "config": {"model_type": "gemma", "vocab_size": 256000, "hidden_size": 3072,
                   "num_hidden_layers": 28, "intermediate_size": 24576,
                   "num_attention_heads": 16, "num_key_value_heads": 16, "head_dim": 256},
        "total": 8_537_680_896},
}
