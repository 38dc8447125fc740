"""Statistics on data with a known answer."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tying_utils.stats import (
    area_under_curve,
    bootstrap_ci,
    compare_curves,
    default_threshold,
    final_loss,
    steps_to_threshold,
    uniform_guess_loss,
)


def test_uniform_guess_loss_by_hand():
    # MSE with 10 tokens and p = 0.1 everywhere: (0.9² + 9·0.1²) / 10 = 0.09
    assert uniform_guess_loss("mse", 10) == pytest.approx(0.09)
    assert uniform_guess_loss("ce", 10) == pytest.approx(math.log(10))
    assert default_threshold("mse", 10) == pytest.approx(0.009)
    with pytest.raises(ValueError, match="unknown loss 'l2'"):
        uniform_guess_loss("l2", 10)


def test_uniform_guess_loss_matches_torch():
    import torch
    import torch.nn.functional as F

    logits = torch.zeros(4, 7)
    target = torch.tensor([0, 3, 6, 2])
    mse = F.mse_loss(F.softmax(logits, -1), F.one_hot(target, 7).float())
    assert mse.item() == pytest.approx(uniform_guess_loss("mse", 7))
    assert F.cross_entropy(logits, target).item() == pytest.approx(uniform_guess_loss("ce", 7))


def test_steps_to_threshold_is_the_first_step_below():
    curves = np.array([[5.0, 4.0, 2.0, 0.5, 0.1],   # below 1 first at step 3
                       [0.5, 4.0, 0.1, 0.1, 0.1],   # at step 0
                       [5.0, 4.0, 3.0, 2.0, 1.0]])  # never (1.0 is not below 1.0)
    np.testing.assert_array_equal(steps_to_threshold(curves, 1.0), [3, 0, np.inf])
    assert steps_to_threshold([2.0, 0.0], 1.0) == 1


def test_area_and_final_loss():
    curves = np.array([[3.0, 2.0, 1.0], [1.0, 1.0, 1.0]])
    np.testing.assert_array_equal(area_under_curve(curves), [6.0, 3.0])
    np.testing.assert_array_equal(final_loss(curves), [1.0, 1.0])


def test_bootstrap_interval_of_a_constant_is_the_constant():
    assert bootstrap_ci(np.full(30, 0.25)) == (0.25, 0.25)


def test_bootstrap_interval_of_a_fraction_matches_the_normal_approximation():
    values = np.array([1.0] * 300 + [0.0] * 700)  # p = 0.3, n = 1000
    low, high = bootstrap_ci(values, resamples=4000)
    half_width = 1.96 * math.sqrt(0.3 * 0.7 / 1000)
    assert low == pytest.approx(0.3 - half_width, abs=0.006)
    assert high == pytest.approx(0.3 + half_width, abs=0.006)


def test_bootstrap_is_seeded_and_takes_other_statistics():
    values = np.arange(50.0)
    assert bootstrap_ci(values, seed=1) == bootstrap_ci(values, seed=1)
    low, high = bootstrap_ci(values, np.median)
    assert low < 24.5 < high


def test_bootstrap_handles_never_reached_without_nan():
    values = np.array([10.0, np.inf, np.inf, np.inf, 12.0])
    low, high = bootstrap_ci(values, np.median)
    assert not math.isnan(low) and not math.isnan(high)
    assert high == math.inf


def test_bootstrap_needs_values():
    with pytest.raises(ValueError, match="at least one value"):
        bootstrap_ci([])


def test_compare_curves_on_a_known_answer():
    steps = np.arange(10.0)
    fast = np.exp(-steps)          # below 0.1 at step 3
    slow = np.exp(-steps / 3)      # below 0.1 at step 7
    tied = np.array([fast, fast, fast, slow])
    untied = np.array([slow, slow, fast, fast])
    summary = compare_curves(tied, untied, threshold=0.1)
    assert summary.seeds == 4
    assert summary.fraction_tied_faster == 0.5
    assert summary.fraction_equal == 0.25
    assert summary.fraction_untied_faster == 0.25
    assert summary.median_steps_tied == 3  # steps 3, 3, 3, 7
    assert summary.median_steps_untied == 5  # steps 7, 7, 3, 3: halfway between 3 and 7
    assert summary.ci95[0] <= 0.5 <= summary.ci95[1]
    assert summary.never_tied == summary.never_untied == 0
    assert "50% of 4 seeds" in summary.sentence()


def test_compare_curves_counts_never_reached_as_slower():
    never = np.ones((3, 5))
    reaches = np.tile([1.0, 0.5, 0.01, 0.01, 0.01], (3, 1))
    summary = compare_curves(reaches, never, threshold=0.1)
    assert summary.fraction_tied_faster == 1.0 and summary.never_untied == 3
    assert summary.median_steps_untied == math.inf
    assert "never untied" in summary.sentence()


def test_compare_curves_needs_paired_shapes():
    with pytest.raises(ValueError, match="two \\(seeds, steps\\) arrays of one shape"):
        compare_curves(np.ones((3, 5)), np.ones((4, 5)), 0.1)


@given(st.lists(st.floats(0, 10, allow_nan=False), min_size=1, max_size=30),
       st.floats(0.01, 10))
def test_steps_to_threshold_property(curve, threshold):
    step = steps_to_threshold(curve, threshold)
    if math.isinf(step):
        assert all(v >= threshold for v in curve)
    else:
        step = int(step)
        assert curve[step] < threshold and all(v >= threshold for v in curve[:step])


def test_bootstrap_in_blocks_equals_one_draw_of_all_resamples():
    """Many seeds are resampled in blocks (to bound memory); the numbers must not change."""
    values = np.random.default_rng(5).random(3000)  # blocks of 349 resamples
    rng = np.random.default_rng(0)
    stats = np.median(values[rng.integers(0, len(values), size=(2000, len(values)))], axis=1)
    expected = np.quantile(stats, [(1 - 0.95) / 2, (1 + 0.95) / 2], method="inverted_cdf")
    assert bootstrap_ci(values, np.median) == tuple(float(x) for x in expected)


@given(st.lists(st.floats(0, 1, width=32), min_size=1, max_size=40), st.floats(0, 2))
def test_float32_curves_give_what_their_float64_copy_gives(curve, threshold):
    """Float32 curves are compared without a float64 copy; the answer must be the copy's."""
    curves32 = np.array([curve, curve[::-1]], dtype=np.float32)
    np.testing.assert_array_equal(steps_to_threshold(curves32, threshold),
                                  steps_to_threshold(curves32.astype(np.float64), threshold))
    np.testing.assert_array_equal(steps_to_threshold(curves32, np.float32(threshold)),
                                  steps_to_threshold(curves32.astype(np.float64),
                                                     float(np.float32(threshold))))
    assert area_under_curve(curves32).dtype == final_loss(curves32).dtype == np.float64


def test_large_curves_are_not_copied_to_float64():
    """The statistics of float32 curves need less memory than a float64 copy of one of them."""
    import tracemalloc

    tied = np.ones((200, 20_000), dtype=np.float32)  # 16 MB; a float64 copy would be 32 MB
    untied = tied * 0.5
    tracemalloc.start()
    compare_curves(tied, untied, threshold=0.75)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 16e6, f"{peak / 1e6:.0f} MB"  # "below?" (4 MB) and the bootstrap's resamples
