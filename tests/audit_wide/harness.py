"""The wide harness for `audit` (issue 20): many `transformers` architectures, built offline from
tiny configs, tied and untied, broken the ways practitioners break them, saved the usual ways.

Each case compares the finding kinds `audit` / `audit_checkpoint` reports with the kinds expected
from ground truth, computed here without the package's audit code:

- in memory: Parameter identity, data pointers and values of the live model, and whether a model
  freshly built (real weights, not meta) from its config holds embedding and head as one
  Parameter;
- for files: the tensors on disk (read back with safetensors / torch.load: which names are
  stored, which share storage, which are equal), and the same freshly built model for the config.

`python tests/audit_wide/run_all.py` runs every architecture; `test_audit_wide.py` a subset.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import safetensors
import safetensors.torch
import torch
import transformers
from torch import nn
from transformers.models.auto import configuration_auto, modeling_auto

from tying_utils import audit, audit_checkpoint

transformers.logging.set_verbosity_error()
transformers.utils.logging.disable_progress_bar()

# The sizes a tiny config gets, for whichever of these keys its class has.
TINY = {
    "vocab_size": 96, "hidden_size": 16, "d_model": 16, "n_embd": 16, "embed_dim": 16,
    "embedding_size": 16, "num_hidden_layers": 1, "n_layer": 1, "num_layers": 1, "n_layers": 1,
    "encoder_layers": 1, "decoder_layers": 1, "num_decoder_layers": 1,
    "num_attention_heads": 2, "n_head": 2, "num_heads": 2, "n_heads": 2,
    "encoder_attention_heads": 2, "decoder_attention_heads": 2, "num_key_value_heads": 2,
    "intermediate_size": 32, "d_ff": 32, "ffn_dim": 32, "encoder_ffn_dim": 32,
    "decoder_ffn_dim": 32, "n_inner": 32, "d_inner": 32, "d_kv": 8, "head_dim": 8,
    "max_position_embeddings": 64, "n_positions": 64, "num_local_experts": 2,
    "num_experts": 2, "num_experts_per_tok": 1, "n_routed_experts": 2,
    "moe_intermediate_size": 16, "shared_expert_intermediate_size": 16,
}
TASK_MAPPINGS = {
    "causal-lm": modeling_auto.MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
    "masked-lm": modeling_auto.MODEL_FOR_MASKED_LM_MAPPING_NAMES,
    "seq2seq": modeling_auto.MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES,
    "vision-language": modeling_auto.MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES,
}
MAX_PARAMETERS = 3_000_000


@dataclass(frozen=True)
class Architecture:
    task: str
    class_name: str
    model_type: str


def architectures() -> list[Architecture]:
    """Every (task, class) pair of the auto mappings above, one per class, sorted."""
    seen, found = set(), []
    for task, mapping in TASK_MAPPINGS.items():
        for model_type, class_name in mapping.items():
            if isinstance(class_name, str) and class_name not in seen \
                    and model_type in configuration_auto.CONFIG_MAPPING_NAMES:
                seen.add(class_name)
                found.append(Architecture(task, class_name, model_type))
    return sorted(found, key=lambda a: a.class_name)


def tiny_config(arch: Architecture, tied: bool):
    config_class = configuration_auto.CONFIG_MAPPING[arch.model_type]
    defaults = config_class().to_dict()
    settings = {key: value for key, value in TINY.items() if key in defaults}
    for sub in ("text_config", "decoder", "encoder"):
        if isinstance(defaults.get(sub), dict):
            inner = {key: value for key, value in TINY.items() if key in defaults[sub]}
            settings[sub] = {**defaults[sub], **inner, "tie_word_embeddings": tied}
    for token in ("pad_token_id", "bos_token_id", "eos_token_id", "decoder_start_token_id",
                  "sep_token_id", "cls_token_id"):
        if isinstance(defaults.get(token), int) and defaults[token] >= TINY["vocab_size"]:
            settings[token] = 1
    config = config_class(**{**defaults, **settings, "tie_word_embeddings": tied})
    config.architectures = [arch.class_name]
    return config


def build(arch: Architecture, tied: bool, seed: int = 0) -> nn.Module | None:
    """The architecture built from a tiny config with real weights, or None where it cannot be."""
    model_class = getattr(transformers, arch.class_name, None)
    if model_class is None:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with torch.device("meta"):  # counted on meta first: no memory for a large default
                size = sum(p.numel() for p in model_class(tiny_config(arch, tied)).parameters())
            if size > MAX_PARAMETERS:
                return None
            torch.manual_seed(seed)
            model = model_class(tiny_config(arch, tied)).eval()
    except Exception:  # an architecture that needs more than a tiny config: not in the harness
        return None
    return model if embedding_pair(model) is not None else None


# --- ground truth --------------------------------------------------------------------------------


def names_of(model: nn.Module) -> dict[int, list[str]]:
    groups: dict[int, list[str]] = {}
    for name, param in model.named_parameters(remove_duplicate=False):
        groups.setdefault(id(param), []).append(name)
    return groups


def weight_name(model: nn.Module, module: nn.Module) -> str | None:
    for name, candidate in model.named_modules(remove_duplicate=False):
        if candidate is module:
            own = dict(candidate.named_parameters(recurse=False))
            return f"{name}.weight" if isinstance(own.get("weight"), nn.Parameter) else None
    return None


def embedding_pair(model: nn.Module) -> tuple[str, str] | None:
    """(input embedding weight name, output embedding weight name), or None."""
    try:
        modules = model.get_input_embeddings(), model.get_output_embeddings()
    except (AttributeError, NotImplementedError):
        return None
    if not all(isinstance(m, nn.Module) for m in modules):
        return None
    names = tuple(weight_name(model, m) for m in modules)
    return names if None not in names and names[0] != names[1] else None


def fresh_ties(model_class, config_dict: dict) -> list[set[str]]:
    """Name groups that are one Parameter in a model freshly built (real weights) from a config."""
    config = model_class.config_class.from_dict(config_dict)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fresh = model_class(config)
    return [set(names) for names in names_of(fresh).values() if len(names) > 1]


def expected_in_memory(model: nn.Module, optimizer=None) -> set[str]:
    """Finding kinds for a live model (and its optimizer), from identity, memory and values."""
    params = dict(model.named_parameters(remove_duplicate=False))
    expected = set()
    if optimizer is not None:
        held = [p for group in optimizer.param_groups for p in group["params"]]
        if any(all(p is not q for q in params.values()) for p in held):
            expected.add("optimizer_stale")  # it steps a tensor the model no longer has
    objects = {id(p): p for p in params.values()}
    by_memory: dict[int, set[int]] = {}
    for p in objects.values():
        by_memory.setdefault(p.data_ptr(), set()).add(id(p))
    if any(len(ids) > 1 for ids in by_memory.values()):
        expected.add("alias")
    embedding, head = embedding_pair(model)
    a, b = params[embedding], params[head]
    if a is not b and a.data_ptr() != b.data_ptr() and a.shape == b.shape \
            and torch.equal(a.detach(), b.detach()):
        expected.add("lost_tie")
    fresh = fresh_ties(type(model), model.config.to_dict())
    config_ties = any({embedding, head} <= group for group in fresh)
    if config_ties != (a is b):
        expected.add("config_mismatch")
    return expected


def expected_for_file(path: Path, live: nn.Module, config_dict: dict | None) -> set[str]:
    """Finding kinds for a checkpoint, from the tensors on disk and a freshly built model.

    The file's names for the embedding and the head are found by value (the keys whose tensors
    equal the live model's matrices), because transformers may save under other names than the
    model's own (it writes some architectures in their original checkpoint format)."""
    tensors, shared = read_back(path)
    expected = set()
    embedding, head = embedding_pair(live)
    live_params = dict(live.named_parameters(remove_duplicate=False))

    def same_storage(names):
        return len(names) < 2 or any(set(names) <= group for group in shared)

    def holding(name):
        value = live_params[name].detach()
        return {key for key, tensor in tensors.items()
                if tensor.shape == value.shape and torch.equal(tensor, value)}

    def constant(tensor):
        return bool((tensor == tensor.reshape(-1)[0]).all())

    if config_dict is None:  # nothing but the file: a copy is all it can show
        by_value: dict[bytes, list[str]] = {}
        for key, tensor in tensors.items():
            if tensor.dim() == 2 and tensor.numel() and not constant(tensor):
                by_value.setdefault(tensor.contiguous().view(torch.uint8).numpy().tobytes()
                                    + str(tuple(tensor.shape)).encode(), []).append(key)
        if any(not same_storage(keys) for keys in by_value.values()):
            expected.add("lost_tie")
        return expected
    fresh = fresh_ties(type(live), config_dict)
    for group in fresh:  # names the class holds as one Parameter: how the file stores them
        stored = [n for n in sorted(group) if n in live_params and holding(n)]
        values = [live_params[n].detach() for n in stored]
        if len(stored) < 1:
            continue
        if all(torch.equal(values[0], v) for v in values[1:]):
            keys = sorted(set().union(*(holding(n) for n in stored)))
            if not same_storage(keys) and not constant(values[0]):
                expected.add("lost_tie")  # one matrix, stored as separate copies
        else:
            expected.add("config_mismatch")  # two matrices where the class holds one
    config_ties = any({embedding, head} <= group for group in fresh)
    head_tied_elsewhere = any(head in group for group in fresh)
    keys_e, keys_h = holding(embedding), holding(head)
    equal = torch.equal(live_params[embedding].detach(), live_params[head].detach())
    if config_ties:
        pass
    elif equal:
        if len(keys_e) < 2 and not head_tied_elsewhere:
            expected.add("head_missing")  # two names, one matrix stored: one starts random
        elif len(keys_e) >= 2 and same_storage(sorted(keys_e)):
            expected.add("config_mismatch")
        elif len(keys_e) >= 2 and not constant(live_params[head].detach()):
            expected.add("lost_tie")
    elif not keys_e or not (keys_h or head_tied_elsewhere):
        expected.add("head_missing")
    return expected


def read_back(path: Path) -> tuple[dict[str, torch.Tensor], list[set[str]]]:
    """Every tensor a file or folder stores, and the names that share storage."""
    files = [path] if path.is_file() else sorted(
        p for p in path.iterdir() if p.suffix in (".safetensors", ".bin"))
    tensors: dict[str, torch.Tensor] = {}
    for file in files:
        if file.suffix == ".safetensors":
            tensors.update(safetensors.torch.load_file(str(file)))
        else:
            tensors.update(torch.load(file, weights_only=True))
    by_storage: dict[int, set[str]] = {}
    for name, tensor in tensors.items():
        by_storage.setdefault(tensor.untyped_storage().data_ptr(), set()).add(name)
    return tensors, [names for names in by_storage.values() if len(names) > 1]


# --- the cases -----------------------------------------------------------------------------------


@dataclass
class Result:
    architecture: str
    case: str
    expected: list[str]
    found: list[str]
    error: str = ""

    @property
    def passed(self) -> bool:
        return not self.error and self.expected == self.found


def kinds(report) -> list[str]:
    return sorted({finding.kind for finding in report.findings})


def memory_variants(arch: Architecture):
    """(name, model) for each in-memory case of one architecture."""
    for tied in (True, False):
        model = build(arch, tied)
        if model is None:
            return
        yield f"{'tied' if tied else 'untied'}", model
    embedding, head = embedding_pair(build(arch, True))
    copy = build(arch, True)
    set_param(copy, head, nn.Parameter(get_param(copy, embedding).detach().clone()))
    yield "copied head", copy
    alias = build(arch, True)
    set_param(alias, head, nn.Parameter(get_param(alias, embedding).data))
    yield "alias head", alias
    trained = build(arch, True)
    set_param(trained, head, nn.Parameter(get_param(trained, embedding).detach().clone()))
    with torch.no_grad():
        get_param(trained, head).add_(0.01)  # untied, then trained apart
    yield "untied and trained", trained
    before = build(arch, False)
    optimizer = torch.optim.SGD(before.parameters(), lr=0.1)
    set_param(before, head, get_param(before, embedding))  # tied after the optimizer was built
    yield "optimizer before tie", (before, optimizer)
    resized = build(arch, True)
    try:
        resized.resize_token_embeddings(TINY["vocab_size"] + 8)
        yield "resized", resized
    except Exception:
        pass


def get_param(model: nn.Module, name: str) -> nn.Parameter:
    module_name, _, attr = name.rpartition(".")
    return dict(model.get_submodule(module_name).named_parameters(recurse=False))[attr]


def set_param(model: nn.Module, name: str, value: nn.Parameter) -> None:
    module_name, _, attr = name.rpartition(".")
    setattr(model.get_submodule(module_name), attr, value)


def file_variants(arch: Architecture, folder: Path):
    """(name, path written, live model, config dict or None) for each file case."""
    for tied in (True, False):
        model = build(arch, tied)
        if model is None:
            return
        label = "tied" if tied else "untied"
        yield from saved_every_way(model, label, folder)
    embedding, head = embedding_pair(build(arch, True))
    copy = build(arch, True)
    set_param(copy, head, nn.Parameter(get_param(copy, embedding).detach().clone()))
    yield from saved_every_way(copy, "copied head", folder, ways=("folder", "bin folder", "pt"))
    untied = build(arch, False)
    state = {k: v.clone() for k, v in untied.state_dict().items() if k != head}
    out = folder / "untied head dropped"
    out.mkdir()
    safetensors.torch.save_file(state, out / "model.safetensors")
    untied.config.to_json_file(out / "config.json")
    yield "untied, head dropped", out, untied, untied.config.to_dict()


def saved_every_way(model, label: str, folder: Path,
                    ways=("folder", "sharded", "bin folder", "sharded bin", "safetensors", "pt")):
    config = model.config.to_dict()
    for way in ways:
        out = folder / f"{label} {way}".replace(" ", "-")
        try:
            if way == "folder":
                model.save_pretrained(out)
            elif way == "sharded":
                model.save_pretrained(out, max_shard_size="50KB")
            elif way in ("bin folder", "sharded bin"):
                save_bin_folder(model, out, sharded=way == "sharded bin")
            elif way == "safetensors":
                out = folder / f"{label}.safetensors".replace(" ", "-")
                safetensors.torch.save_model(model, str(out))
                config = None
            else:
                out = folder / f"{label}.pt".replace(" ", "-")
                torch.save(model.state_dict(), out)
                config = None
        except Exception:  # a way this architecture cannot be saved: not a case
            continue
        yield f"{label}, {way}", out, model, config


def save_bin_folder(model: nn.Module, out: Path, sharded: bool) -> None:
    """A folder as transformers 4 wrote it: torch.save of the whole state dict (ties stored
    once), or shards of it with a pytorch_model.bin.index.json."""
    out.mkdir()
    model.config.to_json_file(out / "config.json")
    state = model.state_dict()
    if not sharded:
        torch.save(state, out / "pytorch_model.bin")
        return
    by_storage: dict[int, list[str]] = {}  # names over one storage go into one shard
    for key, tensor in state.items():
        by_storage.setdefault(tensor.untyped_storage().data_ptr(), []).append(key)
    groups = list(by_storage.values())
    halves = {"pytorch_model-00001-of-00002.bin": sum(groups[: len(groups) // 2], []),
              "pytorch_model-00002-of-00002.bin": sum(groups[len(groups) // 2:], [])}
    for name, part in halves.items():
        torch.save({key: state[key] for key in part}, out / name)
    weight_map = {key: name for name, part in halves.items() for key in part}
    (out / "pytorch_model.bin.index.json").write_text(json.dumps({"weight_map": weight_map}))


def run_architecture(arch: Architecture, folder: Path) -> list[Result]:
    results = []
    for case, model in memory_variants(arch):
        model, optimizer = model if isinstance(model, tuple) else (model, None)
        results.append(judge(arch, f"memory: {case}",
                             lambda m=model, o=optimizer: expected_in_memory(m, o),
                             lambda m=model, o=optimizer: audit(m, o)))
    folder.mkdir(parents=True, exist_ok=True)
    for case, path, live, config in file_variants(arch, folder):
        results.append(judge(arch, f"file: {case}",
                             lambda p=path, m=live, c=config: expected_for_file(p, m, c),
                             lambda p=path: audit_checkpoint(p)))
    return results


def judge(arch: Architecture, case: str, expect, run) -> Result:
    try:
        expected = sorted(expect())
    except Exception as error:  # the harness's own trouble: not counted against audit
        return Result(arch.class_name, case, [], [], f"ground truth: {type(error).__name__}")
    try:
        found = kinds(run())
    except Exception as error:
        return Result(arch.class_name, case, expected, [], f"audit crashed: {error!r}"[:300])
    return Result(arch.class_name, case, expected, found)


def run_all(archs: list[Architecture], folder: Path, log=print) -> dict:
    results, skipped, left_out = [], [], []
    for arch in archs:
        start = time.perf_counter()
        if build(arch, True) is None:
            skipped.append(arch.class_name)
            continue
        these = run_architecture(arch, folder / arch.class_name)
        # a case whose ground truth itself cannot be computed has no verdict to hold audit to
        left_out += [f"{r.architecture} | {r.case}" for r in these
                     if r.error.startswith("ground truth")]
        these = [r for r in these if not r.error.startswith("ground truth")]
        results += these
        log(f"{arch.class_name:45} {sum(r.passed for r in these):3}/{len(these):3} "
            f"({time.perf_counter() - start:.1f} s)")
    return {"results": results, "skipped": skipped, "left_out": left_out}
