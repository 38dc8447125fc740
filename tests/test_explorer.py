"""The explorer of notebook 04, driven from Python the way a reader drives it in the browser:
set values, press Train, read the message, the summary and the plot.

`make test-widgets7` runs this file again under ipywidgets 7.7.1 (what Colab ships), with
TYING_WIDGETS_VERSION=7.7.1 so that the first test checks the version really in use.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys

import ipywidgets
import numpy as np
import pytest

from tying_utils import options, train
from tying_utils.explorer_widget import (
    DEFAULTS,
    EXPLORER_LIMITS,
    LIMITS_TEXT,
    MAX_BYTES,
    MAX_WORK,
    Explorer,
    explorer,
)

# The module itself (not the function `tying_utils.explorer`), for monkeypatching.
explorer_module = importlib.import_module("tying_utils.explorer_widget")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


@pytest.fixture
def small():
    """An explorer already trained once on a setting small enough for a unit test."""
    return Explorer(seeds=8, steps=300)


def snapshot(ex: Explorer):
    return bytes(ex.image.value), ex.summary.value, ex.last_run


def message_text(ex: Explorer) -> str:
    """The message without its HTML wrapper and escapes."""
    import html
    import re

    return html.unescape(re.sub(r"<[^>]+>", "", ex.message.value))


def test_runs_under_the_expected_ipywidgets():
    expected = os.environ.get("TYING_WIDGETS_VERSION")
    if expected is None:
        assert int(ipywidgets.__version__.split(".")[0]) >= 7
    else:
        assert ipywidgets.__version__ == expected


def test_defaults_are_the_blogs_setting():
    assert DEFAULTS == {"task": "identity", "loss": "mse", "init": "default", "vocab": 10, "dim": 3,
                        "lr": 1e-3, "steps": 2000, "seeds": DEFAULTS["seeds"]}
    assert 50 <= DEFAULTS["seeds"] <= 200


def test_explorer_trains_the_default_setting_once_and_shows_it():
    ex = explorer()
    assert (ex.task.value, ex.loss.value, ex.init.value) == ("identity", "mse", "default")
    assert (ex.vocab.value, ex.dim.value, ex.lr.value, ex.steps.value) == (10, 3, 1e-3, 2000)
    assert ex.last_run.losses["tied"].shape == (DEFAULTS["seeds"], 2000)
    assert bytes(ex.image.value).startswith(PNG_SIGNATURE)
    assert len(ex.image.value) < 150_000
    assert f"of {DEFAULTS['seeds']} seeds" in ex.summary.value
    assert ex.last_summary.sentence().split(";")[0] in ex.summary.value
    assert "Trained" in ex.message.value


def test_shows_as_a_widget_with_a_short_text_fallback(small):
    bundle = small._repr_mimebundle_()
    assert bundle[WIDGET_MIME]["model_id"] == small.widget.model_id
    assert bundle[WIDGET_MIME]["version_major"] == 2
    assert "VBox" not in bundle["text/plain"]


def test_the_widget_bundle_is_written_out_where_widgets_have_none(small, monkeypatch):
    """ipywidgets 7 widgets have no _repr_mimebundle_: the explorer writes the same bundle."""
    class Widget7:  # what the explorer sees of an ipywidgets 7 VBox
        model_id = small.widget.model_id

    monkeypatch.setattr(small, "widget", Widget7())
    bundle = small._repr_mimebundle_()
    assert bundle[WIDGET_MIME] == {"version_major": 2, "version_minor": 0,
                                   "model_id": small.widget.model_id}


def test_explorer_opens_from_the_package_and_from_the_module():
    """`from tying_utils import explorer; explorer()` and `from tying_utils.explorer import
    explorer` both open it: `tying_utils.explorer` is the function, and its module, now
    explorer_widget, still imports by its old path (for `from ... import`, and for mock.patch
    from Python 3.11) with no patch of the module's class; checked in a fresh interpreter, where
    the import order is what a reader's is."""
    code = (
        "import sys, types\n"
        "from unittest import mock\n"
        "import tying_utils\n"
        "assert 'ipywidgets' not in sys.modules, 'import tying_utils needs no ipywidgets'\n"
        "from tying_utils import explorer\n"
        "assert type(explorer(train_now=False)).__name__ == 'Explorer'\n"
        "assert type(tying_utils.explorer(train_now=False, seeds=3)).__name__ == 'Explorer'\n"
        "assert type(tying_utils.explorer) is types.FunctionType\n"
        "from tying_utils.explorer import explorer as function, Explorer, render_png\n"
        "assert isinstance(function(train_now=False), Explorer) and function is explorer\n"
        "import tying_utils.explorer_widget as module\n"
        "assert type(module) is types.ModuleType and module.Explorer is Explorer\n"
        "assert module is sys.modules['tying_utils.explorer']\n"
        "with mock.patch('tying_utils.explorer_widget.train_many', side_effect=RuntimeError()):\n"
        "    assert Explorer(seeds=2, steps=2).last_run is None\n"
        # mock.patch finds a module by its dotted name from Python 3.11 (pkgutil.resolve_name);
        # before, it walks attributes and meets the function: patch explorer_widget there.
        "if sys.version_info >= (3, 11):\n"
        "    with mock.patch('tying_utils.explorer.train_many', side_effect=RuntimeError('x')):\n"
        "        assert Explorer(seeds=2, steps=2).last_run is None\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_without_train_now_nothing_is_shown():
    ex = Explorer(train_now=False)
    assert ex.last_run is None and bytes(ex.image.value) == b"" and ex.summary.value == ""


def test_pressing_train_replaces_plot_and_summary(small):
    image, summary, run = snapshot(small)
    small.seeds.value = 12
    small.task.value = "shift"
    small.button.click()
    assert small.last_run is not run
    assert small.last_run.config.task == "shift"
    assert small.last_run.losses["untied"].shape == (12, 300)
    assert bytes(small.image.value).startswith(PNG_SIGNATURE) and bytes(small.image.value) != image
    assert small.summary.value != summary and "of 12 seeds" in small.summary.value
    assert "Trained 12 seeds" in message_text(small)


def test_changing_a_value_alone_does_not_train(small):
    before = snapshot(small)
    small.seeds.value = 20
    small.steps.value = 500
    assert snapshot(small) == before
    for box in (small.vocab, small.dim, small.lr, small.steps, small.seeds):
        assert box.continuous_update is False


def test_progress_bar_fills_while_training_then_looks_idle(small, monkeypatch):
    seen = []

    def spy(config, seeds, progress=None, **kwargs):
        seen.append((small.button.disabled, small.progress.description))
        run = train.train_many(config, seeds, progress=progress, **kwargs)
        seen.append((small.progress.value, small.progress.max))
        return run

    monkeypatch.setattr(explorer_module, "train_many", spy)
    small.steps.value = 250
    small.button.click()
    assert seen == [(True, "training"), (250, 250)]
    assert small.button.disabled is False
    assert small.progress.value == 0 and small.progress.description == "ready"


@pytest.mark.parametrize(
    "name, value, words",
    [
        ("dim", 0, "dimension must be a whole number from 1"),
        ("vocab", 1, "vocabulary size must be a whole number from 2"),
        ("seeds", 0, "seeds must be a whole number from 1"),
        ("steps", -5, "steps must be a whole number from 1"),
        ("lr", 0.0, "learning rate must be above 0"),
        ("lr", -0.1, "learning rate must be above 0"),
        ("lr", float("nan"), "learning rate must be above 0"),
        ("vocab", 2.7, "vocabulary size must be a whole number from 2 to 1,000, not 2.7"),
        ("seeds", 12.5, "seeds must be a whole number from 1 to 2,000, not 12.5"),
        ("steps", float("inf"), "steps must be a whole number from 1 to 20,000, not inf"),
    ],
)
def test_bad_values_give_one_sentence_and_keep_the_last_result(small, name, value, words):
    before = snapshot(small)
    getattr(small, name).value = value
    small.button.click()
    text = message_text(small)
    assert words in text
    assert text.endswith(".") and "Traceback" not in text and "\n" not in text
    assert snapshot(small) == before
    assert small.button.disabled is False


@pytest.mark.parametrize(
    "values, words",
    [
        ({"seeds": EXPLORER_LIMITS["seeds"][1] + 1}, "seeds must be a whole number"),
        ({"steps": EXPLORER_LIMITS["steps"][1] + 1}, "steps must be a whole number"),
        ({"vocab": 5000}, "vocabulary size must be a whole number"),
        ({"dim": 10_000}, "dimension must be a whole number"),
        ({"lr": 5.0}, "learning rate must be above 0 and at most 1"),
        ({"seeds": 2000, "steps": 20_000}, "Seeds × steps × vocabulary × dimension is 1,200"),
        ({"seeds": 1000, "steps": 10_001},
         "is 300,030,000, over the explorer's limit of 300,000,000"),
        ({"vocab": 1000, "dim": 256, "seeds": 1000, "steps": 1}, "MB, over the explorer's"),
    ],
)
def test_extreme_settings_are_refused_with_a_message(small, values, words):
    before = snapshot(small)
    for name, value in values.items():
        getattr(small, name).value = value
    assert small.train() is False
    assert words in message_text(small)
    assert snapshot(small) == before


def test_the_memory_limit_compares_what_it_shows(small, monkeypatch):
    """An estimate a little over the limit reads "501 MB, over 500 MB", not "500, over 500"."""
    monkeypatch.setattr(explorer_module, "estimated_bytes",
                        lambda config, seeds: MAX_BYTES + 1)
    assert small.train() is False
    assert "about 501 MB, over the explorer's 500 MB" in message_text(small)
    monkeypatch.setattr(explorer_module, "estimated_bytes", lambda config, seeds: MAX_BYTES)
    assert small.train() is True


def test_a_failing_run_shows_a_sentence_not_a_traceback(small, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("out of memory")

    monkeypatch.setattr(explorer_module, "train_many", broken)
    image, summary, _ = snapshot(small)
    small.button.click()
    assert message_text(small) == "Training failed (out of memory); try smaller settings."
    # what the reader sees stays; the last run's curves were let go when training began
    assert (bytes(small.image.value), small.summary.value) == (image, summary)
    assert small.last_run is None
    assert small.button.disabled is False
    assert small.output.outputs == ()


def test_a_good_run_after_a_bad_one_clears_the_message(small):
    small.dim.value = 0
    small.button.click()
    assert "dimension" in message_text(small)
    small.dim.value = 4
    small.button.click()
    assert message_text(small).startswith("Trained 8 seeds")
    assert small.last_run.config.dim == 4


def test_limits_are_stated_and_tighter_than_the_trainers():
    for name, (low, high) in EXPLORER_LIMITS.items():
        assert high <= train.LIMITS[name]
        assert low == options.TOY_RANGES[name][0]
        assert f"{low:,}–{high:,}" in LIMITS_TEXT
    assert MAX_BYTES <= train.LIMITS["bytes"]
    assert f"{MAX_WORK / 1e6:,.0f} million" in LIMITS_TEXT


def test_unknown_settings_are_refused():
    with pytest.raises(ValueError, match="unknown explorer setting colour"):
        explorer(colour="red")
    with pytest.raises(ValueError, match="unknown task 'reverse'; choose one of identity"):
        explorer(task="reverse")


def test_the_reused_figure_draws_what_a_new_figure_draws(small):
    """A click redraws one kept figure with new data (the slow part of making a figure is done
    once): after another setting was drawn in it, it must give the same PNG, byte for byte, as
    a figure made for this run alone, and its limits must show every band and the threshold."""
    first_run, first_summary = small.last_run, small.last_summary
    first_png = bytes(small.image.value)
    small.task.value, small.loss.value, small.vocab.value, small.steps.value = "shift", "ce", 7, 40
    assert small.train(), message_text(small)
    assert bytes(small.image.value) == explorer_module.render_png(small.last_run,
                                                                  small.last_summary)
    assert small._plot.render_png(first_run, first_summary) == first_png
    assert first_png == explorer_module.render_png(first_run, first_summary)

    low, high = small._plot.axes.get_ylim()
    bands = [band.get_paths()[0].vertices[:, 1] for band in small._plot.bands.values()]
    shown = np.concatenate(bands + [[first_summary.threshold]])
    assert low < shown.min() and shown.max() < high
    assert small._plot.axes.get_xlim()[0] < 0 < first_run.config.steps - 1 < \
        small._plot.axes.get_xlim()[1]
