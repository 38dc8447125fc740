"""`check_replicas(model, group)`: are the copies of each matrix still equal across ranks?
Notebook 08 (ties_across_ranks) introduces it; its cases (distributed.py) run it on every rank.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

__all__ = ["ReplicaReport", "check_replicas"]


@dataclass
class ReplicaReport:
    """What `check_replicas` found on one rank: every copy of a matrix that differs from the
    copy on the lowest rank holding it (or from another copy on the same rank)."""

    rank: int
    compared: list[str] = field(default_factory=list)
    findings: list[dict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    def as_dict(self) -> dict:
        return {"rank": self.rank, "ok": self.ok, "compared": list(self.compared),
                "findings": [dict(f) for f in self.findings]}

    def __str__(self) -> str:
        count = len(self.compared)
        if not count:
            return f"rank {self.rank}: no matrix has a second copy to compare"
        head = (f"rank {self.rank}: {count} {'matrix' if count == 1 else 'matrices'} with copies "
                f"compared, " + ("all equal" if self.ok else f"{len(self.findings)} differ"))
        lines = [head]
        for f in self.findings:
            lines.append(f"  {f['parameter']}: rank {f['rank']} differs from rank "
                         f"{f['against_rank']} by up to {f['max_difference']:.3g}")
        return "\n".join(lines)


def _checksum(tensor: torch.Tensor) -> tuple[float, float, float]:
    flat = tensor.detach().reshape(-1).double()
    weights = torch.arange(flat.numel(), dtype=torch.float64) % 1009 + 1
    return (float(flat.sum()), float((flat * flat).sum()), float((flat * weights).sum()))


def _local(tensor: torch.Tensor) -> tuple[torch.Tensor, bool]:
    """The tensor this rank holds, and whether every rank holds the same (a replica)."""
    to_local = getattr(tensor, "to_local", None)
    if to_local is None:
        return tensor.detach(), True
    replicated = all(p.is_replicate() for p in tensor.placements)
    return to_local().detach(), replicated


def check_replicas(model: nn.Module, group=None, aliases: dict | None = None,
                   chunk_rows: int = 256) -> ReplicaReport:
    """Compare every copy of each matrix of `model` across the ranks of `group` (call it on
    every rank).

    Parameters are one matrix when they have the same name, or names that `aliases` maps to one
    name (a pipeline's last stage calls its copy "head.weight": `aliases={"head.weight":
    "embedding.weight"}`); two Parameters on one rank under such names are copies too. A
    checksum is compared first; only where checksums differ are values compared, in pieces of at
    most `chunk_rows` rows and at most half the matrix's rows (rounded up), so no rank gathers a
    matrix of two rows or more whole. A sharded DTensor is compared only with the copies on its
    own rank (its shards differ across ranks by design).

    Every rank's report holds the same `.ok` and findings; `rank` and `compared` are its own.
    """
    import torch.distributed as dist
    if not isinstance(model, nn.Module):
        raise TypeError(f"check_replicas needs an nn.Module, got {type(model).__name__}.")
    if not dist.is_initialized():
        raise RuntimeError("check_replicas needs torch.distributed to be initialised "
                           "(dist.init_process_group) on every rank.")
    aliases = aliases or {}
    rank, world = dist.get_rank(group), dist.get_world_size(group)
    report = ReplicaReport(rank=rank)
    names_of: dict[int, list[str]] = {}
    tensors: dict[int, torch.Tensor] = {}
    for name, p in model.named_parameters(remove_duplicate=False):
        names_of.setdefault(id(p), []).append(name)
        tensors[id(p)] = p
    copies: dict[str, list[tuple[torch.Tensor, bool]]] = {}
    for pid, names in names_of.items():
        key = min(aliases.get(n, n) for n in names)
        copies.setdefault(key, []).append(_local(tensors[pid]))
    # copies on this rank: each against the first
    for key, held in copies.items():
        for other, _ in held[1:]:
            report.compared.append(key)
            if other.shape != held[0][0].shape or not torch.equal(other, held[0][0]):
                diff = (float((other - held[0][0]).abs().max())
                        if other.shape == held[0][0].shape else float("inf"))
                report.findings.append({"parameter": key, "rank": rank, "against_rank": rank,
                                        "max_difference": diff})
    # copies across ranks: checksums first
    mine = {key: (tuple(held[0][0].shape), _checksum(held[0][0]))
            for key, held in copies.items() if held[0][1]}
    everyone: list = [None] * world
    dist.all_gather_object(everyone, mine, group=group)
    for key in sorted(set().union(*everyone)):
        holders = [r for r in range(world) if key in everyone[r]]
        if len(holders) < 2:
            continue
        report.compared.append(key)
        if len({everyone[r][key] for r in holders}) == 1:
            continue
        shapes = {everyone[r][key][0] for r in holders}
        if len(shapes) > 1:
            for r in holders[1:]:
                if everyone[r][key][0] != everyone[holders[0]][key][0]:
                    report.findings.append({"parameter": key, "rank": r,
                                            "against_rank": holders[0],
                                            "max_difference": float("inf")})
            continue
        shape = shapes.pop()
        largest = _compare_in_chunks(copies[key][0][0] if key in copies else None, shape,
                                     holders, world, group, chunk_rows)
        for r in holders[1:]:
            if largest[r] > 0:
                report.findings.append({"parameter": key, "rank": r, "against_rank": holders[0],
                                        "max_difference": largest[r]})
    # every rank returns the same findings: the copies that differ on one rank are told to all
    local = [f for f in report.findings if f["rank"] == f["against_rank"] == rank]
    everyone_local: list = [None] * world
    dist.all_gather_object(everyone_local, local, group=group)
    report.findings = [f for part in everyone_local for f in part] + [
        f for f in report.findings if f["rank"] != f["against_rank"]]
    return report


def _compare_in_chunks(tensor, shape, holders, world, group, chunk_rows) -> dict[int, float]:
    """The largest |copy − first holder's copy| of each holder, in pieces of at most `chunk_rows`
    rows and at most half the rows (rounded up): a matrix of two rows or more is never gathered
    whole."""
    import torch.distributed as dist
    rows = shape[0] if shape else 1
    chunk_rows = max(1, min(chunk_rows, (rows + 1) // 2))
    largest = {r: 0.0 for r in holders}
    for start in range(0, rows, chunk_rows):
        stop = min(start + chunk_rows, rows)
        if tensor is not None:
            piece = tensor.reshape(rows, -1)[start:stop].contiguous().double()
        else:
            width = 1
            for size in shape[1:]:
                width *= size
            piece = torch.zeros(stop - start, width, dtype=torch.float64)
        gathered = [torch.empty_like(piece) for _ in range(world)]
        dist.all_gather(gathered, piece, group=group)
        for r in holders[1:]:
            largest[r] = max(largest[r], float((gathered[r] - gathered[holders[0]]).abs().max()))
    return largest
