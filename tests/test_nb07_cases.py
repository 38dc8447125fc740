"""Notebook 07 (tie lifecycle): the library behaviour its cases rely on (its three checkers are
held to their hints in tests/exercises/test_nb07.py).

The facts below are those the notebook's prose states about torch, safetensors and transformers
that a version change could silently alter; the notebook asserts them too, but running it needs
transformers and peft and a kernel, and these tests say which fact moved.
"""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"  # nothing is downloaded: models are built from small configs

import pytest
import torch
from torch import nn

from tying_utils import EmbedHead, audit
from tying_utils.transformer import TransformerLM

pytestmark = pytest.mark.usefixtures("one_thread")


# --- facts the notebook states ------------------------------------------------------------------


def materialise(model):
    """FSDP's materialisation of a meta model: each module's to_empty(), then reset_parameters()."""
    for module in model.modules():
        if any(True for _ in module.parameters(recurse=False)):
            module.to_empty(device="cpu", recurse=False)
            module.reset_parameters()
    return model


def test_a_tie_built_on_meta_survives_until_materialised_module_by_module():
    with torch.device("meta"):
        model = TransformerLM(50, 16, tied=True, layers=1, heads=2, context=8, dropout=0.0)
    assert model.embedding.weight is model.head.weight
    model = materialise(model)
    assert model.embedding.weight is not model.head.weight
    # No config and different values: only the model's own `tied` flag tells (notebook 07 §5).
    assert [f.kind for f in audit(model).findings] == ["config_mismatch"]
    assert "says tied=True" in audit(model).findings[0].message


def test_load_state_dict_into_a_tied_model_keeps_the_last_key():
    untied = EmbedHead(10, 3, tied=False)
    tied = EmbedHead(10, 3, tied=True)
    tied.load_state_dict(untied.state_dict())
    assert list(untied.state_dict())[-2] == "head.weight"  # after embedding.weight
    assert torch.equal(tied.embedding.weight, untied.head.weight)


def test_int8_dynamic_quantization_adds_an_int8_copy_of_a_tied_head():
    torch.manual_seed(0)
    model = EmbedHead(1000, 64, tied=True, bias=False)
    with pytest.warns(Warning):  # torch.ao.quantization is deprecated in favour of torchao
        quantized = torch.ao.quantization.quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8)
    head = quantized.head.weight()
    assert head.dtype == torch.qint8 and head.numel() * head.element_size() == 64_000
    assert quantized.embedding.weight.dtype == torch.float32
    assert "head.weight" not in dict(quantized.named_parameters())


def test_safetensors_save_model_keeps_gpt2s_lm_head_and_drops_the_embedding(tmp_path):
    transformers = pytest.importorskip("transformers")
    import safetensors.torch
    from safetensors import safe_open

    config = transformers.GPT2Config(n_layer=1, n_embd=16, n_head=2, vocab_size=50,
                                     n_positions=16, bos_token_id=0, eos_token_id=0)
    model = transformers.GPT2LMHeadModel(config)
    path = tmp_path / "model.safetensors"
    with pytest.raises(RuntimeError, match="share memory"):
        safetensors.torch.save_file(model.state_dict(), path)
    safetensors.torch.save_model(model, path)
    with safe_open(path, framework="pt") as file:
        assert "lm_head.weight" in file.keys() and "transformer.wte.weight" not in file.keys()
        assert file.metadata() == {"transformer.wte.weight": "lm_head.weight"}
