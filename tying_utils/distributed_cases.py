"""The cases of notebook 08 (ties_across_ranks) by name: what each broken and fixed variant does,
and the public record behind it. Kept free of torch so that `python -m tying_utils ranks --help`
and the list of cases start at once; `distributed.py` runs them.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CASES", "Case"]


@dataclass(frozen=True)
class Case:
    """One way a tie meets `torch.distributed`: what the broken and the fixed variants do."""

    name: str
    broken: str
    fixed: str
    source: str


# The warning in DistributedDataParallel's docstring that both DDP rows rest on.
DDP_WARNING = ("torch.nn.parallel.DistributedDataParallel docstring, warning: \"You should never "
               "try to change your model's parameters after wrapping\"")

CASES = {
    "ddp": Case("ddp", "DDP wraps an untied model, then the tie is made",
                "tie first, then wrap in DistributedDataParallel",
                DDP_WARNING),
    "ddp_unused": Case("ddp_unused", "the same late tie, with find_unused_parameters=True",
                       "tie first, then wrap in DistributedDataParallel",
                       DDP_WARNING),
    "fsdp2": Case("fsdp2", "fully_shard(embedding) and fully_shard(head): two FSDP groups",
                  "fully_shard([embedding, head]): one group for both",
                  "pytorch/pytorch#176076 (silent before the check); accelerate PR #4171"),
    "fsdp1": Case("fsdp1", "auto-wrap policy puts nn.Embedding in its own FSDP unit",
                  "wrap the blocks only; the root unit holds embedding and head",
                  "Lightning-AI/pytorch-lightning#21403 and PR #21613"),
    "tp": Case("tp", "parallelize_module gives embedding and head a new Parameter each",
               "re-tie after parallelize_module, then build the optimizer",
               ("pytorch/pytorch PR #116475 (test_weight_tying re-ties after "
                "parallelize_module)")),
    "pipeline": Case("pipeline", "each pipeline stage keeps a copy; nothing syncs them",
                     "all-reduce the copies' gradients over the embedding group",
                     "NVIDIA/Megatron-LM#299 (the embedding group)"),
    "pipeline_scale": Case("pipeline_scale",
                           "ScheduleGPipe(scale_grads=False) with a loss averaged per microbatch",
                           "scale_grads=True (the default): gradients divided by the microbatches",
                           "torch.distributed.pipelining docs (ScheduleGPipe, scale_grads)"),
    "dcp": Case("dcp", "a tied checkpoint loaded into a model built untied",
                "load into a model built tied: model and optimizer state both fit",
                ("no public report of this variant: this course's own run "
                 "(Modalities/modalities#348, a different failure with a tie: section 3)")),
}
