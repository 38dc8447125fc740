"""The small models and helpers that notebook 07 (tie lifecycle) builds its cases from.

Every case of notebook 07 starts from one of three tiny models: GPT-2 or Llama (tied or untied),
built offline from a config, or this course's `TransformerLM`, which needs none; checks a tie the
plain way (`one_matrix`) and with `audit` (`kinds`), and trains a few steps on an easy next-token
task. The two context managers collect what transformers logs and what Python warns inside a block,
so that a cell can print it in one line. `materialise` imitates how FSDP (version 1) gives memory
and values to a model built on the meta device.

The Hugging Face models need the `hf` extra (transformers), imported when first built: run
`notebook_setup.prepare_notebook(offline=True)` before.
"""

from __future__ import annotations

import io
import logging
import warnings
from contextlib import contextmanager

import torch
import torch.nn.functional as F

from tying_utils.transformer import TransformerLM

VOCAB, DIM = 1000, 64
NO_DROPOUT = {"resid_pdrop": 0.0, "embd_pdrop": 0.0, "attn_pdrop": 0.0}  # reruns agree exactly


def tiny_gpt2(tied=True, seed=0):
    """GPT-2's architecture at toy size (2 layers, d = 64, 1000 tokens), built from a config."""
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    return GPT2LMHeadModel(GPT2Config(vocab_size=VOCAB, n_embd=DIM, n_layer=2, n_head=2,
                                      n_positions=64, bos_token_id=0, eos_token_id=0,
                                      tie_word_embeddings=tied, **NO_DROPOUT))


def tiny_llama(tied=True, seed=0):
    """Llama's architecture at toy size."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    return LlamaForCausalLM(LlamaConfig(vocab_size=VOCAB, hidden_size=DIM, intermediate_size=128,
                                        num_hidden_layers=2, num_attention_heads=2,
                                        num_key_value_heads=2, max_position_embeddings=64,
                                        bos_token_id=0, eos_token_id=0, tie_word_embeddings=tied))


def tiny_transformer(seed=0):
    """This course's TransformerLM (notebook 06), tied, without dropout."""
    torch.manual_seed(seed)
    return TransformerLM(VOCAB, DIM, tied=True, dropout=0.0)


def one_matrix(model):
    """The plain check: are the input embedding and the output layer one Parameter?"""
    if isinstance(model, TransformerLM):
        return model.embedding.weight is model.head.weight
    return model.get_input_embeddings().weight is model.get_output_embeddings().weight


def kinds(report):
    """The kinds of a report's findings (the probable bugs), in order; [] for a clean report."""
    return [finding.kind for finding in report.findings]


PROBE = torch.randint(0, VOCAB, (2, 16), generator=torch.Generator().manual_seed(123))


def counting_batch(seed, batch=8, steps=32):
    """Sequences that count up by one (mod VOCAB) from random starts: an easy next-token task."""
    starts = torch.randint(0, VOCAB, (batch, 1), generator=torch.Generator().manual_seed(seed))
    return (starts + torch.arange(steps + 1)) % VOCAB


def logits_of(model, tokens=PROBE):
    """The logits of a Hugging Face model or of a TransformerLM (which returns a tuple)."""
    out = model(tokens)
    return out[0] if isinstance(out, tuple) else out.logits


def lm_loss(model, tokens):
    """Next-token cross-entropy on `tokens`."""
    logits = logits_of(model, tokens[:, :-1])
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tokens[:, 1:].reshape(-1))


def train(model, steps=20, lr=3e-3, optimizer=None):
    """`steps` AdamW steps on the counting task; returns the last loss."""
    if optimizer is None:
        optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr)
    for step in range(steps):
        optimizer.zero_grad()
        loss = lm_loss(model, counting_batch(step))
        loss.backward()
        optimizer.step()
    return loss.item()


def same_logits(a, b):
    """Do two models give the same logits on the fixed probe batch?"""
    with torch.no_grad():
        return torch.allclose(logits_of(a), logits_of(b), atol=1e-5)


def one_line(text, limit=160):
    """The first line of a message, cut to `limit` characters."""
    line = str(text).strip().splitlines()[0].strip()
    return line if len(line) <= limit else line[:limit - 1] + "…"


@contextmanager
def transformers_log():
    """Collect the messages transformers logs inside the block instead of printing them."""
    import transformers

    records = []
    handler = logging.Handler()
    handler.emit = records.append
    transformers.utils.logging.disable_default_handler()
    transformers.utils.logging.add_handler(handler)
    try:
        yield records
    finally:
        transformers.utils.logging.remove_handler(handler)
        transformers.utils.logging.enable_default_handler()


IGNORED_WARNINGS = []  # (message, category) of warnings unrelated to ties, each added with why


@contextmanager
def caught_warnings():
    """Collect the warnings raised inside the block (a list of warnings.WarningMessage), every
    one of them except those listed in IGNORED_WARNINGS."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for message, category in IGNORED_WARNINGS:
            warnings.filterwarnings("ignore", message=message, category=category)
        yield caught


def materialise(model):
    """Memory and values for a model on meta, one module at a time, as torch's FSDP (version 1)
    does in _materialize_meta_module: the module's to_empty(), then its own reset_parameters()."""
    for module in model.modules():
        if any(True for _ in module.parameters(recurse=False)):
            module.to_empty(device="cpu", recurse=False)
            module.reset_parameters()
    return model


def matrix_bytes(model):
    """Bytes of a GPT-2's embedding and head matrix: float, or the int8 copy of a quantized head."""
    embedding = model.transformer.wte.weight
    head = model.lm_head.weight
    head = head() if callable(head) else head  # a quantized Linear returns its int8 weight
    shared = head is embedding
    return embedding.numel() * embedding.element_size() + (0 if shared else head.numel()
                                                          * head.element_size())


def saved_bytes(model):
    """Bytes of `torch.save(model.state_dict())`."""
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.tell()
