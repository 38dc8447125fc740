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

import html
from dataclasses import dataclass, field

import torch
from torch import nn

from .audit_distributed import explain_distributed, unwrap
from .audit_embeddings import check_adapters_on_ties, check_config, check_embedding_heads
from .tying import ALIAS, TIE, VIEW, SharedGroup, shared_memory_groups, shared_tensor_groups

__all__ = ["audit", "audit_checkpoint", "AuditReport", "Finding", "FINDING_KINDS", "INFO_KINDS"]

FINDING_KINDS = {
    "alias": "two or more Parameters over the same memory",
    "view": "Parameters over overlapping memory with different shapes or layouts",
    "lost_tie": "an embedding and a head with equal values in separate memory",
    "config_mismatch": "config.tie_word_embeddings (or a model's own `tied` flag) disagrees with "
                       "what the model or file holds",
    "head_missing": "a checkpoint lacks an embedding or head that nothing ties at load",
    "optimizer_missing": "a tied Parameter that no param group holds",
    "optimizer_duplicate": "a Parameter held twice by the optimizer",
    "optimizer_stale": "tensors the optimizer steps that are no longer in the model",
    "alias_in_optimizer": "an alias whose Parameters the optimizer steps separately",
    "decay_mismatch": "the tied matrix decays unlike the other embeddings",
    "meta_device": "Parameters on the meta device",
    "adapter_on_tie": "an adapter whose merge would also change the name its layer is tied to",
}
INFO_KINDS = {
    "tie": "one Parameter under several names",
    "shared_requires_grad": "a frozen tie: requires_grad belongs to all its names at once",
    "safetensors_shared": "state_dict entries that safetensors.torch.save_file refuses",
    "stored_once": "checkpoint names stored once and shared",
    "tied_at_load": "a name a checkpoint leaves out, to be tied at load",
    "config": "what the config says about tying",
    "judged_by": "a checkpoint judged by shapes, storage and values, and why not by its "
                 "architecture",
    "config_untieable": "a config that asks for a tie its architecture does not make",
    "renamed": "checkpoint keys that from_pretrained loads under other names",
}


@dataclass(frozen=True)
class Finding:
    """One item of a report: a stable `kind`, the parameter `names` involved and a `message`."""

    kind: str
    names: tuple[str, ...]
    message: str

    def as_dict(self) -> dict:
        return {"kind": self.kind, "names": list(self.names), "message": self.message}


@dataclass
class AuditReport:
    """What `audit` or `audit_checkpoint` found; `str()` is text, and a notebook shows a table."""

    subject: str
    findings: list[Finding] = field(default_factory=list)  # problems
    info: list[Finding] = field(default_factory=list)  # ties and other facts, not problems
    ties: list[tuple[str, ...]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when there is no finding (information does not count)."""
        return not self.findings

    def as_dict(self) -> dict:
        """The report as plain lists and strings, ready for `json.dumps`."""
        return {"subject": self.subject, "ok": self.ok,
                "findings": [f.as_dict() for f in self.findings],
                "info": [f.as_dict() for f in self.info],
                "ties": [list(names) for names in self.ties]}

    def summary(self) -> str:
        count = len(self.findings)
        found = "no findings" if count == 0 else f"{count} finding{'s' * (count != 1)}"
        return f"{found}, {len(self.ties)} tie{'s' * (len(self.ties) != 1)}"

    def __str__(self) -> str:
        lines = [f"audit of {self.subject}"]
        lines += [f"  info     {item.kind:21} {item.message}" for item in self.info]
        lines += [f"  FINDING  {item.kind:21} {item.message}" for item in self.findings]
        lines.append(self.summary())
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        rows = [(item, "finding", "#b00020") for item in self.findings]
        rows += [(item, "info", "#555") for item in self.info]
        cells = "".join(
            f"<tr><td style='color:{colour}'>{label}</td><td><code>{html.escape(item.kind)}"
            f"</code></td><td>{html.escape(', '.join(item.names))}</td>"
            f"<td style='text-align:left'>{html.escape(item.message)}</td></tr>"
            for item, label, colour in rows
        )
        table = ("<table><thead><tr><th></th><th>kind</th><th>names</th><th>meaning</th></tr>"
                 f"</thead><tbody>{cells}</tbody></table>" if rows else "")
        return (f"<div><p><b>audit of {html.escape(self.subject)}</b>: "
                f"{html.escape(self.summary())}</p>{table}</div>")

    def add(self, kind: str, names, message: str) -> None:
        """Record `message` about the parameters `names`: under `findings` when `kind` is one of
        `FINDING_KINDS` (probably a bug), otherwise under `info` (a fact worth knowing)."""
        target = self.findings if kind in FINDING_KINDS else self.info
        target.append(Finding(kind, tuple(names), message))


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


from .checkpoint_audit import audit_checkpoint  # noqa: E402  (it builds on AuditReport above)
