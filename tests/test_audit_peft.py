"""`audit` on peft models and on configs that ask for a tie the class cannot make (issue 20).

Each expected verdict is first established from ground truth in the test itself (Parameter
identity, values before and after a merge, shapes), then compared with what audit says."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"  # nothing is downloaded: models are built from small configs

import warnings

import pytest
import torch

from tying_utils import audit

transformers = pytest.importorskip("transformers")
peft = pytest.importorskip("peft")
transformers.logging.set_verbosity_error()


def llama():
    torch.manual_seed(0)
    return transformers.LlamaForCausalLM(transformers.LlamaConfig(
        vocab_size=50, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
        num_attention_heads=2, num_key_value_heads=2, tie_word_embeddings=True))


def wrap(model, **lora):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # peft warns about tied layers; the test checks them
        return peft.get_peft_model(model, peft.LoraConfig(r=2, **lora))


def kinds(report) -> list[str]:
    return [finding.kind for finding in report.findings]


def test_ensure_weight_tying_with_modules_to_save_is_clean_before_and_after_steps():
    model = wrap(llama(), target_modules=["q_proj"], modules_to_save=["lm_head", "embed_tokens"],
                 ensure_weight_tying=True)
    inner = model.base_model.model
    head_copy = inner.lm_head.modules_to_save["default"].weight
    assert head_copy is inner.model.embed_tokens.modules_to_save["default"].weight  # one matrix
    assert audit(model).ok
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=0.1)
    for _ in range(2):
        ids = torch.tensor([[1, 2, 3, 4]])
        model(input_ids=ids, labels=ids).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    assert head_copy is inner.model.embed_tokens.modules_to_save["default"].weight
    report = audit(model, optimizer)
    assert report.ok, report
    assert any("modules_to_save.default.weight" in " ".join(tie) for tie in report.ties)


def test_modules_to_save_of_the_head_alone_unties_a_tied_model():
    model = wrap(llama(), target_modules=["q_proj"], modules_to_save=["lm_head"])
    inner = model.base_model.model
    head = inner.lm_head.modules_to_save["default"].weight
    embedding = inner.model.embed_tokens.weight
    assert head is not embedding and torch.equal(head, embedding)  # a copy that will train apart
    assert kinds(audit(model)) == ["lost_tie", "config_mismatch"]


def test_lora_on_a_tied_head_is_reported_because_merging_moves_the_embedding():
    model = wrap(llama(), target_modules=["q_proj", "lm_head"], init_lora_weights=False)
    report = audit(model)
    assert kinds(report) == ["adapter_on_tie"]
    message = report.findings[0].message
    assert "peft.tuners.lora.layer.Linear" in message and "model.embed_tokens.weight" in message
    before = model.base_model.model.model.embed_tokens.weight.detach().clone()
    merged = model.merge_and_unload()
    assert not torch.equal(merged.model.embed_tokens.weight, before)  # what the finding says


def test_a_config_that_asks_for_a_tie_the_shapes_cannot_make_is_information_only():
    config = transformers.RemBertConfig(
        vocab_size=50, hidden_size=16, input_embedding_size=8, output_embedding_size=12,
        num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
        tie_word_embeddings=True)
    model = transformers.RemBertForMaskedLM(config)
    embedding = model.get_input_embeddings().weight
    head = model.get_output_embeddings().weight
    assert embedding.shape != head.shape and config.tie_word_embeddings  # cannot be one matrix
    report = audit(model)
    assert report.ok, report
    [note] = [item for item in report.info if item.kind == "config_untieable"]
    assert "has no effect on this architecture" in note.message


def test_lora_on_both_tied_layers_is_not_reported_as_moving_an_unadapted_embedding():
    """With ensure_weight_tying=True, peft 0.21 puts an adapter on the embedding too, so a merge
    moves the embedding on purpose."""
    model = wrap(llama(), target_modules=["q_proj", "lm_head"], ensure_weight_tying=True)
    embedding = model.base_model.model.model.embed_tokens
    assert any("lora_embedding" in name for name, _ in embedding.named_parameters())
    assert "adapter_on_tie" not in kinds(audit(model))
