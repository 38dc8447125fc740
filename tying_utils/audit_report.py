"""The report that `audit`, `audit_checkpoint` and `audit_exported` fill: its `Finding`s, the
kinds a finding or a fact can have, and how a report prints (text, or a table in a notebook).

First met in notebook 02 (parameter_sharing), which prints an `audit` report; introduced with
`audit` (audit.py) in notebook 07 (tie_lifecycle); notebook 09 (export_and_deploy) reads
exported files into the same report (exported.py). It imports nothing of the package, so
every auditor can build on it.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

__all__ = ["AuditReport", "Finding", "FINDING_KINDS", "INFO_KINDS"]

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
