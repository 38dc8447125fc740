"""Notebook 08 (ties across ranks): every case through the same launcher the notebook uses.

Each broken variant must fail the way the notebook says (an error naming the problem, or copies
of the tied matrix that drift apart), and each fixed variant must end one tied matrix that
matches the single-process tied reference within 1e-6. All runs share one pair of gloo
processes, which `launch` stops after a hard timeout, so no process outlives a test.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
from torch import nn

from tying_utils.distributed import CASES, check_replicas, launch, reference_weights

pytestmark = pytest.mark.usefixtures("one_thread")

STEPS = 3


@pytest.fixture(scope="module")
def results():
    runs = [(case, fixed) for case in CASES for fixed in (False, True)]
    out = launch(runs, steps=STEPS, timeout=240)
    return {(r["case"], r["fixed"]): r for r in out}


@pytest.mark.parametrize("case", list(CASES))
def test_fixed_variant_matches_the_single_process_reference(results, case):
    result = results[(case, True)]
    assert result["outcome"] == "ran", result.get("error")
    assert result["drift"] == 0.0
    assert result["off_reference"] < 1e-6


@pytest.mark.parametrize("case, phrase", [
    ("ddp", "Expected to have finished reduction in the prior iteration"),
    ("fsdp2", "is shared with a parameter already managed by another FSDP group"),
    ("fsdp1", "size mismatch"),
    ("dcp", "Missing key in checkpoint state_dict: optimizer.state.head.weight"),
])
def test_broken_variant_raises_the_expected_error(results, case, phrase):
    result = results[(case, False)]
    assert result["outcome"] == "error"
    assert phrase in result["error"]


@pytest.mark.parametrize("case", ["tp", "pipeline"])
def test_broken_variant_drifts_silently(results, case):
    result = results[(case, False)]
    assert result["outcome"] == "ran", result.get("error")
    assert result["drift"] > 1e-2
    assert result["off_reference"] > 1e-2


def test_parallelize_module_unties_and_a_re_tie_fixes_it(results):
    assert results[("tp", False)]["untied_by_parallelize"]
    assert results[("tp", True)]["untied_by_parallelize"]  # the fix re-ties afterwards


@pytest.mark.parametrize("case", ["pipeline", "tp"])
def test_check_replicas_catches_the_copies_and_passes_the_fix(results, case):
    assert results[(case, False)]["check_replicas_ok"] is False
    assert results[(case, True)]["check_replicas_ok"] is True


def test_check_replicas_passes_ddp_replicas(results):
    assert results[("ddp", True)]["check_replicas_ok"] is True


def test_unscaled_pipeline_gradients_keep_the_copies_equal_but_off_the_reference(results):
    result = results[("pipeline_scale", False)]
    assert result["outcome"] == "ran", result.get("error")
    assert result["drift"] == 0.0 and result["check_replicas_ok"] is True
    assert result["off_reference"] > 1e-2


def test_find_unused_parameters_lets_the_late_tie_run_to_the_reference(results):
    result = results[("ddp_unused", False)]
    assert result["outcome"] == "ran", result.get("error")
    assert result["off_reference"] < 1e-6


def test_dcp_saves_both_model_names_and_one_optimizer_name(results):
    assert results[("dcp", True)]["tied_names_saved"] == {
        "model": ["embedding.weight", "head.weight"], "optimizer": ["embedding.weight"]}


def test_reference_is_tied_and_moves():
    weights = reference_weights(STEPS)
    assert torch.equal(weights["embedding.weight"], weights["head.weight"])
    assert not torch.equal(weights["head.weight"], reference_weights(1)["head.weight"])


def test_launcher_rejects_bad_input_in_one_sentence():
    with pytest.raises(ValueError, match="unknown case 'ddpp'; choose one of ddp"):
        launch([("ddpp", True)])
    with pytest.raises(ValueError, match="steps must be a whole number from 1 to 100"):
        launch([("ddp", True)], steps=0)


def _children_running_cases() -> list[int]:
    pids = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines()
                          if ":\t" in line)
            cmdline = (status.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields.get("PPid", "0")) == os.getpid() and b"tying_utils.distributed" in cmdline:
            pids.append(int(status.parent.name))
    return pids


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux's /proc")
def test_launcher_stops_both_processes_at_its_timeout():
    with pytest.raises(TimeoutError, match="did not finish within 0.5 s; both were stopped"):
        launch([("ddp", True)], timeout=0.5)
    assert _children_running_cases() == []


@pytest.fixture
def one_rank_group(tmp_path):
    store = dist.FileStore(str(tmp_path / "store"), 1)
    dist.init_process_group("gloo", store=store, rank=0, world_size=1)
    yield
    dist.destroy_process_group()


def test_check_replicas_finds_two_copies_on_one_rank(one_rank_group):
    model = nn.Module()
    model.embedding, model.head = nn.Embedding(5, 3), nn.Linear(3, 5, bias=False)
    report = check_replicas(model, aliases={"head.weight": "embedding.weight"})
    assert not report.ok
    [finding] = report.findings
    assert finding["parameter"] == "embedding.weight" and finding["max_difference"] > 0
    assert "embedding.weight: rank 0 differs from rank 0" in str(report)
    model.embedding.weight = model.head.weight
    tied = check_replicas(model, aliases={"head.weight": "embedding.weight"})
    assert tied.ok and tied.as_dict()["ok"] is True


def test_check_replicas_needs_a_process_group():
    with pytest.raises(RuntimeError, match="needs torch.distributed to be initialised"):
        check_replicas(nn.Linear(2, 2))


TIE = [["embedding.weight", "head.weight"]]


@pytest.mark.parametrize("case", ["ddp", "fsdp2"])
def test_audit_names_the_tie_through_ddp_and_fsdp2_as_on_the_bare_model(results, case):
    assert results[(case, True)]["audit_at_end"] == {"ok": True, "ties": TIE, "findings": []}


def test_audit_reports_the_tie_parallelize_module_lost(results):
    [[kind, message]] = results[("tp", False)]["audit_after_parallelize"]["findings"]
    assert kind == "lost_tie" and "the mark of parallelize_module" in message
    [[kind, message]] = results[("tp", False)]["audit_at_end"]["findings"]
    assert kind == "config_mismatch" and "the mark of parallelize_module" in message
    assert results[("tp", True)]["audit_at_end"] == {"ok": True, "ties": TIE, "findings": []}


def test_check_replicas_compares_in_pieces_and_finds_the_largest_difference(results):
    broken = results[("pipeline", False)]
    [finding] = broken["check_replicas"]["findings"]
    assert finding["parameter"] == "embedding.weight"
    assert (finding["rank"], finding["against_rank"]) == (1, 0)
    assert finding["max_difference"] == pytest.approx(broken["drift"], abs=1e-6)


@pytest.mark.parametrize("rows, chunk_rows", [(32, 256), (5, 256), (2, 1), (32, 8)])
def test_check_replicas_never_gathers_a_whole_matrix_of_two_rows_or_more(
        one_rank_group, monkeypatch, rows, chunk_rows):
    from tying_utils import replicas
    gathered_rows = []
    real = dist.all_gather

    def spy(tensors, piece, group=None):
        gathered_rows.append(piece.shape[0])
        return real(tensors, piece, group=group)

    monkeypatch.setattr(dist, "all_gather", spy)
    matrix = torch.randn(rows, 4)
    largest = replicas._compare_in_chunks(matrix, tuple(matrix.shape), [0], 1, None,
                                          chunk_rows)
    assert largest == {0: 0.0}
    assert sum(gathered_rows) == rows
    assert max(gathered_rows) <= min(chunk_rows, (rows + 1) // 2) < rows
