"""The files the commands write (`compare`, notebook 04; `lm`, 05; `sweep`, 06; `audit`, 07;
`ranks`, 08): checked before the work starts, written at the very end, all or none.

`check_outputs` fails before any work when an output could not be written or would destroy an
input; `write_outputs` writes each file to a temporary file in its own folder, and only when all
of them are complete renames them over the old ones, so a full disk or a failed figure leaves
every earlier result file as it was. `json_bytes` and `png_bytes` render a result and a figure;
`machine_record` is what a result file says about where it ran. Nothing here imports PyTorch
before a result is rendered.
"""

from __future__ import annotations

import io
import json
import math
import os
import stat
import tempfile
from pathlib import Path

from .usage import UsageError

__all__ = ["check_outputs", "check_writable", "check_png", "write_outputs", "json_bytes",
           "png_bytes", "cpu_name", "machine_record"]


def check_outputs(outputs: dict[str, Path | None], inputs: dict[str, Path] | None = None) -> None:
    """Fail before any work when an output could not be written or would destroy something.

    `outputs` maps each option (`--json`, `--plot`) to the path it names, or None; `inputs` maps
    a description ("the corpus") to a file or folder the command reads. Each output must be a
    file (not a folder or a device) in an existing folder we may write to; no two outputs may be
    one file, and no output may be an input file or lie inside an input folder.
    """
    taken: dict[str, str] = {}  # real path -> the option that names it
    for option, path in outputs.items():
        if path is None:
            continue
        check_writable(option, path)
        real = os.path.realpath(path)
        for other_real, other in taken.items():
            if real == other_real:
                raise UsageError(f"{other} and {option} both name {str(path)!r}: give each "
                                 f"output its own file.")
        for what, source in (inputs or {}).items():
            source_real = os.path.realpath(source)
            if real == source_real or _same_file(real, source_real):
                raise UsageError(f"{option} {str(path)!r} is {what}: writing it would destroy "
                                 f"the input, so choose another file.")
            if os.path.isdir(source_real) and Path(source_real) in Path(real).parents:
                raise UsageError(f"{option} {str(path)!r} lies inside {what} (the folder "
                                 f"{str(source)!r}): choose a file outside it.")
        taken[real] = option


def check_writable(option: str, path: Path) -> None:
    """Fail early, before any work, when the file the option names cannot be written."""
    shown = str(path)
    try:
        real = Path(os.path.realpath(path))  # a link is followed: its target gets the new file
        if real.is_dir():
            raise UsageError(f"{option} must name a file, but {shown!r} is a folder.")
        if real.exists() and not real.is_file():
            raise UsageError(f"{option} must name a regular file, but {shown!r} is a device, "
                             f"a pipe or a socket.")
        folder = real.parent
        shown_folder = str(path.parent) if str(path.parent) else "."
        if not folder.exists():
            raise UsageError(f"{option}: the folder {shown_folder!r} does not exist.")
        if not folder.is_dir():
            raise UsageError(f"{option}: {shown_folder!r} is not a folder.")
        # The new file is written next to the old one and renamed: the folder must be writable.
        if not os.access(folder, os.W_OK | os.X_OK) or (
                real.exists() and not os.access(real, os.W_OK)):
            raise UsageError(f"{option}: cannot write {shown!r} (permission denied).")
    except OSError as error:  # e.g. a name too long for the file system
        raise UsageError(f"{option}: cannot use {shown!r} ({error.strerror or error}).") from None


def check_png(option: str, path: Path | None) -> None:
    """A figure is written as PNG: the option (`--plot`) must name a .png file, or nothing."""
    if path is not None and path.suffix.lower() != ".png":
        raise UsageError(f"{option} must name a .png file, got {str(path)!r}.")


def write_outputs(contents: dict[Path, bytes]) -> None:
    """Write every file, all or none: first each one's bytes to a temporary file in its own
    folder, then, only when all are complete, rename each over its target (`os.replace`, atomic
    on one file system). When a write fails (a full disk, a file-size limit), the temporary files
    are deleted and every old file is left exactly as it was."""
    mask = os.umask(0)
    os.umask(mask)
    temporary: dict[Path, Path] = {}  # target -> its complete temporary file
    path = None
    try:
        for path, data in contents.items():
            target = Path(os.path.realpath(path))
            mode = stat.S_IMODE(target.stat().st_mode) if target.exists() else 0o666 & ~mask
            handle, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp",
                                            dir=target.parent)
            temporary[target] = Path(name)
            with os.fdopen(handle, "wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            os.chmod(name, mode)
    except OSError as error:
        for name in temporary.values():
            name.unlink(missing_ok=True)
        raise UsageError(f"could not write {str(path)!r} ({error.strerror or error}); the "
                         f"output files were left as they were.") from None
    for target, name in temporary.items():
        os.replace(name, target)  # within one folder that was checked before the work


def _same_file(first: str, second: str) -> bool:
    try:
        return os.path.samefile(first, second)
    except OSError:  # one of them does not exist yet
        return False


def json_bytes(result: dict) -> bytes:
    """`result` as JSON text: NaN and ±inf (a run that diverged) become null, so the file is
    valid JSON that every reader accepts."""
    return (json.dumps(_finite_or_none(result), indent=2, allow_nan=False) + "\n").encode()


def _finite_or_none(value):
    if isinstance(value, dict):
        return {key: _finite_or_none(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite_or_none(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def png_bytes(fig) -> bytes:
    """A matplotlib figure as the PNG bytes the commands write (110 dpi)."""
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=110)
    return png.getvalue()


def cpu_name() -> str:
    """The processor's model name (Linux: /proc/cpuinfo), else what `platform` knows."""
    import platform

    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_record(device: str) -> dict:
    """What a `sweep` result file records of where it ran: the device, the processor, and the
    versions of PyTorch and Python (its numbers reproduce where these match)."""
    import platform

    import torch

    return {"device": device, "cpu": cpu_name(), "torch": torch.__version__,
            "python": platform.python_version()}
