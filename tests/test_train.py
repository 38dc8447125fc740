"""The faithful loop, the many-seed trainer, tasks and run configurations."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tying_utils import RunConfig, make_batch, train_many, train_pair
from tying_utils.toy_models import SeedTied, SeedUntied
from tying_utils.train import LIMITS, build_model, estimated_bytes, starting_weights

SETTINGS = [
    RunConfig(steps=300),
    RunConfig(steps=300, loss="ce"),
    RunConfig(steps=300, init="matched", task="shift"),
    RunConfig(steps=200, vocab=40, dim=6, task="permutation", lr=0.01, batch=(4, 5)),
    RunConfig(steps=150, task="cycle", loss="ce", init="matched", lr=0.01),  # a fixed batch
]


def assert_equals_the_loop(config, seeds, dtype=torch.float64, rtol=1e-9, atol=1e-12):
    """train_many's curves for `seeds` are train_pair's, seed by seed, within the tolerance."""
    many = train_many(config, seeds, dtype=dtype)
    for row, seed in enumerate(seeds):
        pair = train_pair(config, seed, dtype=dtype)
        for variant in ("tied", "untied"):
            np.testing.assert_allclose(many.losses[variant][row], pair.losses[variant],
                                       rtol=rtol, atol=atol)


@pytest.mark.parametrize("config", SETTINGS, ids=lambda c: f"{c.task}-{c.loss}-{c.init}")
def test_many_seed_trainer_equals_the_loop_in_float64(config):
    assert_equals_the_loop(config, [0, 3, 11])


@pytest.mark.parametrize("config", SETTINGS[:2], ids=lambda c: c.loss)
def test_many_seed_trainer_equals_the_loop_in_float32(config):
    assert_equals_the_loop(config, [5, 6], dtype=torch.float32, rtol=1e-4, atol=1e-6)


def test_final_weights_equal_the_loop_models():
    config = RunConfig(steps=150, loss="ce")
    many = train_many(config, [2], dtype=torch.float64)
    pair = train_pair(config, 2, dtype=torch.float64)
    untied, tied = pair.models["untied"], pair.models["tied"]
    torch.testing.assert_close(many.weights["untied"]["E"][0], untied.embedding.weight.detach())
    torch.testing.assert_close(many.weights["untied"]["W"][0], untied.head.weight.detach())
    torch.testing.assert_close(many.weights["tied"]["W"][0], tied.head.weight.detach())
    torch.testing.assert_close(many.weights["tied"]["b"][0], tied.head.bias.detach())


def test_same_seed_same_numbers():
    config = RunConfig(steps=100)
    first, second = train_many(config, 4), train_many(config, 4)
    for variant in ("tied", "untied"):
        np.testing.assert_array_equal(first.losses[variant], second.losses[variant])
    np.testing.assert_array_equal(train_pair(config, 1).losses["tied"],
                                  train_pair(config, 1).losses["tied"])


def test_different_seeds_differ():
    run = train_many(RunConfig(steps=50), 3)
    assert not np.allclose(run.losses["tied"][0], run.losses["tied"][1])


def test_seed_order_does_not_change_a_seed():
    config = RunConfig(steps=80)
    a = train_many(config, [0, 1, 2])
    b = train_many(config, [2, 0])
    np.testing.assert_allclose(a.losses["tied"][2], b.losses["tied"][0], rtol=1e-6)


def test_global_random_state_is_left_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    train_many(RunConfig(steps=5), 2)
    train_pair(RunConfig(steps=5), 0)
    torch.testing.assert_close(torch.rand(3), expected)


def test_paired_design_shares_head_and_data():
    config = RunConfig()
    untied, tied = build_model(config, 7, tied=False), build_model(config, 7, tied=True)
    torch.testing.assert_close(untied.head.weight, tied.head.weight)
    torch.testing.assert_close(untied.head.bias, tied.head.bias)
    assert not torch.equal(untied.embedding.weight, tied.embedding.weight)  # N(0,1) vs head's
    matched = build_model(RunConfig(init="matched"), 7, tied=False)
    torch.testing.assert_close(matched.embedding.weight, tied.head.weight)
    assert matched.embedding.weight is not matched.head.weight


def test_seed_init_is_the_blogs_modules():
    """Built under one seed, EmbedHead's weights are those of the blog's Model_1 / Model_2."""
    config = RunConfig()
    torch.manual_seed(4)
    blog_untied = SeedUntied()
    torch.manual_seed(4)
    blog_tied = SeedTied()
    ours_untied, ours_tied = build_model(config, 4, False), build_model(config, 4, True)
    torch.testing.assert_close(ours_untied.embedding.weight, blog_untied.embedding.weight)
    torch.testing.assert_close(ours_untied.head.weight, blog_untied.head.weight)
    torch.testing.assert_close(ours_tied.head.weight, blog_tied.head.weight)
    x = torch.tensor([[1, 2, 3]])
    torch.testing.assert_close(torch.softmax(ours_tied(x), -1), blog_tied(x))


def test_init_seed_is_the_old_name_of_default():
    """`init="seed"` (each module's own initialisation) was renamed "default"; the old name is
    still accepted and read as the new one, so both give one configuration."""
    assert RunConfig().init == RunConfig(init="seed").init == "default"
    old = RunConfig(init="seed")
    assert old == RunConfig() and hash(old) == hash(RunConfig())


def test_blog_data_is_seed_zero():
    torch.manual_seed(0)
    blog_inputs = torch.randint(0, 10, (2, 3))
    inputs, targets = make_batch("identity", 10, 0)
    assert torch.equal(inputs, blog_inputs) and torch.equal(targets, blog_inputs)


@pytest.mark.parametrize("task", ["identity", "shift", "permutation"])
def test_tasks_map_tokens_consistently(task):
    inputs, targets = make_batch(task, 12, 3, shape=(50,))
    assert inputs.shape == targets.shape == (50,)
    assert targets.min() >= 0 and targets.max() < 12
    mapping = {}
    for x, y in zip(inputs.tolist(), targets.tolist()):
        assert mapping.setdefault(x, y) == y, "one input token, one target"
    if task == "shift":
        assert all(y == (x + 1) % 12 for x, y in mapping.items())
    if task == "identity":
        assert all(y == x for x, y in mapping.items())


def test_unknown_task_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown task 'copy'; choose one of identity"):
        make_batch("copy", 10, 0)


def test_the_loss_falls_on_the_blog_task():
    run = train_many(RunConfig(), 8)
    for variant in ("tied", "untied"):
        assert (run.losses[variant][:, -1] < 0.1 * run.losses[variant][:, 0]).all()


def test_progress_is_reported_until_done():
    calls = []
    train_many(RunConfig(steps=120), 2, progress=lambda done, total: calls.append((done, total)))
    assert calls[-1] == (120, 120)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    assert 20 <= len(calls) <= 130


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"task": "copy"}, "unknown task 'copy'"),
        ({"loss": "l1"}, "unknown loss 'l1'; choose one of mse, ce"),
        ({"init": "zeros"}, "unknown init 'zeros'"),
        ({"vocab": 1}, "vocab must be a whole number from 2 to"),
        ({"dim": 0}, "dim must be a whole number from 1 to"),
        ({"dim": -3}, "dim must be a whole number"),
        ({"dim": 2.5}, "dim must be a whole number"),
        ({"steps": 0}, "steps must be a whole number"),
        ({"steps": LIMITS["steps"] + 1}, "steps must be a whole number from 1 to"),
        ({"lr": 0}, "lr must be a number in"),
        ({"lr": -1e-3}, "lr must be a number in"),
        ({"batch": (2, 0)}, "batch must be a shape"),
    ],
)
def test_bad_configs_are_one_clear_sentence(changes, message):
    with pytest.raises(ValueError, match=message) as info:
        RunConfig(**changes)
    assert str(info.value).count(". ") == 0 and str(info.value).endswith(".")


@pytest.mark.parametrize("seeds", [0, -1, [], True])
def test_bad_seeds(seeds):
    with pytest.raises(ValueError, match="seed"):
        train_many(RunConfig(steps=2), seeds)


def test_runs_that_would_not_fit_in_memory_are_refused():
    config = RunConfig(vocab=5000, dim=512, steps=10)
    assert estimated_bytes(config, 2000) > LIMITS["bytes"]
    with pytest.raises(ValueError, match="GB, over the"):
        train_many(config, 2000)


def test_data_seed_fixes_the_batch_for_every_seed():
    config = RunConfig(steps=60, data_seed=0)
    assert torch.equal(config.batch_of(5)[0], make_batch("identity", 10, 0)[0])
    many = train_many(config, [3, 4], dtype=torch.float64)
    pair = train_pair(config, 4, dtype=torch.float64)
    np.testing.assert_allclose(many.losses["untied"][1], pair.losses["untied"], rtol=1e-9)
    with pytest.raises(ValueError, match="data_seed must be None or a whole number"):
        RunConfig(data_seed=-1)


# --- the many-seed trainer's own paths ----------------------------------------------------------

@pytest.mark.parametrize(
    "config",
    [RunConfig(), RunConfig(init="matched"), RunConfig(vocab=1000, dim=256),
     RunConfig(vocab=17, dim=1), RunConfig(vocab=2, dim=5, task="permutation")],
    ids=lambda c: f"{c.init}-{c.vocab}x{c.dim}",
)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_starting_weights_are_build_models_numbers(config, dtype):
    """train_many draws each seed's start itself (fast); it must be build_model's, bit for bit."""
    for seed in (0, 7, 2**40):
        E, W, b = starting_weights(config, seed, dtype)
        untied = build_model(config, seed, tied=False, dtype=dtype)
        tied = build_model(config, seed, tied=True, dtype=dtype)
        assert torch.equal(E, untied.embedding.weight) and torch.equal(W, untied.head.weight)
        assert torch.equal(b, untied.head.bias)
        assert torch.equal(W, tied.head.weight) and torch.equal(b, tied.head.bias)


@pytest.mark.parametrize("path", ["term by term", "elementwise", "batched"])
@pytest.mark.parametrize("config", [RunConfig(steps=150), SETTINGS[3], SETTINGS[4]],
                         ids=["blog", "permutation-40x6", "cycle"])
def test_every_matrix_product_path_equals_the_loop(monkeypatch, path, config):
    """Products are computed term by term, elementwise or with torch.bmm, by their sizes: each
    way alone gives the loop's numbers, for settings that use each of them by default."""
    from tying_utils import per_model

    monkeypatch.setattr(per_model, "FEW_TERMS", 10**9 if path == "term by term" else 0)
    monkeypatch.setattr(per_model, "LARGE_RESULT", 0)
    monkeypatch.setattr(per_model, "SMALL_PRODUCT", 0 if path == "batched" else 10**9)
    monkeypatch.setattr(per_model, "SMALL_PRODUCT_TOTAL", 0 if path == "batched" else 10**12)
    assert_equals_the_loop(config, [1, 4])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_a_shared_scratch_tensor_changes_no_bit(dtype):
    """The elementwise products of a training step write their terms into one tensor made once,
    laid out as `a * b` would be: the same sums as with a new tensor at every call, bit for bit
    (with the terms laid out otherwise, the head gradient's sum comes out differently)."""
    from tying_utils.per_model import PerModelProduct, share_scratch

    generator = torch.Generator().manual_seed(0)
    tokens, vocab, dim, models = 6, 10, 3, 40
    h, W, d_logits = (torch.randn(*shape, models, generator=generator, dtype=dtype)
                      for shape in ((tokens, dim), (vocab, dim), (tokens, vocab)))
    pairs = [(h, W.transpose(0, 1)), (d_logits.transpose(0, 1), h), (d_logits, W)]
    alone = [PerModelProduct(a, b) for a, b in pairs]
    shared = [PerModelProduct(a, b) for a, b in pairs]
    share_scratch(shared)
    assert all(product.way == "elementwise" and product.scratch is not None
               for product in shared)
    for one, other in zip(alone, shared, strict=True):
        assert torch.equal(one(), other())


@pytest.mark.parametrize("fused", [True, False], ids=["fused kernel", "written out"])
def test_adam_matches_torch_bit_for_bit_with_zero_and_tiny_gradients(fused):
    """The flat Adam gives torch.optim.Adam's numbers exactly, both ways: the fused kernel those of
    Adam(fused=True), the written-out update (which raises averages below the smallest normal
    float before sqrt, for speed) those of the default single-tensor Adam."""
    from tying_utils.per_model import FlatAdam, has_fused_adam

    if fused and not has_fused_adam():
        pytest.skip("this PyTorch has no fused Adam kernel for the CPU (2.4 and later do)")
    grads = [torch.tensor([0.0, 1e-20, -3e-23, 0.5, -2.0, 1e-30, 0.0, 7e-3])] * 3
    grads.append(torch.zeros(8))
    grads += [torch.linspace(-3, 2, 8) * 10.0**-k for k in range(0, 40, 3)]
    for dtype in (torch.float32, torch.float64):
        ours, our_grad = torch.linspace(-1, 1, 8, dtype=dtype), torch.empty(8, dtype=dtype)
        theirs = torch.nn.Parameter(ours.clone())
        adam = FlatAdam(ours, our_grad, lr=1e-3, fused=fused)
        reference = torch.optim.Adam([theirs], lr=1e-3, **({"fused": True} if fused else
                                                            {"foreach": False}))
        for grad in grads:
            our_grad.copy_(grad)
            adam.step()
            theirs.grad = grad.to(dtype)
            reference.step()
            assert torch.equal(ours, theirs.detach())


def test_the_trainer_equals_the_loop_with_adam_written_out(monkeypatch):
    """Where PyTorch has no fused Adam kernel (before 2.4), train_many writes Adam out."""
    from tying_utils import per_model

    monkeypatch.setattr(per_model, "_FUSED_ADAM", False)
    for config in SETTINGS[:2]:
        assert_equals_the_loop(config, [0, 3])


@pytest.mark.parametrize(
    ("seeds", "message"),
    [
        ([1.7, 2], "a seed must be a whole number from 0 to 2\\*\\*63 - 1, got 1.7"),
        ([3, 1, 3], "each seed may appear once, but 3 appears more than once"),
        ([2**70], "a seed must be a whole number from 0 to 2\\*\\*63 - 1, got 11805916"),
        ([-1], "a seed must be a whole number"),
        (["4"], "a seed must be a whole number"),
        ([True], "a seed must be a whole number"),
        (np.array([0.5]), "a seed must be a whole number"),
        (2.0, "seeds must be a count or a list of seeds"),
        (LIMITS["seeds"] + 1, "seeds must be a count from 1 to"),
    ],
)
def test_bad_seeds_are_one_clear_sentence(seeds, message):
    with pytest.raises(ValueError, match=message) as info:
        train_many(RunConfig(steps=2), seeds)
    assert str(info.value).endswith(".") and "\n" not in str(info.value)


@pytest.mark.parametrize("seed", [1.7, 2**70, -1, "4", True, None])
def test_one_bad_seed_for_the_loop_is_one_clear_sentence(seed):
    with pytest.raises(ValueError, match="a seed must be a whole number from 0 to 2"):
        train_pair(RunConfig(steps=2), seed)


def test_the_largest_seed_and_numpy_seeds_work():
    run = train_many(RunConfig(steps=3), np.array([2**63 - 1, 5], dtype=np.int64))
    assert run.seeds.tolist() == [2**63 - 1, 5]
    alone = train_many(RunConfig(steps=3), [np.int64(5)])
    np.testing.assert_allclose(run.losses["tied"][1], alone.losses["tied"][0], rtol=1e-6)


def test_memory_message_rounds_up_so_the_need_shows_above_the_limit(monkeypatch):
    from tying_utils import many_seeds

    monkeypatch.setattr(many_seeds, "estimated_bytes", lambda *args: LIMITS["bytes"] + 1)
    with pytest.raises(ValueError, match="about 4.1 GB, over the 4.0 GB limit"):
        train_many(RunConfig(steps=2), 2)


def test_without_a_usable_fused_kernel_adam_is_written_out(monkeypatch):
    """A PyTorch whose `torch.optim.Adam(fused=True)` fails on the CPU (no fused kernel, or one that
    refuses these arguments; simulated by removing or replacing the kernel that it calls): the
    written-out update, with the same numbers."""
    from tying_utils import per_model

    def refuses(*args, **kwargs):
        raise TypeError("_fused_adam_() got an unexpected keyword argument 'maximize'")

    reference = train_many(RunConfig(steps=30), [0, 1], dtype=torch.float64)
    for replacement in (refuses, None):
        monkeypatch.setattr(per_model, "_FUSED_ADAM", None)
        if replacement is None:
            monkeypatch.delattr(torch, "_fused_adam_")
        else:
            monkeypatch.setattr(torch, "_fused_adam_", replacement)
        assert per_model.has_fused_adam() is False
        run = train_many(RunConfig(steps=30), [0, 1], dtype=torch.float64)
        for variant in ("tied", "untied"):
            np.testing.assert_allclose(run.losses[variant], reference.losses[variant],
                                       rtol=1e-12)
