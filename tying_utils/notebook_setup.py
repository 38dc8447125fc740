"""The plumbing a notebook's setup cell shares: offline Hugging Face, quiet logs, thread policy.

Notebooks 07 and 09 call `prepare_notebook(...)` in their setup cell, so the cell shows only
its imports, its seed and `print(describe())`. Notebooks 01–06 and 08 need none of it (08 sets
its thread policy with `apply_to_torch` alone).
"""

from __future__ import annotations

import logging
import os
import sys

from tying_utils.runtime import apply_to_torch


def prepare_notebook(work: str | None = None, *, offline: bool = False,
                     quiet: bool = False) -> int | None:
    """Set up what a notebook's code outside the package needs; return PyTorch's thread count.

    work: apply the package's thread policy for this kind of work ("toy" or "lm") to PyTorch's
        own thread count (`runtime.apply_to_torch`), for code that runs outside the package (a
        Hugging Face model, a plain training loop); None leaves PyTorch's count alone.
    offline: download nothing from the Hugging Face Hub (`HF_HUB_OFFLINE=1`): every model is
        built from a config. Call it before importing `transformers` or `huggingface_hub`, which
        read the variable once, on import (running the setup cell again is fine).
    quiet: no progress bar for every Hugging Face save and load, and no log line for each
        optional operator `torch.onnx` skips.
    """
    if offline:
        if "huggingface_hub" in sys.modules and os.environ.get("HF_HUB_OFFLINE") != "1":
            raise RuntimeError("prepare_notebook(offline=True) must run before transformers or "
                               "huggingface_hub is imported: they read HF_HUB_OFFLINE on import.")
        os.environ["HF_HUB_OFFLINE"] = "1"
    if quiet:
        logging.getLogger("torch.onnx").setLevel(logging.ERROR)
        try:
            import transformers  # optional: the [hf] extra
        except ImportError:
            pass
        else:
            transformers.utils.logging.disable_progress_bar()
    return apply_to_torch(work) if work is not None else None
