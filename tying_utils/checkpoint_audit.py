"""Audit a checkpoint file or folder without its model: `audit_checkpoint(path)`.

Introduced in notebook 07 (tie_lifecycle); `python -m tying_utils audit PATH` runs it. Two ways to
judge, and the report says which one it used (in its subject line, or in a `judged_by` item):

- **by the architecture's structure**: a Hugging Face folder whose `config.json` names a class that
  `transformers` has is judged against that class built on the meta device (`hf_structure.py`):
  which names are one Parameter, which are the word embedding and the head. Then every tied group
  needs one stored name, an untied head must be stored, and the file and the config must agree.
- **by shapes, storage and values**, for anything else (a plain state dict, a folder whose class
  is unknown): names stored once over one memory are a tie; two separately stored matrices of
  one shape with the same bytes (and not all one value) are a tie lost by copying; a Linear's bias
  stored without its weight beside a single matrix of the weight's shape is a head left out to be
  tied at load. No name's spelling decides anything.

Large matrices are compared piece by piece through the file's own lazy access
(`Checkpoint.same_bytes`), so memory stays bounded whatever their size.
"""

from __future__ import annotations

from pathlib import Path

from .audit_embeddings import tie_word_embeddings
from .audit_report import AuditReport
from .checkpoints import Checkpoint, read_checkpoint
from .hf_structure import Structure, hf_structure

__all__ = ["audit_checkpoint"]


def audit_checkpoint(path) -> AuditReport:
    """Check a `.pt`/`.bin` state dict, a `.safetensors` file or a Hugging Face folder.

    Reports names stored once and shared, names left out to be tied at load, a head missing that
    nothing ties, matrices stored apart with equal bytes (a lost tie), and `tie_word_embeddings`
    in config.json against the file. Raises `CheckpointError` (a ValueError) for what is not a
    checkpoint. An exported `.onnx` or `.gguf` file goes to `exported.audit_exported` (notebook 09).
    """
    if Path(path).suffix in (".onnx", ".gguf"):
        from .exported import audit_exported

        return audit_exported(path)
    checkpoint = read_checkpoint(path)
    report = AuditReport(f"{Path(path).name or path} ({checkpoint.description}; "
                         f"{len(checkpoint.shapes)} tensors)")
    for names in checkpoint.shared:
        report.ties.append(tuple(names))
        report.add("stored_once", names,
                   f"{', '.join(names)} are stored once and share it: torch.load gives them "
                   f"back over one memory, as a tie needs.")
    says_tied = None if checkpoint.config is None else tie_word_embeddings(checkpoint.config)
    if checkpoint.config is not None:
        report.add("config", (), "config.json " + (
            "does not set tie_word_embeddings" if says_tied is None
            else f"says tie_word_embeddings={str(says_tied).lower()}") + ".")

    structure, why_not = (None, "there is no config.json") if checkpoint.config is None \
        else hf_structure(checkpoint.config, folder=_folder(checkpoint))
    if structure is not None:
        renamed, keys = _renamed(checkpoint, structure)
        if not _matches(structure, renamed):
            why_not = f"the file's names are not those of {structure.class_name}"
            structure = None
    if structure is not None:
        moved = {name: key for name, key in keys.items() if name != key}
        _judge_by_structure(report, renamed, structure, says_tied)
        if moved:
            listed = ", ".join(f"{key} as {name}" for name, key in list(moved.items())[:3])
            report.add("renamed", tuple(moved.values()),
                       f"from_pretrained loads {len(moved)} of the file's keys under other "
                       f"names ({listed}{', ...' if len(moved) > 3 else ''}), and they are "
                       f"judged under those names.")
        report.subject = report.subject[:-1] + f"; judged by the structure of " \
            f"{structure.class_name}, built on the meta device from config.json)"
    else:
        _judge_by_values(report, checkpoint, says_tied)
        for absent, stored in checkpoint.stored_as.items():
            pair = tuple(sorted((absent, stored)))
            if pair in report.ties:
                continue  # the values already showed this tie
            report.ties.append(pair)
            report.add("tied_at_load", (absent, stored),
                       f"{absent} is not stored: the file's own metadata names {stored} as its "
                       f"storage (as safetensors' save_model writes it), so a loader that ties "
                       f"them, such as load_model, puts it back.")
        report.add("judged_by", (), f"judged by shapes, storage and values, not by an "
                   f"architecture ({why_not}).")
    return report


def _renamed(checkpoint: Checkpoint, structure: Structure) -> tuple[Checkpoint, dict]:
    """The checkpoint with each key under the name from_pretrained loads it as, and a map from
    those names back to the file's keys."""
    names = {key: structure.rename(key) for key in checkpoint.shapes}
    if len(set(names.values())) < len(names):  # several keys into one (merged experts): as is
        names = {key: key for key in checkpoint.shapes}
    keys = {name: key for key, name in names.items()}
    view = Checkpoint(
        checkpoint.path, checkpoint.description,
        {names[key]: shape for key, shape in checkpoint.shapes.items()}, checkpoint.config,
        [[names[key] for key in group] for group in checkpoint.shared],
        _load=lambda name: checkpoint.tensor(keys[name]),
        _byte_chunks=lambda name, piece: checkpoint.byte_chunks(keys[name], piece),
        _itemsize=lambda name: checkpoint.itemsize(keys[name]))
    return view, keys


def _matches(structure: Structure, checkpoint: Checkpoint) -> bool:
    """Whether the file stores this architecture's names (at least half of its tensors do)."""
    stored = set(checkpoint.shapes)
    return len(stored & structure.names) * 2 >= len(stored) > 0


# --- by the architecture's structure -----------------------------------------------------------


def _judge_by_structure(report: AuditReport, checkpoint: Checkpoint, structure: Structure,
                        says_tied: bool | None) -> None:
    shapes, cls = checkpoint.shapes, structure.class_name
    for group in structure.groups:
        stored = [name for name in group if name in shapes]
        if not stored:
            continue  # a matrix the file lacks entirely is not a question of ties
        absent = [name for name in group if name not in shapes]
        if absent:
            report.add("tied_at_load", absent + stored[:1],
                       f"{', '.join(absent)} {'is' if len(absent) == 1 else 'are'} not stored, "
                       f"to be tied to {stored[0]} at load ({cls} built from this config holds "
                       f"them as one Parameter).")
        if _check_stored_copies(report, checkpoint, stored, cls):
            report.ties.append(tuple(sorted(group)))

    embedding, head = structure.input_name, structure.output_name
    if embedding is None or head is None or structure.ties_word_embeddings:
        return

    def provided(name):  # stored, or tied at load to a name that is
        return any(member in shapes for member in structure.group_of(name))

    if says_tied and len(structure.group_of(head)) == 1:
        shape_note = (f" (shapes {_dims(structure.shapes[embedding])} and "
                      f"{_dims(structure.shapes[head])})"
                      if structure.shapes[embedding] != structure.shapes[head] else "")
        report.add("config_untieable", (embedding, head),
                   f"config.json says tie_word_embeddings=true, but {cls} does not tie "
                   f"{embedding} and {head}{shape_note}: the flag has no effect on this "
                   f"architecture, so both must be stored.")
    missing = [name for name in (embedding, head) if not provided(name)]
    if missing:
        tieable = not says_tied and _tieable(checkpoint.config, _folder(checkpoint))
        advice = ("; save it too, or set tie_word_embeddings=true if the model was tied"
                  if tieable else "; save it too")
        why = ("config.json says tie_word_embeddings=false" if says_tied is False
               else f"{cls} built from this config does not tie it")
        for name in missing:
            report.add("head_missing", (name,),
                       f"{name} is not stored and {why}, so at load it would start from random "
                       f"values{advice}.")
        return
    if embedding not in shapes or head not in shapes:
        return  # one of them is tied at load to another name (an encoder-decoder's decoder)
    if any({embedding, head} <= set(names) for names in checkpoint.shared):
        advice = ("set tie_word_embeddings=true"
                  if _tieable(checkpoint.config, _folder(checkpoint))
                  else f"{cls} cannot tie them, so store two matrices")
        report.add("config_mismatch", (embedding, head),
                   f"{embedding} and {head} are stored once, shared, so the file holds a tied "
                   f"model, but {cls} built from this config keeps them apart (from_pretrained "
                   f"loads two copies that then train apart); {advice}.")
    elif checkpoint.same_bytes(embedding, head):
        report.add("lost_tie", (embedding, head),
                   f"{embedding} and {head} are stored separately with equal values, the mark "
                   f"of a tie lost by copying; store one and tie at load (or keep both if the "
                   f"model is meant to train them apart).")
    else:
        report.add("config", (embedding, head),
                   f"{embedding} and {head} are stored as two different matrices, as {cls} "
                   f"built from this config expects.")


def _check_stored_copies(report: AuditReport, checkpoint: Checkpoint, stored: list[str],
                         cls: str) -> bool:
    """A tied group stored under more than one name: one memory, equal copies, or a conflict.
    True when the file keeps the tie (every stored name over one memory)."""
    first, keeps_tie = stored[0], True
    for other in stored[1:]:
        if any({first, other} <= set(names) for names in checkpoint.shared):
            continue
        keeps_tie = False
        if checkpoint.same_bytes(first, other):
            report.add("lost_tie", (first, other),
                       f"{first} and {other} are stored separately with equal values, the mark "
                       f"of a tie lost by copying before saving; from_pretrained ties them "
                       f"again ({cls} holds them as one Parameter), but store one.")
        else:
            report.add("config_mismatch", (first, other),
                       f"{cls} built from this config holds {first} and {other} as one "
                       f"Parameter, but the file stores them as two different matrices, so "
                       f"config and weights disagree (transformers 5.24 loads both, untied, "
                       f"with a warning); set tie_word_embeddings=false if the model was "
                       f"trained untied.")
    return keeps_tie


def _folder(checkpoint: Checkpoint) -> Path | None:
    """The folder that holds config.json (None for a single file)."""
    return checkpoint.path if checkpoint.path.is_dir() else None


def _tieable(config: dict | None, folder: Path | None) -> bool:
    """Whether the class would tie its embedding and head if the config said so."""
    if config is None:
        return False
    structure, _ = hf_structure(config, tie_word_embeddings=True, folder=folder)
    return structure is not None and structure.ties_word_embeddings


# --- by shapes, storage and values -------------------------------------------------------------


def _judge_by_values(report: AuditReport, checkpoint: Checkpoint,
                     says_tied: bool | None) -> None:
    shapes = checkpoint.shapes
    shared = [set(names) for names in checkpoint.shared]
    if says_tied is False:
        for names in checkpoint.shared:
            if any(len(shapes[name]) == 2 for name in names):
                report.add("config_mismatch", names,
                           f"config.json says tie_word_embeddings=false, but {', '.join(names)} "
                           f"are stored once, shared: the file holds a tied model; set it to "
                           f"true.")
    matrices = [name for name, shape in shapes.items() if len(shape) == 2 and 0 not in shape]
    by_shape: dict[tuple, list[str]] = {}
    for name in matrices:
        by_shape.setdefault(shapes[name], []).append(name)
    for names in by_shape.values():
        for first, second in _equal_pairs(checkpoint, names, shared):
            report.add("lost_tie", (first, second),
                       f"{first} and {second} are stored separately with equal values (not all "
                       f"one value), the mark of a tie lost by copying; store one and tie at "
                       f"load (or keep both if the model is meant to train them apart).")
    _check_orphan_bias(report, checkpoint, matrices, says_tied)


def _equal_pairs(checkpoint: Checkpoint, names: list[str], shared: list[set]):
    """Pairs of `names` stored apart with the same bytes; a first piece sorts them cheaply."""
    if len(names) < 2:
        return
    by_start: dict[bytes, list[str]] = {}
    for name in names:
        by_start.setdefault(checkpoint.first_bytes(name), []).append(name)
    for candidates in by_start.values():
        matched: set[str] = set()
        for i, first in enumerate(candidates):
            for second in candidates[i + 1:]:
                if second in matched or any({first, second} <= group for group in shared):
                    continue
                if checkpoint.same_bytes(first, second) \
                        and not checkpoint.is_constant(first, checkpoint.itemsize(first)):
                    matched.add(second)
                    yield first, second


def _check_orphan_bias(report: AuditReport, checkpoint: Checkpoint, matrices: list[str],
                       says_tied: bool | None) -> None:
    """A Linear whose bias is stored but whose weight is not, beside exactly one matrix that has
    the weight's shape: the weight was left out, to be tied to that matrix at load."""
    shapes = checkpoint.shapes
    for bias in (name for name, shape in shapes.items()
                 if name.endswith(".bias") and len(shape) == 1):
        weight = bias[: -len("bias")] + "weight"
        if weight in shapes:
            continue
        partners = [name for name in matrices if shapes[name][0] == shapes[bias][0]
                    and not any(name in group for group in checkpoint.shared)]
        if len(partners) != 1:
            continue
        if says_tied is False:
            report.add("head_missing", (bias,),
                       f"{bias} is stored without its weight and config.json says "
                       f"tie_word_embeddings=false, so at load that weight would start from "
                       f"random values; set it to true if the model was tied, or save it too.")
            continue
        report.ties.append((partners[0], weight))
        report.add("tied_at_load", (bias, partners[0]),
                   f"{weight} is not stored, to be tied to {partners[0]} at load (its bias "
                   f"{bias} is stored, and {partners[0]} is the one matrix of its shape).")


def _dims(shape) -> str:
    return "(" + ", ".join(str(n) for n in shape) + ")"
