"""`audit` through torch.distributed's wrappers, in a process group of one (gloo, in this process):
the names it gives a tie under DDP, FSDP2 and tensor parallelism, and the hint for a tie that
parallelize_module lost. tests/test_distributed.py checks the same on 2 ranks."""

from __future__ import annotations

import pytest
import torch
import torch.distributed as dist
from torch.distributed.device_mesh import init_device_mesh
from torch.distributed.fsdp import fully_shard
from torch.distributed.tensor import Replicate
from torch.distributed.tensor.parallel import ColwiseParallel, RowwiseParallel, parallelize_module
from torch.nn.parallel import DistributedDataParallel

from tying_utils import audit, untie
from tying_utils.audit_distributed import PARALLELIZE_HINT, is_dtensor, unwrap
from tying_utils.distributed import make_model

pytestmark = pytest.mark.usefixtures("one_thread")

TIE = [("embedding.weight", "head.weight")]


@pytest.fixture
def one_rank():
    dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    yield
    dist.destroy_process_group()


def _tensor_parallel(model):
    mesh = init_device_mesh("cpu", (1,))
    parallelize_module(model, mesh, {"embedding": RowwiseParallel(input_layouts=Replicate()),
                                     "head": ColwiseParallel(output_layouts=Replicate())})
    return model


def test_ddp_is_audited_by_the_bare_model_names(one_rank):
    model = make_model()
    wrapped = DistributedDataParallel(model)
    assert unwrap(wrapped) is model
    report = audit(wrapped, torch.optim.SGD(wrapped.parameters(), lr=0.1))
    assert report.ok and [tuple(t) for t in report.ties] == TIE


def test_grouped_fsdp2_is_consistent(one_rank):
    model = make_model()
    fully_shard([model.embedding, model.head])
    fully_shard(model)
    assert is_dtensor(model.head.weight) and model.head.weight.shape == (32, 16)  # global shape
    report = audit(model)
    assert report.ok and [tuple(t) for t in report.ties] == TIE


def test_a_tie_lost_by_parallelize_module_is_a_finding_that_says_so(one_rank):
    model = _tensor_parallel(make_model())
    [finding] = audit(model).findings
    assert finding.kind == "lost_tie" and finding.message.endswith(PARALLELIZE_HINT)
    with torch.no_grad():
        model.head.weight.mul_(2)  # trained apart: the values no longer match
    [finding] = audit(model).findings
    assert finding.kind == "config_mismatch" and finding.message.endswith(PARALLELIZE_HINT)
    model.embedding.weight = model.head.weight
    report = audit(model)
    assert report.ok and [tuple(t) for t in report.ties] == TIE


def test_a_plain_lost_tie_keeps_its_own_message():
    model = make_model()
    untie(model.head)
    [finding] = audit(model).findings
    assert finding.kind == "lost_tie" and PARALLELIZE_HINT not in finding.message
    assert not is_dtensor(model.head.weight)
