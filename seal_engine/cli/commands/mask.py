"""`seal mask`: write the subject mask of an image (white = subject)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

NAME = "mask"
HELP = "write the subject mask of an image (white = subject)"
DESCRIPTION = """Write the subject mask of IMAGE as a greyscale PNG, same size as the image
after EXIF orientation. Methods: auto (alpha channel if meaningful, else
segment-anything when a checkpoint is configured, else the built-in fallback),
alpha, sam, fallback."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ...masks import METHODS

    parser.add_argument("image", type=Path, help="input image")
    parser.add_argument("-o", "--output", type=Path, required=True, help="mask PNG to write")
    parser.add_argument("--method", choices=METHODS, default="auto")
    parser.add_argument("--sam-checkpoint", type=Path, default=None,
                        help="segment-anything checkpoint (.pth or .safetensors; name contains vit_h/vit_l/vit_b)")
    parser.add_argument("--dilate", type=int, default=0, metavar="PX", help="grow the mask by PX pixels")


def run(args: argparse.Namespace) -> int:
    from ...atomic import atomic_save_image
    from ...errors import InputError
    from ...intake import load_image
    from ...masks import compute_mask

    from ...fs_errors import check_output_file

    if not 0 <= args.dilate <= 1024:
        raise InputError("--dilate must be 0 to 1024 pixels.")
    check_output_file(args.output)
    image = load_image(args.image)
    result = compute_mask(image, args.method, sam_checkpoint=args.sam_checkpoint, dilate_px=args.dilate)
    atomic_save_image(result.mask, args.output, format="PNG")
    print(f"{args.output}: {result.method} ({result.note})", file=sys.stderr)
    return 0
