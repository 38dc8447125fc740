"""The thread policy: the CPUs a process may use (affinity, cgroup quotas read from fake cgroup
files), who wins when the reader or the environment chooses, and that the trainers use it."""

from __future__ import annotations

import os

import pytest
import torch

from tying_utils import runtime
from tying_utils.runtime import (
    WORK_CAPS,
    CpuBudget,
    cgroup_cpu_quota,
    choose_threads,
    cpu_budget,
    describe,
    set_threads,
    threads_for,
)


def fake_root(tmp_path, cgroup_lines: str, files: dict[str, str]):
    """A folder laid out like / for `cpu_budget(root)`: proc/self/cgroup and sys/fs/cgroup/…"""
    (tmp_path / "proc/self").mkdir(parents=True)
    (tmp_path / "proc/self/cgroup").write_text(cgroup_lines)
    for name, text in files.items():
        path = tmp_path / "sys/fs/cgroup" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


@pytest.mark.parametrize(
    ("cgroup", "files", "quota"),
    [
        # cgroup v2: one unified hierarchy, "QUOTA PERIOD" in cpu.max
        ("0::/\n", {"cpu.max": "150000 100000\n"}, 1.5),
        ("0::/\n", {"cpu.max": "max 100000\n"}, None),
        ("0::/kubepods/pod1\n", {"kubepods/pod1/cpu.max": "100000 100000"}, 1.0),
        # nested: the tightest limit on the way up wins, whether above or below
        ("0::/a/b\n", {"a/b/cpu.max": "max 100000", "a/cpu.max": "50000 100000"}, 0.5),
        ("0::/a/b\n", {"a/b/cpu.max": "300000 100000", "a/cpu.max": "400000 100000",
                       "cpu.max": "max 100000"}, 3.0),
        # cgroup v1: cpu.cfs_quota_us and cpu.cfs_period_us, under any of the usual mounts
        ("4:cpu,cpuacct:/docker/abc\n2:memory:/docker/abc\n",
         {"cpu,cpuacct/docker/abc/cpu.cfs_quota_us": "200000\n",
          "cpu,cpuacct/docker/abc/cpu.cfs_period_us": "100000\n"}, 2.0),
        ("3:cpu:/job\n", {"cpu/job/cpu.cfs_quota_us": "-1", "cpu/job/cpu.cfs_period_us": "100000",
                          "cpu/cpu.cfs_quota_us": "25000", "cpu/cpu.cfs_period_us": "100000"},
         0.25),
        ("3:cpuacct,cpu:/\n", {"cpuacct,cpu/cpu.cfs_quota_us": "-1",
                               "cpuacct,cpu/cpu.cfs_period_us": "100000"}, None),
        # a container that sees its own cgroup at the mount's root, not the host's path
        ("5:cpu,cpuacct:/docker/0123\n", {"cpu,cpuacct/cpu.cfs_quota_us": "50000",
                                           "cpu,cpuacct/cpu.cfs_period_us": "100000"}, 0.5),
        # malformed files are no limit, not an error
        ("0::/\n", {"cpu.max": "garbage"}, None),
        ("0::/\n", {"cpu.max": "100000"}, None),
        ("0::/\n", {"cpu.max": "abc 100000"}, None),
        ("0::/\n", {"cpu.max": "100000 0"}, None),
        ("0::/\n", {"cpu.max": "-5 100000"}, None),
        ("4:cpu:/\n", {"cpu/cpu.cfs_quota_us": "12x", "cpu/cpu.cfs_period_us": "100000"}, None),
        ("4:cpu:/\n", {"cpu/cpu.cfs_quota_us": "50000"}, None),  # no period file
        ("garbage without colons\n", {"cpu.max": "50000 100000"}, None),
        # missing: cgroup named, files absent
        ("0::/a\n", {}, None),
        ("4:cpu,cpuacct:/x\n", {}, None),
    ],
)
def test_cgroup_quota_from_fake_files(tmp_path, cgroup, files, quota):
    root = fake_root(tmp_path, cgroup, files)
    assert cgroup_cpu_quota(root) == (None if quota is None else pytest.approx(quota))


def test_no_proc_at_all_is_no_quota(tmp_path):
    assert cgroup_cpu_quota(tmp_path) is None


@pytest.mark.parametrize(("quota", "usable"), [(None, None), (0.5, 1), (1.5, 1), (1.0, 1),
                                               (64.0, None)])
def test_usable_cpus_are_affinity_and_quota_rounded_down(tmp_path, quota, usable):
    files = {"cpu.max": "max 100000" if quota is None else f"{int(quota * 100000)} 100000"}
    budget = cpu_budget(fake_root(tmp_path, "0::/\n", files))
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert budget.affinity == affinity and budget.visible == os.cpu_count()
    assert budget.usable == (affinity if usable is None else min(usable, affinity))
    assert budget.usable >= 1
    assert str(budget.usable) in str(budget)


@pytest.fixture
def policy(monkeypatch):
    """The policy with nothing chosen elsewhere, on a fake machine of 2 usable CPUs."""
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(runtime, "_STARTED_WITH", torch.get_num_threads())
    monkeypatch.setattr(runtime, "cpu_budget", lambda root="/": CpuBudget(16, 2, None, 2))
    set_threads(None)
    yield
    set_threads(None)


def test_the_policy_caps_each_kind_of_work(policy):
    for work, cap in WORK_CAPS.items():
        threads, why = choose_threads(work)
        assert threads == min(2, cap)
        assert f"at most {cap}" in why


def test_a_quota_of_one_cpu_means_one_thread(policy, monkeypatch):
    monkeypatch.setitem(WORK_CAPS, "lm", 4)  # even for work that would gain from more
    monkeypatch.setattr(runtime, "cpu_budget", lambda root="/": CpuBudget(64, 64, 1.0, 1))
    assert choose_threads("lm")[0] == choose_threads("toy")[0] == 1
    monkeypatch.setattr(runtime, "cpu_budget", lambda root="/": CpuBudget(64, 64, 3.0, 3))
    assert choose_threads("lm")[0] == 3


def test_apply_to_torch_sets_the_policy_without_counting_as_the_readers_choice(policy,
                                                                                monkeypatch):
    before = torch.get_num_threads()
    monkeypatch.setitem(WORK_CAPS, "toy", 1)
    try:
        assert runtime.apply_to_torch("toy") == 1 == torch.get_num_threads()
        assert "set with torch.set_num_threads" not in runtime.describe()
        readers = runtime._STARTED_WITH + 2  # neither what PyTorch started with nor the policy's
        torch.set_num_threads(readers)  # the reader's own call still wins
        assert choose_threads("toy") == (readers, "set with torch.set_num_threads")
    finally:
        torch.set_num_threads(before)
        monkeypatch.setattr(runtime, "_applied", None)


def test_the_reader_wins_then_the_environment_then_torch(policy, monkeypatch):
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(3)  # after import tying_utils: the reader's choice
        assert choose_threads("toy") == (3, "set with torch.set_num_threads")
        monkeypatch.setenv("OMP_NUM_THREADS", "5")
        assert choose_threads("toy") == (5, "OMP_NUM_THREADS")
        set_threads(4)
        assert choose_threads("lm") == (4, "set with tying_utils.set_threads")
        assert "4 CPU threads for all work (set with tying_utils.set_threads)" in describe()
        set_threads(None)
        assert choose_threads("lm")[0] == 5
    finally:
        torch.set_num_threads(before)


def test_describe_says_both_choices_and_how_to_change_them(policy):
    line = describe()
    assert line.startswith("tying_utils: ")
    assert f"{choose_threads('toy')[0]} CPU thread" in line
    assert "2 usable CPUs" in line and "tying_utils.set_threads(n)" in line


def test_threads_for_sets_and_restores(policy):
    before = torch.get_num_threads()
    set_threads(2)
    with threads_for("toy") as threads:
        assert threads == torch.get_num_threads() == 2
        with threads_for("lm"):  # nested: the reader's choice again
            assert torch.get_num_threads() == 2
    assert torch.get_num_threads() == before


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2", 2000])
def test_set_threads_needs_a_whole_number(bad):
    with pytest.raises(ValueError, match="set_threads needs a whole number from 1 to 1024"):
        set_threads(bad)


def test_unknown_work_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown kind of work 'gpu'; choose one of toy, lm"):
        choose_threads("gpu")


def test_the_trainers_and_the_explorer_run_on_the_policys_threads(policy, monkeypatch):
    """Inside train_many, train_pair and an explorer click, PyTorch uses the toy work's
    threads; afterwards the reader's setting is back."""
    from tying_utils import train
    from tying_utils.explorer import Explorer

    before = torch.get_num_threads()
    monkeypatch.setitem(WORK_CAPS, "toy", 1)
    seen = []
    train.train_many(train.RunConfig(steps=4), 2,
                     progress=lambda done, total: seen.append(torch.get_num_threads()))
    real_loss = train.loss_of
    monkeypatch.setattr(train, "loss_of", lambda *args: (seen.append(torch.get_num_threads()),
                                                         real_loss(*args))[1])
    train.train_pair(train.RunConfig(steps=2), 0)
    explorer = Explorer(train_now=False, seeds=2, steps=3)
    explorer._on_progress = lambda done, total: seen.append(torch.get_num_threads())
    assert explorer.train()
    assert seen and set(seen) == {1}
    assert torch.get_num_threads() == before

