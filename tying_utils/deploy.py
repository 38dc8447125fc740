"""Export, convert and quantize a tied model: the writing side of notebook 09 (export_and_deploy).

`exported.py` reads what these write. Four pieces of plumbing the notebook shows at work:

- `LogitsOnly`: the course's models return `(logits, state)`; exporters want one tensor out;
- `deduplicate_onnx`: an ONNX file with a copied initializer rewritten to store it once;
- `write_gguf`: a Hugging Face GPT-2's tensors written to GGUF under the names llama.cpp's
  converter (convert_hf_to_gguf.py) gives them: `gguf.get_tensor_name_map`, GPT-2's Conv1D weights
  transposed, the attention masks left out, and for a tied model no `output.weight`. It writes no
  tokenizer and no file type; its files were not compared with the converter's or loaded by
  llama.cpp;
- `Int8Matrix`, `Int8Linear`, `Int8Embedding`, `quantize_token_matrices`: weight-only int8 (one
  scale per row, symmetric), written out in plain PyTorch so that each byte can be counted.
"""

from __future__ import annotations

import io
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["Int8Embedding", "Int8Linear", "Int8Matrix", "LogitsOnly", "QUANTIZE_CHOICES",
           "deduplicate_onnx", "saved_bytes", "quantize_token_matrices", "write_gguf"]


class LogitsOnly(nn.Module):
    """Wrap a model whose forward returns `(logits, state)` so that it returns the logits alone."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model
        self.train(model.training)  # an exporter checks the mode of the module it is given

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.model(tokens)[0]


def saved_bytes(module_or_state) -> int:
    """Bytes that `torch.save(state_dict)` writes (it stores shared memory once)."""
    state = (module_or_state.state_dict() if isinstance(module_or_state, nn.Module)
             else module_or_state)
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getbuffer().nbytes


# --- ONNX: one initializer in place of two -------------------------------------------------------


def deduplicate_onnx(source, target) -> list[str]:
    """Write `source` to `target` with every initializer that repeats another (equal, or equal
    transposed: `exported.duplicated_initializers`) replaced by a node that computes it from the
    one kept (Identity or Transpose), as optimum's post-processing does (huggingface/optimum#1326).
    Returns the names of the initializers removed."""
    import onnx
    from onnx import helper

    from .exported import duplicated_initializers, onnx_initializers

    copies = {copy: (kept, transposed) for kept, copy, transposed
              in duplicated_initializers(onnx_initializers(source))}
    model = onnx.load(str(source))
    kept_initializers = [t for t in model.graph.initializer if t.name not in copies]
    del model.graph.initializer[:]
    model.graph.initializer.extend(kept_initializers)
    for position, (copy, (kept, transposed)) in enumerate(copies.items()):
        node = (helper.make_node("Transpose", [kept], [copy], perm=[1, 0]) if transposed
                else helper.make_node("Identity", [kept], [copy]))
        model.graph.node.insert(position, node)
    onnx.checker.check_model(model)
    onnx.save(model, str(target))
    return list(copies)


# --- GGUF, the way llama.cpp's converter writes GPT-2 ---------------------------------------------


def write_gguf(model, path, copy_tied_head: bool = False) -> list[str]:
    """Write a transformers GPT2LMHeadModel's tensors to `path` under the names llama.cpp's
    converter gives them (no tokenizer, no file type); return the GGUF tensor names written. Tied
    (lm_head.weight is transformer.wte.weight): no output.weight, the loader ties it; untied: both
    matrices. `copy_tied_head=True` writes a tied model's embedding a second time as
    output.weight, as the converter did for GPT-2 until llama.cpp #12456."""
    import gguf

    config, path = model.config, Path(path)
    writer = gguf.GGUFWriter(str(path), gguf.MODEL_ARCH_NAMES[gguf.MODEL_ARCH.GPT2])
    writer.add_block_count(config.n_layer)
    writer.add_context_length(config.n_positions)
    writer.add_embedding_length(config.n_embd)
    writer.add_feed_forward_length(4 * config.n_embd)
    writer.add_head_count(config.n_head)
    writer.add_layer_norm_eps(config.layer_norm_epsilon)
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.GPT2, config.n_layer)
    tied = model.lm_head.weight is model.transformer.wte.weight
    written = []
    for name, tensor in model.state_dict().items():
        masks = name.endswith((".attn.bias", ".attn.masked_bias"))
        if masks or (tied and name == "lm_head.weight" and not copy_tied_head):
            continue  # masks are rebuilt at load; a tied head is the embedding
        data = tensor.detach().float()
        if name.endswith((".c_attn.weight", ".c_proj.weight", ".c_fc.weight")):
            data = data.T  # GPT-2's Conv1D stores (in, out); GGUF wants nn.Linear's (out, in)
        gguf_name = names.get_name(name, try_suffixes=(".weight", ".bias"))
        if gguf_name is None:
            raise ValueError(f"no GGUF name for the GPT-2 tensor {name!r}.")
        writer.add_tensor(gguf_name, data.contiguous().numpy())
        written.append(gguf_name)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return written


# --- weight-only int8 -----------------------------------------------------------------------------


class Int8Matrix(nn.Module):
    """A (rows, cols) float matrix as int8 values and one float32 scale per row (symmetric:
    row · 127 / max |row|). `dequantize()` gives float32 back, at most scale / 2 off per entry."""

    def __init__(self, weight: torch.Tensor):
        super().__init__()
        weight = weight.detach().float()
        scale = weight.abs().amax(dim=1).clamp_min(1e-12) / 127
        self.register_buffer("values", torch.round(weight / scale[:, None]).to(torch.int8))
        self.register_buffer("scale", scale)

    def dequantize(self, rows: torch.Tensor | None = None) -> torch.Tensor:
        values, scale = ((self.values, self.scale) if rows is None
                         else (self.values[rows], self.scale[rows]))
        return values.float() * scale[..., None]


class Int8Linear(nn.Module):
    """A bias-free linear layer whose weight is an `Int8Matrix` (dequantized when it runs)."""

    def __init__(self, matrix: Int8Matrix):
        super().__init__()
        self.matrix = matrix

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.matrix.dequantize())


class Int8Embedding(nn.Module):
    """A lookup table whose rows are an `Int8Matrix` (only the looked-up rows are dequantized)."""

    def __init__(self, matrix: Int8Matrix):
        super().__init__()
        self.matrix = matrix

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.matrix.dequantize(tokens)


QUANTIZE_CHOICES = ("head", "skip_head", "both_shared")


def quantize_token_matrices(model: nn.Module, how: str) -> nn.Module:
    """Quantize a model's `head` (nn.Linear) and `embedding` (nn.Embedding) in place, `how`:

    - "head": the head alone (every other module stays float): the embedding keeps the float
      matrix, so a tied model now stores it twice (float and int8), untied; a tool that quantizes
      every nn.Linear does this to the head, and converts the other Linears too;
    - "skip_head": nothing at all, so the bytes cannot change (a tool that leaves a tied head out
      still quantizes the other Linears): the float matrix, once;
    - "both_shared": one Int8Matrix that both the lookup and the head read: still tied.
    """
    if how not in QUANTIZE_CHOICES:
        raise ValueError(f"how must be one of {', '.join(QUANTIZE_CHOICES)}, got {how!r}.")
    if how == "head":
        model.head = Int8Linear(Int8Matrix(model.head.weight))
    elif how == "both_shared":
        shared = Int8Matrix(model.head.weight)
        model.head, model.embedding = Int8Linear(shared), Int8Embedding(shared)
    return model
