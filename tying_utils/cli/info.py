"""`python -m tying_utils info`: the versions, the device and the thread policy this machine
gets; its last line is runtime.py's `describe()`, the line every notebook's (01-09) setup cell
prints.
"""

from __future__ import annotations

__all__ = ["add_parser", "run"]


def add_parser(commands) -> None:
    """Add the `info` command to the `commands` subparsers of `cli.main`."""
    p = commands.add_parser(
        "info", help="print the versions, the device and the thread policy this machine gets",
        description="Print the versions of Python, PyTorch and tying_utils, whether a GPU is "
        "seen, and how many CPU threads the package's work uses here, and why.",
    )
    p.set_defaults(run=run)


def run(args) -> int:
    import platform

    import torch

    from .. import __version__, runtime

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none seen"
    print(f"tying_utils {__version__}, Python {platform.python_version()}, "
          f"torch {torch.__version__}, GPU: {gpu}")
    print(runtime.describe())
    return 0
