"""The bounded part of the wide harness that every `make test` runs (about a minute): a dozen
architectures of different shapes, every case of `harness.py` on each. `make test-audit-wide`
runs all the architectures the harness can build."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"  # nothing is downloaded: models are built from small configs

import pytest

pytest.importorskip("transformers")

import harness  # noqa: E402  (this folder is on sys.path: pytest puts a test's folder there)

# Decoder-only, masked-LM, encoder-decoder and a state-space model; heads called lm_head,
# lm_head.decoder, embed_out (saved under that name, loaded as lm_head), cls.predictions.decoder,
# generator_lm_head; embeddings called wte, embed_tokens, word_embeddings, shared; and configs that
# ask for a tie the class does not make (BigBird-Pegasus's decoder, RemBERT's unequal shapes).
SUBSET = ["GPT2LMHeadModel", "LlamaForCausalLM", "OPTForCausalLM", "BloomForCausalLM",
          "GPTNeoXForCausalLM", "RobertaForMaskedLM", "ElectraForMaskedLM", "MambaForCausalLM",
          "BartForConditionalGeneration", "T5ForConditionalGeneration",
          "BigBirdPegasusForCausalLM", "RemBertForMaskedLM"]
BY_NAME = {arch.class_name: arch for arch in harness.architectures()}


@pytest.mark.parametrize("name", SUBSET)
def test_every_case_of_an_architecture_gets_the_verdict_its_ground_truth_expects(
        name, tmp_path, one_thread):
    if harness.build(BY_NAME[name], True) is None:
        pytest.fail(f"{name} no longer builds from a tiny config")
    results = harness.run_architecture(BY_NAME[name], tmp_path)
    assert len(results) >= 20, [r.case for r in results]
    misses = [(r.case, r.expected, r.found, r.error) for r in results if not r.passed]
    assert misses == []


def test_the_broken_variants_expect_findings_so_the_harness_can_fail(tmp_path, one_thread):
    """Ground truth is not 'whatever audit says': the broken variants expect findings of their
    own, and a tied model saved the usual way expects none."""
    results = {r.case: r for r in harness.run_architecture(BY_NAME["OPTForCausalLM"], tmp_path)}
    assert results["memory: copied head"].expected == ["config_mismatch", "lost_tie"]
    assert results["memory: alias head"].expected == ["alias", "config_mismatch"]
    assert results["file: copied head, folder"].expected == ["lost_tie"]
    assert results["file: untied, head dropped"].expected == ["head_missing"]
    assert results["file: tied, folder"].expected == []
