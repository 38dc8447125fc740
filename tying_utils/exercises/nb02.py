"""Notebook 02 (parameter_sharing): ties and aliases in a puzzle model, the parameter count of a
tied model, and which operations keep a tie."""

from __future__ import annotations

import difflib

import torch
from torch import nn

from .core import _verdict, exercise_checker


def tying_puzzle():
    """Exercise 02.1: a small model whose names share memory in two different ways. Which ones?

    Read the code, then answer with `is` and `untyped_storage().data_ptr()`.
    """
    with torch.random.fork_rng(devices=[]):  # leave the reader's random stream untouched
        torch.manual_seed(0)
        model = nn.Module()
        model.embedding = nn.Embedding(6, 4)
        model.head = nn.Linear(4, 6)
        model.decoder = nn.Linear(4, 6)
    model.embedding.weight = model.head.weight
    model.decoder.weight = nn.Parameter(model.head.weight.detach().clone())
    model.decoder.bias.data = model.head.bias.data
    return model


def _puzzle_truth() -> tuple[list[str], set[frozenset], set[frozenset], list[str]]:
    """The puzzle's names, its ties (names of one Parameter), its aliases (different Parameters
    over one memory) and its clones (names with equal values in memory of their own)."""
    params = list(tying_puzzle().named_parameters(remove_duplicate=False))
    by_object: dict[int, set] = {}
    by_memory: dict[int, list] = {}
    for name, param in params:
        by_object.setdefault(id(param), set()).add(name)
        by_memory.setdefault(param.untyped_storage().data_ptr(), []).append((name, param))
    tied = {frozenset(names) for names in by_object.values() if len(names) > 1}
    aliased = {frozenset(name for name, _ in members) for members in by_memory.values()
               if len({id(param) for _, param in members}) > 1}
    alone = [members[0] for members in by_memory.values() if len(members) == 1]
    clones = [name for name, param in alone
              if any(other is not param and other.shape == param.shape
                     and torch.equal(other, param) for _, other in params)]
    return [name for name, _ in params], tied, aliased, clones


def _as_name_groups(answer) -> set[frozenset] | None:
    """`answer` as a set of groups of names, or None if it is not a list of lists of strings."""
    if isinstance(answer, (str, bytes)):
        return None
    try:
        groups = list(answer)
        if any(isinstance(group, (str, bytes)) for group in groups):
            return None
        result = {frozenset(group) for group in groups}
    except TypeError:
        return None
    return result if all(isinstance(n, str) for g in result for n in g) else None


def _names(group) -> str:
    return " and ".join(sorted(group))


@exercise_checker
def check_tied_names(tied, aliased) -> bool:
    """Exercise 02.1: in `tying_puzzle()`, the groups of names that are one Parameter object
    (`tied`) and the groups of different Parameter objects over one memory (`aliased`), each a
    list of lists of names, `[]` for none."""
    names, true_tied, true_aliased, clones = _puzzle_truth()
    answers = {"tied": _as_name_groups(tied), "aliased": _as_name_groups(aliased)}
    for label, groups in answers.items():
        if groups is None:
            return _verdict(False, "", f"Answer `{label}` with a list of groups, each a list of "
                            'names, e.g. [["embedding.weight", "head.weight"]], or [] for none.')
    given = answers["tied"] | answers["aliased"]
    for name in sorted(n for group in given for n in group):
        if name not in names:
            close = difflib.get_close_matches(name, names, n=1)
            maybe = f" (did you mean {close[0]!r}?)" if close else ""
            return _verdict(False, "", f"The puzzle has no parameter named {name!r}{maybe}; its "
                            f"names are {', '.join(names)}.")
    if any(len(group) < 2 for group in given):
        return _verdict(False, "", "Each group needs two or more names: a name alone shares "
                        "nothing.")
    for clone in clones:
        if any(clone in group for group in given):
            return _verdict(False, "", f"{clone} was built from a clone: equal values at the "
                            "start, but its own memory, so training moves it apart. It belongs "
                            "in no group.")
    for group in true_aliased:
        if group in answers["tied"]:
            return _verdict(False, "", f"{_names(group)} are two different Parameter objects "
                            "(`is` gives False) over one memory, made by assigning to `.data`: "
                            "that is an alias, not a tie. Put them in `aliased`.")
    for group in true_tied:
        if group in answers["aliased"]:
            return _verdict(False, "", f"{_names(group)} are one Parameter object (`is` gives "
                            "True): one object with two names is a tie. Put them in `tied`.")
        if group not in answers["tied"]:
            return _verdict(False, "", "`model.embedding.weight = model.head.weight` is the "
                            "classic tie: both names hold one Parameter (check with `is`).")
    for group in true_aliased:
        if group not in answers["aliased"]:
            return _verdict(False, "", "Look beyond `is`: two different Parameter objects can "
                            "share one memory (an assignment to `.data`). Compare "
                            "p.untyped_storage().data_ptr().")
    return _verdict(
        answers["tied"] == true_tied and answers["aliased"] == true_aliased,
        "embedding.weight and head.weight are one Parameter, a tie: an optimizer sees one matrix. "
        "head.bias and decoder.bias are two Parameters over one memory, an alias made with "
        "`.data`: `is` misses it, the memory address finds it, and an optimizer updates that "
        "memory once for each of the two Parameters.",
        "Put names in one group only when they share memory: `tied` when `is` is True, "
        "`aliased` when only untyped_storage().data_ptr() is equal.",
    )


@exercise_checker
def check_parameter_count(answer) -> bool:
    """Exercise 02.2: how many numbers does `EmbedHead(1000, 64, tied=True)` really hold?"""
    if isinstance(answer, bool) or not hasattr(answer, "__index__"):
        return _verdict(False, "", "Answer with a whole number.")
    answer = int(answer)
    matrix, bias = 1000 * 64, 1000
    if answer in (matrix + 64, 2 * matrix + 64):
        return _verdict(False, "", "The head's bias has one number per OUTPUT, one per token "
                        "(1000), not one per dimension (64).")
    if answer == 2 * matrix + bias:
        return _verdict(False, "", "You counted the shared matrix twice, once per name (what the "
                        "state_dict's entries add up to). Tied, it is one matrix.")
    if answer == 2 * matrix:
        return _verdict(False, "", "The shared matrix is counted once, not once per name; and "
                        "the head also has a bias.")
    if answer == matrix:
        return _verdict(False, "", "The matrix is counted once, right; now add the head's bias "
                        "(one number per token).")
    return _verdict(
        answer == matrix + bias,
        f"{matrix + bias:,}: one 1000×64 matrix shared by both names plus the head's 1000 biases.",
        "Count the (1000, 64) matrix once, then the head's bias; the embedding has no bias.",
    )


TIE_OPERATIONS = {
    "a": "model.to(torch.float64)",
    "b": "model.load_state_dict({k: v.clone() for k, v in model.state_dict().items()}, "
         "assign=True)",
    "c": "copy.deepcopy(model)",
    "d": "model.embedding.weight = nn.Parameter(model.head.weight.detach().clone())",
    "e": "torch.save(model.state_dict(), path), then "
         "model.load_state_dict(torch.load(path, weights_only=True))",
}
"""Exercise 02.3: operations on a tied `EmbedHead`; which ones leave it tied?"""

_SURVIVORS = {"a", "c", "e"}
_SURVIVOR_HINTS = {
    "a": "Module.to() changes the data of each Parameter and keeps the Parameter object, so "
         "both names still hold one.",
    "b": "assign=True puts the loaded tensors into the model as they are; two cloned tensors are "
         "two matrices.",
    "c": "deepcopy keeps a memo: the one Parameter is copied once and both names get that copy.",
    "d": "a clone has its own memory: equal values now, separate training later.",
    "e": "without assign=True, load_state_dict copies values INTO the existing Parameters, so the "
         "tie stays.",
}


@exercise_checker
def check_tie_survivors(answer) -> bool:
    """Exercise 02.3: the letters of the `TIE_OPERATIONS` after which the model is still tied,
    e.g. `"ab"` or `{"a", "b"}`."""
    try:
        letters = {str(letter).strip().lower() for letter in answer} - {"", ","}
    except TypeError:
        letters = None
    if letters is None or not letters <= set(TIE_OPERATIONS):
        return _verdict(False, "", "Answer with letters from TIE_OPERATIONS, e.g. \"ab\" or "
                        "{\"a\", \"b\"}.")
    wrongly_in = sorted(letters - _SURVIVORS)
    wrongly_out = sorted(_SURVIVORS - letters)
    if wrongly_in:
        return _verdict(False, "", f"({wrongly_in[0]}) breaks the tie: "
                        f"{_SURVIVOR_HINTS[wrongly_in[0]]}")
    if wrongly_out:
        return _verdict(False, "", f"({wrongly_out[0]}) keeps the tie: "
                        f"{_SURVIVOR_HINTS[wrongly_out[0]]}")
    return _verdict(True, "a, c and e keep one matrix; b and d leave two.", "")

