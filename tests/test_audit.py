"""Unit tests for tying_utils/audit.py (issue 12): every kind `audit` reports is created here, in a
plain PyTorch model, the package's EmbedHead / RecurrentLM, or a tiny Hugging Face GPT-2 / Llama
built offline from a config; `audit_checkpoint` is tested on files written in each format."""

from __future__ import annotations

import json
import os

os.environ["HF_HUB_OFFLINE"] = "1"  # nothing is downloaded: models are built from small configs

import pytest
import safetensors.torch
import torch
from torch import nn

from tying_utils import EmbedHead, RecurrentLM, audit, audit_checkpoint, tie, untie
from tying_utils.audit import FINDING_KINDS, INFO_KINDS, AuditReport, Finding
from tying_utils.checkpoints import CheckpointError

transformers = pytest.importorskip("transformers")
transformers.logging.set_verbosity_error()

pytestmark = pytest.mark.usefixtures("one_thread")


def kinds(report: AuditReport) -> list[str]:
    return [finding.kind for finding in report.findings]


def info_kinds(report: AuditReport) -> list[str]:
    return [item.kind for item in report.info]


def the(report: AuditReport, kind: str) -> Finding:
    [item] = [f for f in report.findings + report.info if f.kind == kind]
    return item


def gpt2(tied=True):
    config = transformers.GPT2Config(n_layer=2, n_embd=32, n_head=2, vocab_size=100,
                                     n_positions=64, bos_token_id=0, eos_token_id=0,
                                     tie_word_embeddings=tied)
    torch.manual_seed(0)
    return transformers.GPT2LMHeadModel(config)


def llama(tied=False):
    config = transformers.LlamaConfig(vocab_size=100, hidden_size=32, intermediate_size=64,
                                      num_hidden_layers=1, num_attention_heads=2,
                                      num_key_value_heads=2, max_position_embeddings=64,
                                      tie_word_embeddings=tied)
    torch.manual_seed(0)
    return transformers.LlamaForCausalLM(config)


class WithPositions(nn.Module):
    """A plain PyTorch model with token and position embeddings and a tied head."""

    def __init__(self):
        super().__init__()
        self.tokens, self.positions = nn.Embedding(20, 8), nn.Embedding(6, 8)
        self.norm, self.head = nn.LayerNorm(8), nn.Linear(8, 20, bias=False)
        tie(self.tokens, self.head)


# --- healthy models: ties are information, not findings ----------------------------------------


def test_a_tied_embed_head_has_no_findings_and_reports_its_tie_as_information():
    report = audit(EmbedHead(10, 3, tied=True))
    assert report.ok and report.findings == []
    assert report.ties == [("embedding.weight", "head.weight")]
    assert info_kinds(report) == ["tie", "safetensors_shared"]
    assert "are one Parameter" in the(report, "tie").message


@pytest.mark.parametrize("tied", [True, False])
def test_recurrent_lm_tied_and_untied_are_clean(tied):
    torch.manual_seed(0)
    model = RecurrentLM(50, 16, 16, tied=tied)
    report = audit(model, torch.optim.SGD(model.parameters(), lr=1.0))
    assert report.ok
    assert report.ties == ([("embedding.weight", "head.weight")] if tied else [])


def test_an_untied_model_with_its_own_values_is_clean():
    report = audit(EmbedHead(10, 3, tied=False))
    assert report.ok and report.ties == [] and report.info == []


# --- sharing that is not a tie ---------------------------------------------------------------


def test_alias_from_a_data_assignment():
    model = EmbedHead(10, 3, tied=False)
    model.embedding.weight.data = model.head.weight.data
    report = audit(model)
    assert kinds(report) == ["alias"]
    alias = the(report, "alias")
    assert alias.names == ("embedding.weight", "head.weight")
    assert "2 separate Parameters over the same memory" in alias.message
    assert "tie()" in alias.message


def test_a_group_of_four_names_reports_the_tie_it_still_holds_and_the_alias():
    """T5's shared, encoder and decoder embed_tokens and lm_head: after the head becomes its own
    Parameter over the same memory, three names are still one Parameter (the ground truth is
    identity), and the fourth is an alias of it."""
    t5 = transformers.T5ForConditionalGeneration(transformers.T5Config(
        vocab_size=20, d_model=4, d_kv=2, d_ff=8, num_layers=1, num_heads=2))
    t5.lm_head.weight = nn.Parameter(t5.shared.weight.data)
    truth = [name for name, p in t5.named_parameters(remove_duplicate=False)
             if p is t5.shared.weight]
    report = audit(t5)
    assert [set(names) for names in report.ties] == [set(truth)] and len(truth) == 3
    alias = the(report, "alias")
    assert set(alias.names) == set(truth) | {"lm_head.weight"}
    assert "(decoder.embed_tokens.weight, encoder.embed_tokens.weight, shared.weight) and " \
           "lm_head.weight are 2 separate Parameters" in alias.message


def test_alias_from_load_state_dict_assign():
    model = EmbedHead(10, 3, tied=True)
    model.load_state_dict(EmbedHead(10, 3, tied=True).state_dict(), assign=True)
    assert kinds(audit(model)) == ["alias"]


def test_view_of_the_head_matrix():
    model = EmbedHead(10, 3, tied=False)
    model.flat = nn.Parameter(model.head.weight.view(-1))
    report = audit(model)
    assert kinds(report) == ["view"]
    assert the(report, "view").names == ("flat", "head.weight")


# --- a tie lost by copying -----------------------------------------------------------------------


@pytest.mark.parametrize("how", ["clone", "untie"])
def test_lost_tie_in_a_plain_model(how):
    model = EmbedHead(10, 3, tied=how == "untie")
    if how == "clone":
        model.embedding.weight = nn.Parameter(model.head.weight.detach().clone())
    else:
        untie(model, "embedding.weight")
    report = audit(model)
    assert kinds(report) == ["lost_tie"]
    assert the(report, "lost_tie").names == ("embedding.weight", "head.weight")


def test_lost_tie_is_not_reported_once_the_copies_differ():
    model = EmbedHead(10, 3, tied=True)
    untie(model, "embedding.weight")
    with torch.no_grad():
        model.embedding.weight.add_(0.1)
    assert audit(model).ok


def test_lost_tie_and_config_mismatch_in_hugging_face_gpt2():
    model = gpt2(tied=True)
    assert audit(model).ok  # as built: one Parameter, as the config says
    model.lm_head.weight = nn.Parameter(model.transformer.wte.weight.detach().clone())
    report = audit(model)
    assert kinds(report) == ["lost_tie", "config_mismatch"]
    assert the(report, "config_mismatch").names == ("transformer.wte.weight", "lm_head.weight")
    assert "config.tie_word_embeddings is True but" in the(report, "config_mismatch").message


def test_config_mismatch_when_config_says_untied_but_llama_holds_one_parameter():
    model = llama(tied=False)
    assert audit(model).ok
    model.lm_head.weight = model.model.embed_tokens.weight
    report = audit(model)
    assert kinds(report) == ["config_mismatch"]
    assert "from_pretrained, following the config, then starts lm_head.weight from random" in \
        the(report, "config_mismatch").message


def test_tied_llama_from_its_config_is_clean():
    report = audit(llama(tied=True))
    assert report.ok and report.ties == [("lm_head.weight", "model.embed_tokens.weight")]
    assert "config.tie_word_embeddings is True" in the(report, "config").message


# --- the optimizer ---------------------------------------------------------------------------


def test_optimizer_missing_the_tied_parameter():
    model = EmbedHead(10, 3, tied=True)
    report = audit(model, torch.optim.Adam([model.head.bias]))
    assert kinds(report) == ["optimizer_missing"]
    assert the(report, "optimizer_missing").names == ("embedding.weight", "head.weight")


def test_frozen_tied_parameter_is_not_missing_from_the_optimizer():
    model = EmbedHead(10, 3, tied=True)
    model.head.weight.requires_grad_(False)
    report = audit(model, torch.optim.Adam([model.head.bias]))
    assert report.ok


def test_optimizer_duplicate_in_one_group_from_named_parameters_without_dedup():
    model = EmbedHead(10, 3, tied=True)
    every_name = [p for _, p in model.named_parameters(remove_duplicate=False)]
    with pytest.warns(UserWarning, match="duplicate parameters"):
        optimizer = torch.optim.Adam(every_name)
    report = audit(model, optimizer)
    assert kinds(report) == ["optimizer_duplicate"]
    assert "twice (in one param group)" in the(report, "optimizer_duplicate").message


def test_optimizer_duplicate_in_two_groups():
    model = EmbedHead(10, 3, tied=True)
    optimizer = torch.optim.AdamW([{"params": [model.head.weight]},
                                   {"params": [model.head.bias], "weight_decay": 0.0}])
    optimizer.param_groups[1]["params"].append(model.embedding.weight)  # torch checks only at init
    report = audit(model, optimizer)
    assert kinds(report) == ["optimizer_duplicate"]
    assert "param groups 0, 1" in the(report, "optimizer_duplicate").message


def test_optimizer_stale_after_untie():
    model = EmbedHead(10, 3, tied=True)
    optimizer = torch.optim.Adam(model.parameters())
    untie(model, "embedding.weight")
    with torch.no_grad():
        model.embedding.weight.add_(0.1)  # not a lost tie any more: only the optimizer is wrong
    assert audit(model).ok
    report = audit(model, optimizer)
    assert "optimizer_stale" not in kinds(report)  # the old Parameter is still head.weight
    optimizer = torch.optim.Adam(model.parameters())
    model.head.weight = nn.Parameter(model.head.weight.detach().clone() + 1)
    report = audit(model, optimizer)
    assert kinds(report) == ["optimizer_stale"]
    assert "1 tensor (10×3)" in the(report, "optimizer_stale").message


def test_alias_in_optimizer_is_stepped_twice():
    model = EmbedHead(10, 3, tied=False)
    model.embedding.weight.data = model.head.weight.data
    report = audit(model, torch.optim.Adam(model.parameters()))
    assert kinds(report) == ["alias", "alias_in_optimizer"]
    assert "steps that memory twice" in the(report, "alias_in_optimizer").message


def test_decay_mismatch_in_a_plain_model_and_its_fix():
    model = WithPositions()
    decay = [model.head.weight]  # a "decay Linear weights" rule caught the tied matrix
    no_decay = [model.positions.weight, model.norm.weight, model.norm.bias]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                                   {"params": no_decay, "weight_decay": 0.0}])
    report = audit(model, optimizer)
    assert kinds(report) == ["decay_mismatch"]
    mismatch = the(report, "decay_mismatch")
    assert mismatch.names == ("head.weight", "tokens.weight", "positions.weight")
    assert "weight_decay 0.1 while the other embeddings (positions.weight) have 0" in \
        mismatch.message
    optimizer = torch.optim.AdamW([{"params": decay + no_decay[:1], "weight_decay": 0.1},
                                   {"params": no_decay[1:], "weight_decay": 0.0}])
    assert audit(model, optimizer).ok


def test_decay_mismatch_in_gpt2_nanogpt_style_groups():
    model = gpt2(tied=True)
    # nanoGPT's first version: no decay for embeddings, so decay.remove('lm_head.weight') put
    # the tied matrix in no_decay; here the position embedding is (wrongly) decayed instead.
    names = dict(model.named_parameters())
    decay = [p for n, p in names.items() if p.dim() == 2 and "wte" not in n]
    no_decay = [p for n, p in names.items() if p.dim() < 2 or "wte" in n]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                                   {"params": no_decay, "weight_decay": 0.0}])
    report = audit(model, optimizer)
    assert kinds(report) == ["decay_mismatch"]
    assert the(report, "decay_mismatch").names == (
        "lm_head.weight", "transformer.wte.weight", "transformer.wpe.weight")


def test_audit_rejects_what_is_not_a_model_or_an_optimizer():
    with pytest.raises(ValueError, match=r"audit\(\) needs an nn\.Module, got dict"):
        audit({})
    with pytest.raises(ValueError, match="torch.optim.Optimizer .or None. as its optimizer, got "
                                         "list"):
        audit(EmbedHead(4, 2, tied=True), [])


# --- requires_grad, meta, safetensors -------------------------------------------------------------


def test_freezing_the_head_freezes_the_embedding_too():
    model = EmbedHead(10, 3, tied=True)
    model.head.weight.requires_grad_(False)
    assert model.embedding.weight.requires_grad is False
    report = audit(model)
    assert report.ok  # information, not a problem
    frozen = the(report, "shared_requires_grad")
    assert frozen.names == ("embedding.weight", "head.weight")
    assert "frozen together" in frozen.message


def test_meta_device_parameters():
    report = audit(EmbedHead(10, 3, tied=False).to("meta"))
    assert kinds(report) == ["meta_device"]
    assert the(report, "meta_device").names == ("embedding.weight", "head.weight", "head.bias")
    assert "only identity shows a tie" in the(report, "meta_device").message


def test_safetensors_shared_matches_what_save_file_refuses(tmp_path):
    for model in (EmbedHead(10, 3, tied=True), EmbedHead(10, 3, tied=False)):
        path = tmp_path / "model.safetensors"
        reported = [item.names for item in audit(model).info if item.kind == "safetensors_shared"]
        try:
            safetensors.torch.save_file(model.state_dict(), path)
            refused = False
        except RuntimeError as error:
            refused = "share memory" in str(error)
        assert refused == bool(reported)
    assert reported == []  # the untied model, last
    assert "save_model" in the(audit(EmbedHead(4, 2, tied=True)), "safetensors_shared").message


# --- the report as text, HTML and data -----------------------------------------------------------


def problem_model():
    model = EmbedHead(10, 3, tied=False)
    model.embedding.weight.data = model.head.weight.data
    model.pos = nn.Embedding(4, 3)
    model.frozen = nn.Linear(3, 4)
    model.frozen.weight = model.pos.weight
    model.frozen.weight.requires_grad_(False)
    return model


def test_report_text_has_one_line_per_item_and_a_summary():
    report = audit(problem_model())
    lines = str(report).splitlines()
    assert lines[0] == "audit of EmbedHead (6 parameter names)"
    assert len(lines) == 2 + len(report.findings) + len(report.info)
    assert sum(line.startswith("  FINDING  alias ") for line in lines) == 1
    assert lines[-1] == "1 finding, 1 tie"


def test_report_as_dict_is_json_ready_and_complete():
    report = audit(problem_model())
    data = json.loads(json.dumps(report.as_dict()))
    assert data["ok"] is False and data["ties"] == [["frozen.weight", "pos.weight"]]
    assert [f["kind"] for f in data["findings"]] == ["alias"]
    assert {"tie", "shared_requires_grad", "safetensors_shared"} <= {i["kind"]
                                                                    for i in data["info"]}
    items = data["findings"] + data["info"]
    assert all(set(item) == {"kind", "names", "message"} for item in items)


def test_report_html_is_a_table_with_escaped_text():
    report = AuditReport("<model>")
    report.add("alias", ("a", "b"), "x < y & z")
    text = report._repr_html_()
    assert "&lt;model&gt;" in text and "x &lt; y &amp; z" in text and "<table>" in text
    assert "<model>" not in text


def test_every_message_is_one_sentence_and_every_kind_is_declared():
    reports = [audit(problem_model()), audit(EmbedHead(10, 3, tied=False).to("meta")),
               audit(EmbedHead(10, 3, tied=True), torch.optim.Adam([nn.Parameter(torch.ones(2))]))]
    for report in reports:
        for item in report.findings:
            assert item.kind in FINDING_KINDS
        for item in report.info:
            assert item.kind in INFO_KINDS
        for item in report.findings + report.info:
            assert item.message.endswith(".") and "\n" not in item.message
            assert ". " not in item.message.replace("e.g. ", "")


# --- checkpoints, read without their model --------------------------------------------------------


def test_a_plain_state_dict_is_judged_by_storage_and_values_whatever_its_names(tmp_path):
    """No family of names decides: `tok_emb`/`head` (the head with a bias) is judged like any."""
    torch.manual_seed(0)
    tok_emb, head_bias = torch.randn(12, 4), torch.randn(12)
    tied = {"tok_emb.weight": tok_emb, "head.weight": tok_emb, "head.bias": head_bias,
            "blocks.0.w": torch.randn(4, 4)}
    torch.save(tied, tmp_path / "tied.pt")
    report = audit_checkpoint(tmp_path / "tied.pt")
    assert report.ok and [set(names) for names in report.ties] == [{"tok_emb.weight",
                                                                     "head.weight"}]
    assert "embedding.weight" not in str(report)  # only names the file holds
    copied = {**tied, "head.weight": tok_emb.clone()}  # a tie lost by copying
    torch.save(copied, tmp_path / "copied.pt")
    report = audit_checkpoint(tmp_path / "copied.pt")
    assert kinds(report) == ["lost_tie"]
    assert set(the(report, "lost_tie").names) == {"tok_emb.weight", "head.weight"}
    zeros = {"a.weight": torch.zeros(12, 4), "b.weight": torch.zeros(12, 4)}
    safetensors.torch.save_file(zeros, tmp_path / "zeros.safetensors")
    assert audit_checkpoint(tmp_path / "zeros.safetensors").ok  # equal, but all one value


def test_audit_checkpoint_of_torch_save_files(tmp_path):
    torch.save(EmbedHead(10, 3, tied=True).state_dict(), tmp_path / "tied.pt")
    report = audit_checkpoint(tmp_path / "tied.pt")
    assert report.ok and info_kinds(report) == ["stored_once", "judged_by"]
    untied = EmbedHead(10, 3, tied=False)
    with torch.no_grad():
        untied.embedding.weight.copy_(untied.head.weight)
    torch.save({"model": untied.state_dict(), "epoch": 3}, tmp_path / "nested.pt")
    assert kinds(audit_checkpoint(tmp_path / "nested.pt")) == ["lost_tie"]


def test_audit_checkpoint_of_a_pytorch_model_bin_folder_whose_config_says_untied(tmp_path):
    model = llama(tied=True)
    model.config.tie_word_embeddings = False
    model.config.to_json_file(tmp_path / "config.json")
    torch.save(model.state_dict(), tmp_path / "pytorch_model.bin")  # stored once: a tied model
    report = audit_checkpoint(tmp_path)
    assert kinds(report) == ["config_mismatch"]
    assert "says tie_word_embeddings=false" in the(report, "config_mismatch").message


def test_audit_checkpoint_of_save_pretrained_folders(tmp_path):
    gpt2(tied=True).save_pretrained(tmp_path / "tied", max_shard_size="20KB")
    report = audit_checkpoint(tmp_path / "tied")
    assert report.ok and "shards" in report.subject
    assert the(report, "tied_at_load").names == ("lm_head.weight", "transformer.wte.weight")
    model = llama(tied=False)
    model.lm_head.weight = model.model.embed_tokens.weight  # a tie the config does not know about
    model.save_pretrained(tmp_path / "forced")
    report = audit_checkpoint(tmp_path / "forced")
    assert kinds(report) == ["head_missing"]
    assert "would start from random values" in the(report, "head_missing").message
    different = gpt2(tied=True)
    different.lm_head.weight = nn.Parameter(different.transformer.wte.weight.detach() + 1)
    different.save_pretrained(tmp_path / "different")  # transformers 5 writes both matrices
    assert kinds(audit_checkpoint(tmp_path / "different")) == ["config_mismatch"]


def test_audit_checkpoint_of_a_sharded_pytorch_model_bin_folder(tmp_path):
    state = llama(tied=False).state_dict()
    with torch.no_grad():
        state["lm_head.weight"].copy_(state["model.embed_tokens.weight"])  # a lost tie
    keys = sorted(state)
    shards = {"pytorch_model-00001-of-00002.bin": keys[:5],
              "pytorch_model-00002-of-00002.bin": keys[5:]}
    for name, shard_keys in shards.items():
        torch.save({key: state[key].clone() for key in shard_keys}, tmp_path / name)
    weight_map = {key: name for name, shard_keys in shards.items() for key in shard_keys}
    (tmp_path / "pytorch_model.bin.index.json").write_text(json.dumps({"weight_map": weight_map}))
    report = audit_checkpoint(tmp_path)
    assert "pytorch_model.bin.index.json (2 shards)" in report.subject
    assert kinds(report) == ["lost_tie"]  # no config.json: judged by values
    assert set(the(report, "lost_tie").names) == {"model.embed_tokens.weight", "lm_head.weight"}


def test_audit_checkpoint_of_t5_knows_its_four_names_of_one_matrix_from_the_class(tmp_path):
    """T5 holds shared, encoder/decoder embed_tokens and lm_head as one Parameter; a file that
    stores two of them as equal copies holds a lost tie, two different ones disagree."""
    model = transformers.T5ForConditionalGeneration(transformers.T5Config(
        vocab_size=20, d_model=4, d_kv=2, d_ff=8, num_layers=1, num_heads=2))
    model.config.architectures = ["T5ForConditionalGeneration"]  # as save_pretrained writes it
    model.config.to_json_file(tmp_path / "config.json")
    state = {k: v.clone() for k, v in model.state_dict().items()
             if k not in ("decoder.embed_tokens.weight", "lm_head.weight")}
    safetensors.torch.save_file(state, tmp_path / "model.safetensors")
    report = audit_checkpoint(tmp_path)
    assert kinds(report) == ["lost_tie"]  # a copy, saved from a model that had lost its tie
    assert "judged by the structure of T5ForConditionalGeneration" in report.subject
    assert the(report, "lost_tie").names == ("shared.weight", "encoder.embed_tokens.weight")
    assert set(the(report, "tied_at_load").names) == {
        "decoder.embed_tokens.weight", "lm_head.weight", "shared.weight"}
    state["encoder.embed_tokens.weight"] = torch.randn(20, 4)
    safetensors.torch.save_file(state, tmp_path / "model.safetensors")
    assert kinds(audit_checkpoint(tmp_path)) == ["config_mismatch"]


def test_audit_checkpoint_of_safetensors_files(tmp_path):
    safetensors.torch.save_model(EmbedHead(10, 3, tied=True), tmp_path / "tied.safetensors")
    report = audit_checkpoint(tmp_path / "tied.safetensors")
    assert report.ok and the(report, "tied_at_load").names == ("head.bias", "embedding.weight")
    assert the(report, "tied_at_load").message.startswith(
        "head.weight is not stored, to be tied to embedding.weight at load")
    assert "2 tensors" in report.subject


@pytest.mark.parametrize("content, message", [
    (None, "does not exist"),
    ("text", "is not a PyTorch checkpoint"),
    ({"epoch": 3}, "holds no state dict"),
])
def test_audit_checkpoint_bad_input_is_a_one_sentence_value_error(tmp_path, content, message):
    path = tmp_path / "model.pt"
    if content == "text":
        path.write_text("not a checkpoint\n")
    elif content is not None:
        torch.save(content, path)
    with pytest.raises(CheckpointError, match=message) as error:
        audit_checkpoint(path)
    assert isinstance(error.value, ValueError) and "\n" not in str(error.value)


# --- found while writing notebook 07 ------------------------------------------------------------

@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")
def test_a_dynamically_quantized_head_does_not_crash_audit_and_is_named():
    """quantize_dynamic puts a dtype and packed parameters into the state_dict, and the head's
    weight is no Parameter any more: audit must say what it is, not crash or print '?'."""
    model = gpt2(tied=True)
    quantized = torch.ao.quantization.quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8)
    report = audit(quantized)
    mismatch = the(report, "config_mismatch")
    assert "?" not in mismatch.message and "lm_head (a " in mismatch.message
    assert "tie_weights() would discard it" in mismatch.message


@pytest.mark.parametrize("build", [lambda: EmbedHead(10, 3, tied=True),
                                   lambda: RecurrentLM(20, 4, 4, tied=True)])
def test_a_package_model_that_says_tied_but_is_not(build):
    """No config, copies that differ: the model's own `tied` flag is what tells."""
    model = build()
    model.embedding.weight = nn.Parameter(model.head.weight.detach().clone() + 1)
    mismatch = the(audit(model), "config_mismatch")
    assert "says tied=True" in mismatch.message and "tie(model.embedding, model.head)" in \
        mismatch.message
    tie(model.embedding, model.head)
    assert audit(model).ok


def test_untie_keeps_the_models_tied_flag_in_step():
    model = EmbedHead(10, 3, tied=True)
    untie(model, "embedding.weight")
    assert model.tied is False
    assert kinds(audit(model)) == ["lost_tie"]  # equal copies until they train apart


def test_a_safetensors_file_from_save_model_says_which_name_its_metadata_stores(tmp_path):
    """safetensors' save_model writes one name per memory and records the other in the file's
    metadata: the file is tied at load, which audit_checkpoint says from that metadata (a head
    without a bias, so no other rule can tell)."""
    import safetensors.torch
    from torch import nn

    from tying_utils import audit_checkpoint

    model = nn.ModuleDict({"embedding": nn.Embedding(10, 4), "head": nn.Linear(4, 10, bias=False)})
    model["head"].weight = model["embedding"].weight
    path = tmp_path / "tied.safetensors"
    safetensors.torch.save_model(model, path)
    report = audit_checkpoint(path)
    with safetensors.safe_open(str(path), framework="pt") as file:
        (absent,) = {"embedding.weight", "head.weight"} - set(file.keys())
    assert report.ok and report.ties == [("embedding.weight", "head.weight")]
    (item,) = [item for item in report.info if item.kind == "tied_at_load"]
    assert item.message.startswith(f"{absent} is not stored: the file's own metadata")
