"""What `audit` needs to see through torch.distributed's wrappers (notebook 08, ties_across_ranks).

- `unwrap(model)`: the model that `DistributedDataParallel` (or `DataParallel`) holds, so that
  `audit` names every Parameter as on the bare model (`embedding.weight`, not
  `module.embedding.weight`). FSDP2's `fully_shard` and tensor parallelism's `parallelize_module`
  change the model in place and keep its names; their `DTensor` Parameters report their global
  shape, which is what `audit` compares, and `torch.equal` on two DTensors answers for the whole
  matrix on every rank (call `audit` on every rank).
- `explain_distributed(report, model)`: a lost tie between two `DTensor` Parameters says what
  lost it, `parallelize_module`, and how to tie again.
"""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import nn

__all__ = ["unwrap", "explain_distributed", "is_dtensor"]

PARALLELIZE_HINT = (" Here both are DTensor Parameters, the mark of parallelize_module, which "
                    "gives every module it shards a new Parameter: tie them again after it "
                    "(both sharded alike, e.g. RowwiseParallel on the embedding and "
                    "ColwiseParallel on the head), then build the optimizer.")


def unwrap(model: nn.Module) -> nn.Module:
    """The model inside `DistributedDataParallel` / `DataParallel` wrappers (any depth)."""
    from torch.nn.parallel import DataParallel, DistributedDataParallel
    while isinstance(model, (DataParallel, DistributedDataParallel)):
        model = model.module
    return model


def is_dtensor(tensor) -> bool:
    """Whether `tensor` is a `torch.distributed.tensor.DTensor` (False where torch has none)."""
    if not torch.distributed.is_available():
        return False
    from torch.distributed.tensor import DTensor
    return isinstance(tensor, DTensor)


def explain_distributed(report, model: nn.Module) -> None:
    """Add the parallelize_module hint to each lost tie (a `lost_tie` or `config_mismatch`
    finding on two names) whose two Parameters are separate DTensors."""
    params = dict(model.named_parameters(remove_duplicate=False))
    for index, finding in enumerate(report.findings):
        names = finding.names
        if (finding.kind in ("lost_tie", "config_mismatch") and len(names) == 2
                and all(name in params and is_dtensor(params[name]) for name in names)
                and params[names[0]] is not params[names[1]]):
            report.findings[index] = replace(finding, message=finding.message + PARALLELIZE_HINT)
