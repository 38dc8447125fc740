"""Ties across ranks: the cases of notebook 08 (ties_across_ranks) and their launcher
(`check_replicas`, which the cases use, lives in replicas.py and is re-exported here).

Every case trains the course's tied `TransformerLM` for a few SGD steps in 2 processes that talk
over gloo on the CPU, once in its broken variant (`fixed=False`) and once with the fix
(`fixed=True`), and measures two things against a single-process tied reference trained on the
same data with the same steps:

- `drift`: the largest |copy − copy| between the copies of the tied matrix that the run ended with
  (0 when one Parameter is left, or when the copies stayed equal);
- `off_reference`: the largest |weight − reference weight| over every Parameter of the model.

A case that raises reports its error instead: the exception's type and message on one line (its
lines joined, cut at 300 characters). The processes run this module
(`python -m tying_utils.distributed`), so each case is importable and tested; `launch` starts
them with a hard timeout, so no process outlives a call.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from datetime import timedelta
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .audit import audit
from .distributed_cases import CASES, Case
from .replicas import ReplicaReport, check_replicas
from .transformer import TransformerLM

__all__ = ["CASES", "Case", "launch", "check_replicas", "ReplicaReport", "reference_weights"]

SIZES = dict(vocab=32, dim=16, layers=2, heads=2, context=8, dropout=0.0)
BATCH = 4  # rows per step in the whole batch (each of 2 data-parallel ranks reads half)
LR = 0.5  # plain SGD, large enough that a missed update shows after a few steps
SEED = 0
WORLD = 2


# ---------------------------------------------------------------- data, model and reference

def make_model(tied: bool = True):
    """The course's `TransformerLM` at toy size, with the seed every case starts from (under one
    seed the tied and the untied model draw the same numbers)."""
    torch.manual_seed(SEED)
    return TransformerLM(tied=tied, **SIZES)


def batches(steps: int):
    """`steps` (tokens, targets) pairs of shape (BATCH, context), the same in every process."""
    generator = torch.Generator().manual_seed(SEED + 1)
    shape = (BATCH, SIZES["context"] + 1)
    out = []
    for _ in range(steps):
        rows = torch.randint(0, SIZES["vocab"], shape, generator=generator)
        out.append((rows[:, :-1], rows[:, 1:]))
    return out


def loss_of(logits, targets):
    """Cross-entropy averaged over every position of the batch (or microbatch)."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


def reference_weights(steps: int, momentum: float = 0.0) -> dict:
    """Every Parameter of the tied model after `steps` single-process SGD steps on the whole
    batches, by name (the tied matrix under both of its names)."""
    model = make_model(tied=True)
    optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=momentum)
    for tokens, targets in batches(steps):
        optimizer.zero_grad()
        loss_of(model(tokens)[0], targets).backward()
        optimizer.step()
    return {name: p.detach().clone() for name, p in model.named_parameters(remove_duplicate=False)}


def _full(tensor):
    """A plain tensor of the whole value (a DTensor is gathered)."""
    full = getattr(tensor, "full_tensor", None)
    return (full() if full is not None else tensor).detach()


def _measure(weights: dict, steps: int, momentum: float = 0.0,
             copies=("embedding.weight", "head.weight")) -> dict:
    """drift between the tied matrix's copies, and the distance of every weight from the
    reference; `weights` maps names to full tensors."""
    reference = reference_weights(steps, momentum)
    drift = float((weights[copies[0]] - weights[copies[1]]).abs().max())
    off = max(float((weights[n] - reference[n]).abs().max()) for n in reference)
    return {"drift": drift, "off_reference": off}


def _train(model, optimizer, steps: int, rank: int, data_parallel: bool) -> None:
    for tokens, targets in batches(steps):
        if data_parallel:  # each rank reads its half of the batch
            tokens, targets = tokens.chunk(WORLD)[rank], targets.chunk(WORLD)[rank]
        optimizer.zero_grad()
        loss_of(model(tokens)[0], targets).backward()
        optimizer.step()


def _audit_summary(report) -> dict:
    """What notebook 08 shows of an `audit` report: its ties and each finding's kind and text."""
    return {"ok": report.ok, "ties": [list(names) for names in report.ties],
            "findings": [[f.kind, f.message] for f in report.findings]}


def _named_full(module) -> dict:
    return {n: _full(p) for n, p in module.named_parameters(remove_duplicate=False)}


# ---------------------------------------------------------------- the cases


def case_ddp(fixed: bool, steps: int, rank: int, find_unused_parameters: bool = False) -> dict:
    """Broken: wrap an untied model in DDP, then tie. Fixed: tie, then wrap."""
    from torch.nn.parallel import DistributedDataParallel as DDP
    if fixed:
        model = DDP(make_model(tied=True))
    else:
        model = DDP(make_model(tied=False), find_unused_parameters=find_unused_parameters)
        with torch.no_grad():  # start from the tied model's values, then tie
            model.module.head.weight.copy_(model.module.embedding.weight)
        model.module.embedding.weight = model.module.head.weight
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)
    _train(model, optimizer, steps, rank, data_parallel=True)
    result = _measure(_named_full(model.module), steps)
    result["check_replicas_ok"] = check_replicas(model.module).ok
    result["audit_at_end"] = _audit_summary(audit(model))
    return result


def case_ddp_unused(fixed: bool, steps: int, rank: int) -> dict:
    """`case_ddp` with find_unused_parameters=True on the late tie."""
    return case_ddp(fixed, steps, rank, find_unused_parameters=True)


def case_fsdp2(fixed: bool, steps: int, rank: int) -> dict:
    """Broken: fully_shard the embedding and the head apart. Fixed: in one group."""
    from torch.distributed.fsdp import fully_shard
    model = make_model(tied=True)
    for block in model.blocks:
        fully_shard(block)
    if fixed:
        fully_shard([model.embedding, model.head])
    else:
        fully_shard(model.embedding)
        fully_shard(model.head)
    fully_shard(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)
    _train(model, optimizer, steps, rank, data_parallel=True)
    result = _measure(_named_full(model), steps)
    result["audit_at_end"] = _audit_summary(audit(model, optimizer))
    return result


def case_fsdp1(fixed: bool, steps: int, rank: int) -> dict:
    """Broken: an auto-wrap policy that wraps nn.Embedding too. Fixed: the blocks only."""
    from torch import nn
    from torch.distributed.fsdp import FullyShardedDataParallel as FSDP
    from torch.distributed.fsdp.wrap import ModuleWrapPolicy

    from .transformer import Block
    wrapped = {Block} if fixed else {Block, nn.Embedding}
    model = FSDP(make_model(tied=True), auto_wrap_policy=ModuleWrapPolicy(wrapped),
                 use_orig_params=True, device_id=torch.device("cpu"))
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)
    _train(model, optimizer, steps, rank, data_parallel=True)
    with FSDP.summon_full_params(model):
        weights = {n.replace("_fsdp_wrapped_module.", ""): p.detach().clone()
                   for n, p in model.named_parameters(remove_duplicate=False)}
    return _measure(weights, steps)


def case_tp(fixed: bool, steps: int, rank: int) -> dict:
    """Broken: parallelize_module on the tied model. Fixed: re-tie after it."""
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.tensor import Replicate
    from torch.distributed.tensor.parallel import (
        ColwiseParallel,
        RowwiseParallel,
        parallelize_module,
    )
    model = make_model(tied=True)
    mesh = init_device_mesh("cpu", (WORLD,))
    # Both shard the (V, d) matrix by rows (the vocabulary): one layout, so a re-tie is possible.
    parallelize_module(model, mesh, {"embedding": RowwiseParallel(input_layouts=Replicate()),
                                     "head": ColwiseParallel(output_layouts=Replicate())})
    separate_after_parallelize = model.embedding.weight is not model.head.weight
    after_parallelize = audit(model)  # on every rank: comparing DTensors is a collective
    if fixed:
        model.embedding.weight = model.head.weight  # the optimizer below holds one Parameter
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)
    _train(model, optimizer, steps, rank, data_parallel=False)  # TP ranks read the same batch
    result = _measure(_named_full(model), steps)
    result["untied_by_parallelize"] = separate_after_parallelize
    result["audit_after_parallelize"] = _audit_summary(after_parallelize)
    result["audit_at_end"] = _audit_summary(audit(model))
    aliases = {"head.weight": "embedding.weight"}
    result["check_replicas_ok"] = check_replicas(model, aliases=aliases).ok
    return result


def case_pipeline(fixed: bool, steps: int, rank: int, scale_grads: bool = True) -> dict:
    """Two stages with a copy each. Broken: no sync. Fixed: all-reduce the copies' gradients."""
    import torch.distributed as dist
    from torch.distributed.pipelining import PipelineStage, ScheduleGPipe
    model = make_model(tied=True)
    stage_module = _FirstStage(model) if rank == 0 else _LastStage(model)
    stage = PipelineStage(stage_module, rank, WORLD, torch.device("cpu"))
    microbatches = 2
    # loss_of is a mean over each microbatch; scale_grads divides the summed gradients by 2
    schedule = ScheduleGPipe(stage, microbatches, loss_fn=loss_of, scale_grads=scale_grads)
    optimizer = torch.optim.SGD(stage_module.parameters(), lr=LR)
    copy = stage_module.tied_copy()
    for tokens, targets in batches(steps):
        optimizer.zero_grad()
        if rank == 0:
            schedule.step(tokens)
        else:
            schedule.step(target=targets)
        if fixed:  # Megatron's embedding group: each copy gets the sum of both gradients
            dist.all_reduce(copy.grad)
        optimizer.step()
    # 8 rows at a time (of 32): the values are compared in pieces, never gathered whole
    report = check_replicas(stage_module, aliases={"head.weight": "embedding.weight"},
                            chunk_rows=8)
    gathered = [None] * WORLD
    dist.all_gather_object(gathered, {n: p.detach() for n, p in stage_module.named_parameters()})
    weights = {}
    for part in gathered:
        weights.update(part)
    first, last = gathered
    weights["embedding.weight"], weights["head.weight"] = (first["embedding.weight"],
                                                           last["head.weight"])
    result = _measure(weights, steps)
    result["check_replicas_ok"] = report.ok
    result["check_replicas"] = report.as_dict()
    return result


def case_pipeline_scale(fixed: bool, steps: int, rank: int) -> dict:
    """The synced pipeline, with ScheduleGPipe's division by the microbatches off (broken)."""
    return case_pipeline(True, steps, rank, scale_grads=fixed)


class _FirstStage(nn.Module):
    """Pipeline stage 0: token and position embeddings and the first half of the blocks."""

    def __init__(self, model):
        super().__init__()
        half = len(model.blocks) // 2
        self.embedding, self.position = model.embedding, model.position
        # keyed by their index in the whole model, so each Parameter keeps the model's name
        self.blocks = nn.ModuleDict({str(i): model.blocks[i] for i in range(half)})
        self.input_scale = model.input_scale

    def tied_copy(self):
        return self.embedding.weight

    def forward(self, tokens):
        positions = torch.arange(tokens.shape[1])
        x = self.embedding(tokens) * self.input_scale + self.position(positions)
        for block in self.blocks.values():
            x = block(x)
        return x


class _LastStage(nn.Module):
    """Pipeline stage 1: the other blocks, the final LayerNorm and the head."""

    def __init__(self, model):
        super().__init__()
        half = len(model.blocks) // 2
        self.blocks = nn.ModuleDict({str(i): model.blocks[i]
                                     for i in range(half, len(model.blocks))})
        self.norm, self.head = model.norm, model.head
        self.output_scale = model.output_scale

    def tied_copy(self):
        return self.head.weight

    def forward(self, x):
        for block in self.blocks.values():
            x = block(x)
        return self.head(self.norm(x) * self.output_scale)


def case_dcp(fixed: bool, steps: int, rank: int) -> dict:
    """Train half the steps, save model and optimizer with DCP, load into a new model (broken:
    built untied; fixed: built tied) and train the rest."""
    import torch.distributed as dist
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import get_state_dict, set_state_dict
    half = max(steps // 2, 1)
    model = make_model(tied=True)
    optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=0.9)
    every = batches(steps)
    for tokens, targets in every[:half]:  # the same batch on both ranks: replicas stay equal
        optimizer.zero_grad()
        loss_of(model(tokens)[0], targets).backward()
        optimizer.step()
    model_state, optimizer_state = get_state_dict(model, optimizer)
    tied = ("embedding.weight", "head.weight")
    names = {"model": [n for n in tied if n in model_state],
             "optimizer": [n for n in tied if n in optimizer_state["state"]]}
    folder = [tempfile.mkdtemp(prefix="dcp_") if rank == 0 else None]
    dist.broadcast_object_list(folder)
    dcp.save({"model": model_state, "optimizer": optimizer_state}, checkpoint_id=folder[0])
    restored = make_model(tied=fixed)
    restored_optimizer = torch.optim.SGD(restored.parameters(), lr=LR, momentum=0.9)
    model_state, optimizer_state = get_state_dict(restored, restored_optimizer)
    state = {"model": model_state, "optimizer": optimizer_state}
    dcp.load(state, checkpoint_id=folder[0])
    set_state_dict(restored, restored_optimizer, model_state_dict=state["model"],
                   optim_state_dict=state["optimizer"])
    for tokens, targets in every[half:]:
        restored_optimizer.zero_grad()
        loss_of(restored(tokens)[0], targets).backward()
        restored_optimizer.step()
    result = _measure(_named_full(restored), steps, momentum=0.9)
    result["tied_names_saved"] = names
    return result


RUNNERS = {"ddp": case_ddp, "ddp_unused": case_ddp_unused, "fsdp2": case_fsdp2,
           "fsdp1": case_fsdp1, "tp": case_tp, "pipeline": case_pipeline,
           "pipeline_scale": case_pipeline_scale, "dcp": case_dcp}


# ---------------------------------------------------------------- the processes and the launcher

def _first_line(error: BaseException) -> str:
    failures = getattr(error, "failures", None)  # DCP's CheckpointException: each rank's error
    if isinstance(failures, dict) and failures:
        first = next(iter(failures.values()))
        error = first[0] if isinstance(first, tuple) else first
    text = " ".join(str(error).split())
    text = f"{type(error).__name__}: {text}" if text else type(error).__name__
    return text if len(text) <= 300 else text[:299] + "…"


def _worker(spec_path: str, out_path: str) -> None:
    """What each of the 2 processes runs: every run of the spec in turn, results by rank 0."""
    import torch.distributed as dist
    spec = json.loads(Path(spec_path).read_text())
    torch.set_num_threads(1)
    dist.init_process_group("gloo", timeout=timedelta(seconds=spec["collective_timeout"]))
    rank = dist.get_rank()
    results = []
    for run in spec["runs"]:
        start = time.perf_counter()
        try:
            result = RUNNERS[run["case"]](run["fixed"], run["steps"], rank)
            result["outcome"] = "ran"
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as error:  # broken variants raise (DCP's CheckpointException too)
            result = {"outcome": "error", "error": _first_line(error)}
            if os.environ.get("TYING_UTILS_TRACEBACK"):
                traceback.print_exc()
        result.update(case=run["case"], fixed=run["fixed"], steps=run["steps"],
                      seconds=round(time.perf_counter() - start, 2))
        results.append(result)
        dist.barrier()
    if rank == 0:
        Path(out_path).write_text(json.dumps(results))
    dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(runs, steps: int = 3, timeout: float = 120.0, collective_timeout: float = 30.0
           ) -> list[dict]:
    """Run each `(case, fixed)` of `runs` in 2 gloo processes on this CPU; return each run's
    result (a dict: outcome "ran" with `drift` and `off_reference`, or "error" with `error`).

    Both processes are stopped after `timeout` seconds, whatever they are doing (TimeoutError),
    and a collective that waits longer than `collective_timeout` fails inside them.
    """
    runs = [(case, bool(fixed)) for case, fixed in runs]
    for case, _ in runs:
        if case not in CASES:
            raise ValueError(f"unknown case {case!r}; choose one of {', '.join(CASES)}.")
    if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= 100:
        raise ValueError(f"steps must be a whole number from 1 to 100, got {steps!r}.")
    if not timeout > 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}.")
    with tempfile.TemporaryDirectory(prefix="ranks_") as folder:
        folder = Path(folder)
        spec = {"runs": [{"case": c, "fixed": f, "steps": steps} for c, f in runs],
                "collective_timeout": collective_timeout}
        (folder / "spec.json").write_text(json.dumps(spec))
        package_parent = str(Path(__file__).resolve().parent.parent)
        env = dict(os.environ, MASTER_ADDR="127.0.0.1", MASTER_PORT=str(_free_port()),
                   WORLD_SIZE=str(WORLD), OMP_NUM_THREADS="1",
                   PYTHONPATH=os.pathsep.join(filter(None, [package_parent,
                                                            os.environ.get("PYTHONPATH")])))
        processes = []
        for rank in range(WORLD):
            log = open(folder / f"rank{rank}.log", "w")
            processes.append(subprocess.Popen(
                [sys.executable, "-m", "tying_utils.distributed", str(folder / "spec.json"),
                 str(folder / "results.json")],
                env=dict(env, RANK=str(rank), LOCAL_RANK=str(rank)), stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True))
            log.close()
        deadline = time.monotonic() + timeout
        try:
            while any(p.poll() is None for p in processes):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the 2 processes did not finish within {timeout:g} s; "
                                       "both were stopped.")
                if any(p.returncode not in (None, 0) for p in processes):
                    time.sleep(2)  # let the other one fail on its own first
                    break
                time.sleep(0.05)
        finally:
            for p in processes:
                if p.poll() is None:
                    os.killpg(p.pid, signal.SIGKILL)
                    p.wait()
        if any(p.returncode != 0 for p in processes):
            failed = next(r for r, p in enumerate(processes) if p.returncode != 0)
            lines = (folder / f"rank{failed}.log").read_text().strip().splitlines()
            raise RuntimeError(f"rank {failed} stopped with exit status "
                               f"{processes[failed].returncode}: "
                               f"{lines[-1] if lines else 'no output'}")
        return json.loads((folder / "results.json").read_text())


if __name__ == "__main__":
    _worker(*sys.argv[1:3])
