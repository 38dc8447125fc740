"""The claims of notebook 07 (tie lifecycle) whose checks left the notebook for the test suite.

The notebook keeps one assert per case, the one a student learns from (and nbval compares its
printed tables); these check the rest of each case's claims on the same tiny models, built by
`tying_utils.lifecycle_cases` as the notebook builds them.
"""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"  # nothing is downloaded: models are built from small configs

import logging  # noqa: E402
import tempfile  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

transformers = pytest.importorskip("transformers")
peft = pytest.importorskip("peft")
safetensors_torch = pytest.importorskip("safetensors.torch")

from accelerate import dispatch_model, init_empty_weights  # noqa: E402
from torch.func import functional_call, grad  # noqa: E402
from transformers import GPT2LMHeadModel, LlamaForCausalLM  # noqa: E402

from tying_utils import audit, audit_checkpoint, count_parameters, tie, untie  # noqa: E402
from tying_utils.lifecycle_cases import (  # noqa: E402
    DIM,
    IGNORED_WARNINGS,
    VOCAB,
    caught_warnings,
    counting_batch,
    kinds,
    lm_loss,
    logits_of,
    materialise,
    matrix_bytes,
    one_matrix,
    same_logits,
    saved_bytes,
    tiny_gpt2,
    tiny_llama,
    tiny_transformer,
    train,
    transformers_log,
)
from tying_utils.transformer import TransformerLM  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")
UNRELATED = ("`is_gradient_checkpointing` is deprecated", FutureWarning)  # the notebook's filter


@pytest.fixture(scope="module")
def stored():
    """Section 2: a tied Llama saved by save_pretrained (no lm_head.weight in the file)."""
    source = tiny_llama(tied=True, seed=1)
    with tempfile.TemporaryDirectory() as folder:
        source.save_pretrained(Path(folder) / "llama-tied")
        weights = safetensors_torch.load_file(Path(folder) / "llama-tied" / "model.safetensors")
    return source, weights


def _loaded(weights):
    model = tiny_llama(tied=False, seed=2)
    model.load_state_dict(weights, strict=False)
    return model


def test_loading_leaving_the_head_random_is_wrong_but_clean(stored):
    source, weights = stored
    model = _loaded(weights)
    assert not same_logits(model, source) and audit(model).ok


def test_a_copied_head_counts_one_matrix_too_many(stored):
    source, weights = stored
    model = _loaded(weights)
    with torch.no_grad():
        model.lm_head.weight.copy_(model.model.embed_tokens.weight)
    assert count_parameters(model).unique == count_parameters(source).unique + VOCAB * DIM


def test_tying_in_the_wrong_direction_keeps_the_random_head(stored):
    source, weights = stored
    model = _loaded(weights)
    model.config.tie_word_embeddings = True
    model.model.embed_tokens.weight = model.lm_head.weight
    assert one_matrix(model)
    assert not same_logits(model, source)


def test_tying_in_the_right_direction_restores_the_model(stored):
    source, weights = stored
    model = _loaded(weights)
    model.config.tie_word_embeddings = True
    model.lm_head.weight = model.model.embed_tokens.weight
    assert same_logits(model, source)
    assert audit(model).ok
    assert count_parameters(model).unique == count_parameters(source).unique


def test_groups_that_decide_embeddings_first_pass_the_audit():
    model = tiny_gpt2()
    embeddings = {id(m.weight) for m in model.modules() if isinstance(m, nn.Embedding)}
    decayed = [p for p in model.parameters() if p.dim() == 2 and id(p) not in embeddings]
    others = [p for p in model.parameters() if p.dim() < 2 or id(p) in embeddings]
    optimizer = torch.optim.AdamW([{"params": decayed, "weight_decay": 0.1},
                                   {"params": others, "weight_decay": 0.0}])
    assert audit(model, optimizer).ok


def test_freezing_the_body_is_reported_as_information():
    model = tiny_gpt2()
    model.transformer.requires_grad_(False)
    frozen = audit(model)
    assert frozen.ok and "shared_requires_grad" in [item.kind for item in frozen.info]


def test_an_untied_head_trains_while_the_frozen_embedding_stays():
    model = tiny_gpt2()
    model.transformer.requires_grad_(False)
    untie(model, "lm_head.weight")
    model.config.tie_word_embeddings = False
    model.lm_head.weight.requires_grad_(True)
    before = model.transformer.wte.weight.detach().clone()
    train(model, steps=1)
    assert audit(model).ok and torch.equal(model.transformer.wte.weight, before)


def test_which_moves_keep_a_tie():
    for make in (lambda: tiny_gpt2().to(torch.bfloat16), lambda: tiny_gpt2().half()):
        assert one_matrix(make())
    with torch.device("meta"):
        assert one_matrix(GPT2LMHeadModel(tiny_gpt2().config))
    with init_empty_weights():
        empty = GPT2LMHeadModel(tiny_gpt2().config)
    assert kinds(audit(empty)) == ["config_mismatch", "meta_device"]
    materialised = tiny_gpt2().to("meta").to_empty(device="cpu")
    with torch.no_grad():
        for param in materialised.parameters():
            param.normal_(0, 0.02)
    materialised.tie_weights()
    assert one_matrix(materialised) and audit(materialised).ok


def _built_on_meta_and_trained(tie_after_materialising):
    with torch.device("meta"):
        model = TransformerLM(VOCAB, DIM, tied=True, dropout=0.0)
    torch.manual_seed(3)
    model = materialise(model)
    if tie_after_materialising:
        tie(model.embedding, model.head)
    report = audit(model)
    train(model, steps=30)
    with torch.no_grad():
        trained = lm_loss(model, counting_batch(999)).item()
        evaluated = tiny_transformer()
        evaluated.load_state_dict(model.state_dict())
        reloaded = lm_loss(evaluated, counting_batch(999)).item()
    return model, report, trained, reloaded


def test_materialising_per_module_loses_the_tie_and_tie_restores_it():
    model, lost, _, _ = _built_on_meta_and_trained(False)
    assert kinds(lost) == ["config_mismatch"] and not one_matrix(model)
    _, report, trained, reloaded = _built_on_meta_and_trained(True)
    assert report.ties and abs(reloaded - trained) < 1e-4


def test_dispatch_model_keeps_the_tie():
    dispatched = dispatch_model(tiny_gpt2(), device_map={"transformer": "cpu", "lm_head": "cpu"})
    assert one_matrix(dispatched) and audit(dispatched).ok


def test_save_pretrained_is_read_as_tied_at_load(tmp_path):
    tiny_gpt2().save_pretrained(tmp_path / "gpt2-tied")
    report = audit_checkpoint(tmp_path / "gpt2-tied")
    assert [item.kind for item in report.info] == ["config", "tied_at_load"]


def test_safetensors_save_model_and_load_model(tmp_path):
    model = tiny_gpt2()
    path = tmp_path / "gpt2.safetensors"
    safetensors_torch.save_model(model, path)
    tied_again = tiny_gpt2(seed=5)
    missing, _ = safetensors_torch.load_model(tied_again, path)
    assert same_logits(tied_again, model) and not missing
    other_tool = tiny_gpt2(tied=False, seed=5)
    other_tool.load_state_dict(safetensors_torch.load_file(path), strict=False)
    from tying_utils.cli import main as tying_utils_command

    assert audit(other_tool).ok and audit_checkpoint(path).ok
    assert tying_utils_command(["audit", str(path)]) == 0


def test_a_config_that_says_untied_loses_the_head(tmp_path):
    model = tiny_llama(tied=False)
    model.lm_head.weight = model.model.embed_tokens.weight
    with transformers_log():
        model.save_pretrained(tmp_path / "llama")
        reloaded, info = LlamaForCausalLM.from_pretrained(tmp_path / "llama",
                                                          output_loading_info=True)
        model.config.tie_word_embeddings = True
        model.save_pretrained(tmp_path / "llama-fixed")
        fixed = LlamaForCausalLM.from_pretrained(tmp_path / "llama-fixed")
    assert sorted(info["missing_keys"]) == ["lm_head.weight"] and not same_logits(reloaded, model)
    assert same_logits(fixed, model) and one_matrix(fixed)


@pytest.fixture
def warning_verbosity():
    """transformers logs at its default level, each message afresh (other test files set it to
    errors only, and `warning_once` remembers what a process has logged)."""
    verbosity = transformers.logging.get_verbosity()
    transformers.logging.set_verbosity_warning()
    logging.Logger.warning_once.cache_clear()
    yield
    transformers.logging.set_verbosity(verbosity)


def test_resize_token_embeddings_keeps_the_tie_and_logs_once(warning_verbosity):
    model = tiny_gpt2()
    with transformers_log() as log:
        model.resize_token_embeddings(VOCAB + 24)
    assert one_matrix(model) and model.lm_head.out_features == VOCAB + 24 and audit(model).ok
    assert len(log) == 1


def test_growing_a_tied_vocabulary_by_hand():
    model = tiny_transformer()
    matrix = nn.Parameter(torch.cat([model.head.weight.detach(), torch.randn(24, DIM) * 0.02]))
    model.embedding.weight = model.head.weight = matrix
    model.embedding.num_embeddings = model.head.out_features = VOCAB + 24
    assert logits_of(model).shape[-1] == VOCAB + 24 and audit(model).ok
    naive = tiny_transformer()
    naive.embedding = nn.Embedding(VOCAB + 24, DIM)
    assert not one_matrix(naive) and kinds(audit(naive)) == ["config_mismatch"]


@pytest.fixture
def lora_head():
    """Section 7: LoRA with modules_to_save=['lm_head'] on a tied Llama, trained 20 steps."""
    config = peft.LoraConfig(r=4, target_modules=["q_proj", "v_proj"], modules_to_save=["lm_head"])
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=UNRELATED[0], category=UNRELATED[1])
        IGNORED_WARNINGS.append(UNRELATED)
        try:
            with caught_warnings() as caught:
                lora = peft.get_peft_model(tiny_llama(tied=True), config)
            train(lora, steps=20, lr=1e-2)
            yield lora, caught
        finally:
            IGNORED_WARNINGS.remove(UNRELATED)


def test_peft_warns_once_about_weight_tying(lora_head):
    _, caught = lora_head
    assert len(caught) == 1 and "ensure_weight_tying" in str(caught[0].message)


def test_merging_the_drifted_head_gives_an_untied_model(lora_head):
    lora, _ = lora_head
    with torch.no_grad():
        trained = logits_of(lora)
        with caught_warnings():
            merged = lora.merge_and_unload()
        assert torch.allclose(logits_of(merged), trained, atol=1e-5) and audit(merged).ok
        merged.config.tie_word_embeddings = True
        assert kinds(audit(merged)) == ["config_mismatch"]
        merged.tie_weights()
        assert not torch.allclose(logits_of(merged), trained, atol=1e-5)


def test_ensure_weight_tying_merges_to_the_tied_size():
    config = peft.LoraConfig(r=4, target_modules=["q_proj", "v_proj"],
                             modules_to_save=["lm_head"], ensure_weight_tying=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lora = peft.get_peft_model(tiny_llama(tied=True), config)
        train(lora, steps=20, lr=1e-2)
        with torch.no_grad():
            merged = lora.merge_and_unload()
    assert count_parameters(merged).unique == count_parameters(tiny_llama()).unique


def test_int8_quantization_of_the_head():
    sizes = {}
    for tied in (True, False):
        model = tiny_gpt2(tied=tied)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            quantized = torch.ao.quantization.quantize_dynamic(model, {nn.Linear},
                                                               dtype=torch.qint8)
        sizes[tied] = (matrix_bytes(model), matrix_bytes(quantized), saved_bytes(model),
                       saved_bytes(quantized))
    assert sizes[True][:2] == (4 * VOCAB * DIM, 5 * VOCAB * DIM)
    assert sizes[False][:2] == (8 * VOCAB * DIM, 5 * VOCAB * DIM)  # untied: 3·V·d bytes less
    assert sizes[True][3] > sizes[True][2] and sizes[False][3] < sizes[False][2]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tied_quantized = torch.ao.quantization.quantize_dynamic(tiny_gpt2(), {nn.Linear},
                                                                dtype=torch.qint8)
    report = audit(tied_quantized)
    assert kinds(report) == ["config_mismatch"]
    assert "tie_weights() would discard it" in report.findings[0].message


def test_functional_call_and_torch_compile():
    model = tiny_gpt2()
    tokens = counting_batch(0)

    def loss_with(params, tie_weights=True):
        logits = functional_call(model, params, (tokens[:, :-1],), tie_weights=tie_weights).logits
        return F.cross_entropy(logits.reshape(-1, VOCAB), tokens[:, 1:].reshape(-1))

    params = {name: p.detach() for name, p in model.named_parameters()}
    gradient = grad(loss_with)(params)
    lm_loss(model, tokens).backward()
    assert torch.allclose(gradient["transformer.wte.weight"], model.transformer.wte.weight.grad,
                          atol=1e-6)
    every = {n: p.detach().clone() for n, p in model.named_parameters(remove_duplicate=False)}
    separate = grad(lambda p: loss_with(p, tie_weights=False))(every)
    stepped = {name: p - 0.1 * separate[name] for name, p in every.items()}
    reloaded = tiny_gpt2()
    reloaded.load_state_dict(stepped)
    assert torch.equal(reloaded.transformer.wte.weight, stepped["lm_head.weight"])
    compiled = torch.compile(model)
    assert audit(compiled).ties == [("_orig_mod.lm_head.weight",
                                     "_orig_mod.transformer.wte.weight")]
    loaded = tiny_gpt2().load_state_dict(compiled.state_dict(), strict=False)
    assert loaded.missing_keys and all(k.startswith("_orig_mod.") for k in loaded.unexpected_keys)


def test_the_summary_table_has_a_row_per_case():
    source = Path(__file__).resolve().parents[2] / "notebooks" / "07_tie_lifecycle.ipynb"
    assert source.read_text(encoding="utf-8").count('record(\\"') == 13
