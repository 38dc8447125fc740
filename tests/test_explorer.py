"""The explorer of notebook 04, driven from Python the way a reader drives it in the browser:
set values, press Train, read the message, the summary and the plot."""

from __future__ import annotations

import importlib

import pytest

from tying_utils import train
from tying_utils.explorer import (
    DEFAULTS,
    EXPLORER_LIMITS,
    LIMITS_TEXT,
    MAX_BYTES,
    MAX_WORK,
    Explorer,
    explorer,
)

# The module itself (not the function of the same name), for monkeypatching.
explorer_module = importlib.import_module("tying_utils.explorer")
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


def test_defaults_are_the_blogs_setting():
    assert DEFAULTS == {"task": "identity", "loss": "mse", "init": "seed", "vocab": 10, "dim": 3,
                        "lr": 1e-3, "steps": 2000, "seeds": DEFAULTS["seeds"]}
    assert 50 <= DEFAULTS["seeds"] <= 200


def test_explorer_trains_the_default_setting_once_and_shows_it():
    ex = explorer()
    assert (ex.task.value, ex.loss.value, ex.init.value) == ("identity", "mse", "seed")
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
    assert "VBox" not in bundle["text/plain"]


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


def test_progress_bar_reaches_its_max_and_button_is_disabled_while_training(small, monkeypatch):
    seen = []

    def spy(config, seeds, progress=None, **kwargs):
        seen.append(small.button.disabled)
        return train.train_many(config, seeds, progress=progress, **kwargs)

    monkeypatch.setattr(explorer_module, "train_many", spy)
    small.steps.value = 250
    small.button.click()
    assert seen == [True]
    assert small.button.disabled is False
    assert small.progress.max == 250 and small.progress.value == 250


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


def test_a_failing_run_shows_a_sentence_not_a_traceback(small, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("out of memory")

    monkeypatch.setattr(explorer_module, "train_many", broken)
    before = snapshot(small)
    small.button.click()
    assert message_text(small) == "Training failed (out of memory); try smaller settings."
    assert snapshot(small) == before
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
        assert f"{low:,}–{high:,}" in LIMITS_TEXT
    assert MAX_BYTES <= train.LIMITS["bytes"]
    assert f"{MAX_WORK / 1e6:,.0f} million" in LIMITS_TEXT


def test_unknown_settings_are_refused():
    with pytest.raises(ValueError, match="unknown explorer setting colour"):
        explorer(colour="red")
    with pytest.raises(ValueError, match="unknown task 'reverse'; choose one of identity"):
        explorer(task="reverse")
