"""Audit a model, its optimizer, or a checkpoint for ties, aliases and lost ties.

Introduced in notebook 07 (tie_lifecycle); `python -m tying_utils audit PATH` runs
`audit_checkpoint`. Notebook 02 shows each of these ways a tie breaks by hand; `audit` finds all
of them in one call:

    report = audit(model, optimizer)
    print(report)            # one line per item; in a notebook the report shows as a table
    report.findings          # problems, each with a kind, the names and a one-sentence message
    report.ties              # the ties (one Parameter under several names): information

A tie is not a problem, so ties and other facts worth knowing go to `report.info`; `findings`
holds only what is probably a bug. Each finding's `kind` is a short stable string (`FINDING_KINDS`
lists them), so code can act on it.
"""

from __future__ import annotations

import torch
from torch import nn

from .audit_distributed import explain_distributed, unwrap
from .audit_embeddings import check_adapters_on_ties, check_config, check_embedding_heads
from .audit_report import FINDING_KINDS, INFO_KINDS, AuditReport, Finding
from .checkpoint_audit import audit_checkpoint
from .tying import ALIAS, TIE, VIEW, SharedGroup, shared_memory_groups, shared_tensor_groups

__all__ = ["audit", "audit_checkpoint", "AuditReport", "Finding", "FINDING_KINDS", "INFO_KINDS"]

# --- auditing a model (and its optimizer) ---------------------------------------------------------


def audit(model: nn.Module, optimizer: torch.optim.Optimizer | None = None) -> AuditReport:
    """Every tie, alias, view and lost tie in `model`, and how `optimizer` treats them."""
    if not isinstance(model, nn.Module):
        raise ValueError(f"audit() needs an nn.Module, got {type(model).__name__}.")
    if optimizer is not None and not isinstance(optimizer, torch.optim.Optimizer):
        raise ValueError(f"audit() takes a torch.optim.Optimizer (or None) as its optimizer, got "
                         f"{type(optimizer).__name__}.")
    model = unwrap(model)  # DDP: the model inside, by its own names (notebook 08)
    params = dict(model.named_parameters(remove_duplicate=False))
    report = AuditReport(f"{type(model).__name__} ({len(params)} parameter names)")
    groups = shared_memory_groups(model)
    report.ties = [names for group in groups for names in _ties_within(group, params)]

    _check_sharing(report, groups, params)
    check_embedding_heads(report, model, params, groups)
    check_config(report, model)
    check_adapters_on_ties(report, model, params)
    _check_declared_tie(report, model)
    if optimizer is not None:
        _check_optimizer(report, model, optimizer, params, groups)
    _check_meta(report, params)
    _check_safetensors(report, model)
    explain_distributed(report, model)  # a tie lost by parallelize_module says so (notebook 08)
    return report


def _check_sharing(report: AuditReport, groups: list[SharedGroup], params: dict) -> None:
    for group in groups:
        names = ", ".join(group.names)
        meaning = group.meaning.rstrip(".")
        if group.kind == TIE:
            report.add("tie", group.names, f"{names} are one Parameter: the optimizer steps it "
                       f"once and its gradient is the sum of every use.")
            if not params[group.names[0]].requires_grad:
                report.add("shared_requires_grad", group.names,
                           f"{names} are frozen together: requires_grad belongs to their one "
                           f"Parameter, so freezing any of these names froze all of them; "
                           f"untie() first to train one of them alone.")
        elif group.kind == ALIAS:
            report.add("alias", group.names, f"{_by_parameter(group, params)} are "
                       f"{group.parameters} {meaning}.")
            for tie in _ties_within(group, params):
                report.add("tie", tie, f"{', '.join(tie)} are one Parameter (within that "
                           f"alias): the optimizer steps it once and its gradient is the sum "
                           f"of every use.")
        elif group.kind == VIEW:
            report.add("view", group.names,
                       f"{names} are {group.parameters} {meaning}; make them one Parameter "
                       f"(for a transpose, through a parametrization, as in notebook 02 §9).")


def _parameter_names(group: SharedGroup, params: dict) -> list[tuple[str, ...]]:
    """The names of a shared-memory group, one tuple per distinct Parameter object."""
    by_object: dict[int, list[str]] = {}
    for name in group.names:
        by_object.setdefault(id(params[name]), []).append(name)
    return [tuple(names) for names in by_object.values()]


def _ties_within(group: SharedGroup, params: dict) -> list[tuple[str, ...]]:
    """The ties a group holds: the whole group when it is one Parameter, else each set of two or
    more of its names that are one Parameter (a group mixing a tie and an alias)."""
    if group.kind == TIE:
        return [group.names]
    return [names for names in _parameter_names(group, params) if len(names) > 1]


def _by_parameter(group: SharedGroup, params: dict) -> str:
    """'a, b and c' for three Parameters, '(a, b) and c' where a and b are one Parameter."""
    parts = [names[0] if len(names) == 1 else f"({', '.join(names)})"
             for names in _parameter_names(group, params)]
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def _check_declared_tie(report: AuditReport, model: nn.Module) -> None:
    """The package's own models say `tied=True/False`: hold them to it, config or not."""
    declared = getattr(model, "tied", None)
    embedding, head = getattr(model, "embedding", None), getattr(model, "head", None)
    if not isinstance(declared, bool) or not isinstance(embedding, nn.Embedding) \
            or not isinstance(head, nn.Linear):
        return
    holds_tied = (dict(embedding.named_parameters(recurse=False)).get("weight")
                  is dict(head.named_parameters(recurse=False)).get("weight"))
    pair = {"embedding.weight", "head.weight"}
    if any(pair <= set(finding.names) for finding in report.findings):
        return  # already reported as an alias, a view or a lost tie
    if declared and not holds_tied:
        report.add("config_mismatch", ("embedding.weight", "head.weight"),
                   f"{type(model).__name__} says tied=True but embedding.weight and head.weight "
                   f"are separate Parameters (a move to or from meta, to_empty(), a resize or a "
                   f"load with assign=True gives each name its own): tie them again with "
                   f"tying_utils.tie(model.embedding, model.head).")
    elif holds_tied and not declared:
        report.add("config_mismatch", ("embedding.weight", "head.weight"),
                   f"{type(model).__name__} says tied=False but embedding.weight and "
                   f"head.weight are one Parameter: untie them, or build the model with "
                   f"tied=True.")


def _check_optimizer(report: AuditReport, model: nn.Module, optimizer, params: dict,
                     groups: list[SharedGroup]) -> None:
    """How the optimizer holds the shared tensors: missing, twice, stepped twice, decayed."""
    held: dict[int, list[int]] = {}  # id(tensor) → the index of every group that holds it
    tensors = {}
    for index, group in enumerate(optimizer.param_groups):
        for tensor in group["params"]:
            held.setdefault(id(tensor), []).append(index)
            tensors[id(tensor)] = tensor
    names_of: dict[int, list[str]] = {}
    for name, param in params.items():
        names_of.setdefault(id(param), []).append(name)

    for key, indexes in held.items():
        if len(indexes) > 1 and key in names_of:
            where = ("one param group" if len(set(indexes)) == 1
                     else f"param groups {', '.join(map(str, sorted(set(indexes))))}")
            times = "twice" if len(indexes) == 2 else f"{len(indexes)} times"
            report.add("optimizer_duplicate", names_of[key],
                       f"the optimizer holds {', '.join(names_of[key])} {times} (in {where}), "
                       f"so each step() updates it {times}; build "
                       f"it from model.parameters(), which lists a tied Parameter once.")
    stale = [key for key in held if key not in names_of]
    if stale:
        shapes = ", ".join(_shape(tensors[key]) for key in stale[:4])
        report.add("optimizer_stale", (),
                   f"the optimizer holds {len(stale)} tensor{'s' * (len(stale) > 1)} ({shapes}) "
                   f"that are not Parameters of this model, left over from before untie(), "
                   f"tie(), a resize or load_state_dict(..., assign=True) replaced them; build "
                   f"the optimizer again.")

    for group in groups:
        objects = list({id(params[name]): params[name] for name in group.names}.values())
        in_optimizer = [p for p in objects if id(p) in held]
        names = ", ".join(group.names)
        if group.kind == TIE and objects[0].requires_grad and not in_optimizer:
            report.add("optimizer_missing", group.names,
                       f"the tied Parameter {names} is in no param group, so it receives "
                       f"gradients but never moves; add it to one group (once).")
        elif group.kind in (ALIAS, VIEW) and len(in_optimizer) > 1:
            report.add("alias_in_optimizer", group.names,
                       f"the optimizer holds {len(in_optimizer)} separate Parameters over the "
                       f"memory of {names} and steps that memory "
                       f"{'twice' if len(in_optimizer) == 2 else f'{len(in_optimizer)} times'} "
                       f"per step(), each with the gradient of one name only; tie them so it "
                       f"holds one.")
    _check_weight_decay(report, model, optimizer, params, groups, held)


def _check_weight_decay(report, model, optimizer, params, groups, held) -> None:
    """The tied matrix is both an embedding and a Linear weight: a rule that decays one kind and
    not the other (nanoGPT's `decay.remove('lm_head.weight')`) must choose; compare it with the
    model's other embeddings."""
    def decay_of(param):
        indexes = held.get(id(param))
        return optimizer.param_groups[indexes[0]].get("weight_decay") if indexes else None

    ids_by_name = {name: id(param) for name, param in params.items()}
    embeddings = {f"{name}.weight" if name else "weight"
                  for name, m in model.named_modules() if isinstance(m, nn.Embedding)}
    for group in (g for g in groups if g.kind == TIE):
        tied = params[group.names[0]]
        if not embeddings & set(group.names) or decay_of(tied) is None:
            continue
        others = {name: decay_of(params[name]) for name in sorted(embeddings)
                  if name in params and ids_by_name[name] != id(tied)
                  and decay_of(params[name]) is not None}
        decays = set(others.values())
        if len(decays) == 1 and decays != {decay_of(tied)}:
            report.add("decay_mismatch", group.names + tuple(others),
                       f"the tied matrix {', '.join(group.names)} has weight_decay "
                       f"{decay_of(tied):g} while the other embeddings ({', '.join(others)}) "
                       f"have {decays.pop():g}: a rule for Linear weights or for embeddings "
                       f"decided it; choose its decay deliberately, as one matrix serving both.")


def _check_meta(report: AuditReport, params: dict) -> None:
    on_meta = [name for name, param in params.items() if param.is_meta]
    if on_meta:
        report.add("meta_device", on_meta,
                   f"{len(on_meta)} parameter names are on the meta device (shapes without "
                   f"values): they cannot be trained or saved, and there only identity shows a "
                   f"tie; after to_empty() or load_state_dict(..., assign=True), which give each "
                   f"name its own Parameter, tie again and run audit once more.")


def _check_safetensors(report: AuditReport, model: nn.Module) -> None:
    """safetensors.torch.save_file refuses state_dict entries that share memory."""
    # A quantized layer's state_dict also holds non-tensors (its dtype, packed parameters).
    state = {k: v for k, v in model.state_dict().items() if isinstance(v, torch.Tensor)}
    if any(tensor.is_meta for tensor in state.values()):
        return
    for names in shared_tensor_groups(state):
        report.add("safetensors_shared", names,
                   f"safetensors.torch.save_file(model.state_dict()) would refuse "
                   f"{', '.join(names)} (they share memory): use safetensors.torch.save_model, "
                   f"which stores one copy, or drop the duplicate key and tie again at load.")


def _shape(tensor: torch.Tensor) -> str:
    return "×".join(str(n) for n in tensor.shape) or "scalar"

