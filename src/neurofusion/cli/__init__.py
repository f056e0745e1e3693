"""Command-line entry point: ``neurofusion <step> ...``.

Each step lives in its own module under ``neurofusion.cli`` and provides ``HELP``
(one line), ``add_arguments(parser)`` and ``run(args) -> int``. Modules import the
heavy library code (torch, ITK) inside ``run`` so ``--help`` stays instant.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

# Idle OpenMP threads spin by default; on a shared 2-core machine that slowed torch
# inference ~20x in our measurements. Set before any step imports torch.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from .. import __version__
from ..errors import NeurofusionError
from ..kernels import choose_cpu_kernels

# Every step computes with the same (AVX2) CPU kernels on every x86-64 machine, so an
# AVX-512 machine gives the bits an AVX2 one does (see kernels.py). Before torch/NumPy load.
try:
    CPU_KERNELS = choose_cpu_kernels()
except NeurofusionError as _exc:
    sys.exit(f"neurofusion: error: {_exc}")

# step name -> module; the order is the pipeline's order, as --help shows it, then the tools.
COMMANDS: dict[str, str] = {
    "demo-cohort": "demo",
    "cohort": "cohort",
    "template": "template",
    "preprocess": "preprocess",
    "patch-grid": "patch_grid",
    "patches": "patches",
    "pretrain-encoder": "pretrain_encoder",
    "embed": "embed",
    "proteins": "proteins",
    "train": "train",
    "evaluate": "evaluate",
    "ceiling": "ceiling",
    "export-attention": "export_attention",
    "summary": "summary",
    "kernel-check": "kernel_check",  # not a step: compares two machines' CPU kernels
}


def _steps() -> dict[str, object]:
    return {name: importlib.import_module(f"{__name__}.{module}") for name, module in COMMANDS.items()}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="neurofusion",
        description="Fuse brain MRI and protein assays to classify Alzheimer's disease. "
        "Each subcommand is one pipeline step; the Snakemake workflow calls them.",
    )
    parser.add_argument("--version", action="version", version=f"neurofusion {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="<step>", required=True)
    for name, module in _steps().items():
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except NeurofusionError as exc:
        print(f"neurofusion {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
