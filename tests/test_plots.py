"""The collection's figure style (plots.py): grids of axes, readable text sizes, marked matrices."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from tying_utils.plots import (  # noqa: E402
    COLORS,
    FONT_SIZES,
    finish,
    new_axes,
    plot_bands,
    plot_matrix,
    plot_pair,
)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def losses(seeds=5, steps=40):
    rng = np.random.default_rng(0)
    curve = np.exp(-np.arange(steps) / 10)
    return {v: curve * rng.uniform(0.5, 1.5, (seeds, 1)) for v in ("tied", "untied")}


def test_new_axes_gives_a_flat_grid_in_reading_order():
    fig, axes = new_axes(ncols=2, nrows=2, width=4.0, height=3.0)
    assert len(axes) == 4 and tuple(fig.get_size_inches()) == (8.0, 6.0)
    assert axes[0].get_position().y0 > axes[2].get_position().y0, "row 1 above row 2"
    assert axes[0].get_position().x0 < axes[1].get_position().x0
    _, (single,) = new_axes()
    assert single.xaxis.get_major_ticks()[0].label1.get_fontsize() == FONT_SIZES["ticks"]


def test_finish_gives_every_text_the_collections_size():
    fig, (left, right) = new_axes(ncols=2)
    plot_pair({v: c[0] for v, c in losses().items()}, ax=left, title="one seed")
    right.plot([0, 1], [1, 0], label="a line")
    right.set_title("a title set with pyplot's default size", fontsize=6)
    right.legend(fontsize=6)
    finish(fig, "The finding")
    fig.canvas.draw()
    for ax in (left, right):
        assert ax.title.get_fontsize() == FONT_SIZES["title"]
        assert ax.xaxis.label.get_fontsize() == FONT_SIZES["labels"]
        assert all(t.get_fontsize() == FONT_SIZES["ticks"] for t in ax.get_xticklabels())
        assert all(t.get_fontsize() == FONT_SIZES["legend"] for t in ax.get_legend().get_texts())
    assert fig._suptitle.get_text() == "The finding"
    assert fig._suptitle.get_fontsize() == FONT_SIZES["figure_title"]


def test_text_is_at_least_ten_points():
    assert min(FONT_SIZES.values()) >= 10


def test_bands_label_the_threshold():
    ax = plot_bands(losses(), threshold=0.1, threshold_label="ln 2 / 10")
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "ln 2 / 10" in labels
    ax = plot_bands(losses(), threshold=0.1)
    assert "threshold 0.1" in [t.get_text() for t in ax.get_legend().get_texts()]
    colors = {line.get_label().split(":")[0]: line.get_color() for line in ax.get_lines()[:2]}
    assert colors == {"tied": COLORS["tied"], "untied": COLORS["untied"]}


def test_matrix_marks_targets_and_largest_entries_of_the_given_rows():
    matrix = np.array([[0.0, 5.0, 1.0], [3.0, 0.0, 1.0], [0.0, 0.0, 9.0]])
    ax = plot_matrix(matrix, targets={0: 1, 1: 2})
    squares, dots = ax.collections
    assert squares.get_offsets().tolist() == [[1, 0], [2, 1]]  # (column, row) of each target
    assert dots.get_offsets().tolist() == [[1, 0], [0, 1]]  # row 1's largest entry is column 0
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["target", "largest logit"]
    plain = plot_matrix(matrix)
    assert not plain.collections and plain.get_legend() is None


def test_plot_bands_draws_long_runs_at_evenly_spaced_steps():
    curves = np.linspace(1.0, 0.001, 5000)[None, :].repeat(3, axis=0)
    ax = plot_bands({"tied": curves, "untied": curves * 2}, max_points=1000)
    median = ax.get_lines()[0]
    steps = median.get_xdata()
    assert len(steps) == 1000 and steps[0] == 0 and steps[-1] == 4999
    assert np.allclose(median.get_ydata(), curves[0, steps])
    plt.close(ax.figure)
