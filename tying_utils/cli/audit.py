"""`python -m tying_utils audit PATH`: notebook 07's (tie_lifecycle) `audit_checkpoint` from the
command line, and notebook 09's (export_and_deploy) for exported .onnx and .gguf files.

Reads a checkpoint without building its model, prints the report and writes it, on request, as
JSON. Exit status 0: no finding; 1: at least one finding; 2: the path is not a checkpoint.
"""

from __future__ import annotations

from pathlib import Path

from .outputs import check_outputs, json_bytes, write_outputs

__all__ = ["add_parser", "run"]


def add_parser(commands) -> None:
    """Add the `audit` command to the `commands` subparsers of `cli.main`."""
    p = commands.add_parser(
        "audit", help="check a checkpoint for ties, lost ties and tie_word_embeddings mismatches",
        description="Check a checkpoint without building its model: a torch.save state dict "
        "(.pt, .pth, .bin), a .safetensors file, or a Hugging Face model folder (config.json and "
        "its weights, sharded or not); or an exported .onnx or .gguf file (notebook 09). Exit "
        "status 0: no finding; 1: at least one finding; 2: the path is not a checkpoint.",
    )
    p.add_argument("path", type=Path, metavar="PATH",
                   help="a .pt/.pth/.bin, .safetensors, .onnx or .gguf file, or a Hugging Face "
                   "model folder")
    p.add_argument("--json", type=Path, default=None, metavar="OUT",
                   help="also write the report as JSON")
    p.set_defaults(run=run)


def run(args) -> int:
    from ..audit import audit_checkpoint  # (notebook 07's module; imported only for this command)

    check_outputs({"--json": args.json}, {"the checkpoint": args.path})
    report = audit_checkpoint(args.path)
    print(report)
    if args.json is not None:
        write_outputs({args.json: json_bytes(report.as_dict())})
        print(f"wrote {args.json}")
    return 1 if report.findings else 0
