"""`seal self-test`: the installed build's end-to-end check, offline (see seal_engine.self_test)."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "self-test"
HELP = "check this installation end to end on a tiny offline model (no download, no GPU)"
DESCRIPTION = (
    "Builds a tiny random model, loads it, generates one image, masks and finishes it,\n"
    "exports a 3-sticker Signal pack and validates it. Prints one line per step and exits\n"
    "0 when everything passed, 1 otherwise. Nothing is kept on disk."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--work-dir", type=Path, default=None, metavar="DIR",
                        help="where the temporary files go (default: the system temp folder)")


def run(args: argparse.Namespace) -> int:
    from ...self_test import main

    return main(args.work_dir)
