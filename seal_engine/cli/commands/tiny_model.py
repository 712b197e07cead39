"""`seal tiny-model`: a tiny random pipeline for offline dry runs and tests."""

from __future__ import annotations

import argparse

NAME = "tiny-model"
HELP = "write a tiny, randomly initialised pipeline (a few MB) for offline dry runs"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out_dir", metavar="OUT_DIR")
    parser.add_argument("--arch", choices=("sd15", "sdxl"), default="sd15")
    parser.add_argument("--seed", type=int, default=0)


def run(args: argparse.Namespace) -> int:
    from ...testing import save_tiny_model

    path = save_tiny_model(args.out_dir, args.arch, args.seed)
    print(f"tiny {args.arch} model written to {path}")
    return 0
