"""Notebook 08 (ties_across_ranks): the gradients both pipeline copies of a tied matrix must hold,
and the names `get_state_dict` writes for a tied matrix into the model and the optimizer state.

Written like every checker (core.py's docstring says how), and re-exported from the package.
"""

from __future__ import annotations

import torch

from ..transformer import TransformerLM
from .core import _verdict, call_answer, exercise_checker

__all__ = ["check_pipeline_sync", "check_dcp_names"]

TIED_NAMES = ("embedding.weight", "head.weight")


@exercise_checker
def check_pipeline_sync(sync) -> bool:
    """`sync(first_grad, last_grad)` returns the gradients both pipeline copies of a tied matrix
    must hold before the optimizer step: each the sum of the two."""
    generator = torch.Generator().manual_seed(8)
    first, last = torch.randn(5, 3, generator=generator), torch.randn(5, 3, generator=generator)
    answer = call_answer(sync, first.clone(), last.clone())
    if not isinstance(answer, (tuple, list)) or len(answer) != 2:
        return _verdict(False, "", "Return two tensors: the first stage's gradient, then the "
                                   "last stage's.")
    new_first, new_last = (torch.as_tensor(a, dtype=first.dtype) for a in answer)
    right = first + last
    if torch.allclose(new_first, right) and torch.allclose(new_last, right):
        return _verdict(True, "both copies get the sum of the two uses' gradients, as the one "
                              "tied Parameter of the single-process model does, so they stay "
                              "equal and take the same step.", "")
    if torch.allclose(new_first, right / 2) and torch.allclose(new_last, right / 2):
        return _verdict(False, "", "The copies stay equal, but the step is half of the tied "
                                   "model's: the gradient of a shared weight is the sum over its "
                                   "uses, not their mean.")
    if torch.allclose(new_first, first) and torch.allclose(new_last, last):
        return _verdict(False, "", "Unchanged gradients are the broken pipeline: each copy "
                                   "learns from one use only, and the copies drift apart.")
    if torch.allclose(new_first, new_last):
        return _verdict(False, "", "The copies get the same gradient, but not the tied model's: "
                                   "what is the gradient of a weight used twice?")
    return _verdict(False, "", "The two copies end with different gradients, so the same "
                               "optimizer step moves them apart.")


def _saved_names() -> tuple[set[str], set[str]]:
    # Imported here, not at the top: torch.distributed.checkpoint takes seconds to import, and
    # every notebook imports this package.
    from torch.distributed.checkpoint.state_dict import get_state_dict

    model = TransformerLM(vocab=8, dim=4, tied=True, layers=1, heads=1, context=4, dropout=0.0)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.zeros(1, 3, dtype=torch.long))[0].sum().backward()
    optimizer.step()  # momentum buffers exist only after a step
    model_state, optimizer_state = get_state_dict(model, optimizer)
    return ({n for n in TIED_NAMES if n in model_state},
            {n for n in TIED_NAMES if n in optimizer_state["state"]})


def _as_names(answer) -> set[str] | None:
    if isinstance(answer, str):
        return {answer}
    if isinstance(answer, (list, tuple, set, frozenset)) and all(isinstance(a, str)
                                                                 for a in answer):
        return set(answer)
    return None


@exercise_checker
def check_dcp_names(model_names, optimizer_names) -> bool:
    """Which of "embedding.weight" and "head.weight" `get_state_dict` writes for a tied
    `TransformerLM` into the model state and into the optimizer state (measured here)."""
    model_answer, optimizer_answer = _as_names(model_names), _as_names(optimizer_names)
    if model_answer is None or optimizer_answer is None:
        return _verdict(False, "", 'Answer each with a set of names, e.g. {"head.weight"}.')
    model_truth, optimizer_truth = _saved_names()
    if model_answer == model_truth and optimizer_answer == optimizer_truth:
        return _verdict(True, f"the model state keeps every name ({len(model_truth)}), the "
                              f"optimizer state one per Parameter ({len(optimizer_truth)}): "
                              "a model built untied asks the checkpoint for an optimizer entry "
                              "that was never written.", "")
    if model_answer != model_truth:
        return _verdict(False, "", "The model state is keyed by every name a Parameter has "
                                   "(as model.state_dict() is): how many names has the tied "
                                   "matrix?")
    return _verdict(False, "", "The optimizer holds each Parameter once, under the first name "
                               "named_parameters() gives it: which name comes first in "
                               "TransformerLM?")
