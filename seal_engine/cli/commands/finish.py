"""`seal finish`: turn images into finished RGBA sticker PNGs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

NAME = "finish"
HELP = "cut out, outline, trim and fit images as RGBA sticker PNGs"
DESCRIPTION = """Finish each IMAGE as a sticker: cut the subject out (same masking as
`seal mask`), add an outline, optionally a soft shadow, trim, and fit on a
canvas with a margin. Writes DIR/<name>.png for each input. Every input is
checked first: if one is refused, nothing is written."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ...masks import METHODS

    parser.add_argument("images", type=Path, nargs="+", metavar="IMAGE")
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="DIR", help="output folder")
    parser.add_argument("--outline", type=int, default=8, metavar="PX", help="outline width (0 = none)")
    parser.add_argument("--outline-color", default="white", help="outline colour (name or #rrggbb)")
    parser.add_argument("--margin", type=int, default=16, metavar="PX")
    parser.add_argument("--size", default=None, metavar="WxH", help="canvas size, e.g. 512x512")
    parser.add_argument("--shadow", action="store_true", help="add a soft drop shadow")
    parser.add_argument("--no-trim", action="store_true", help="keep the original framing")
    parser.add_argument("--method", choices=METHODS, default="auto", help="mask method")
    parser.add_argument("--sam-checkpoint", type=Path, default=None)


def parse_size(text: str | None) -> tuple[int, int] | None:
    from ...errors import InputError

    if text is None:
        return None
    parts = text.lower().replace("×", "x").split("x")
    try:
        w, h = (int(p) for p in parts)
    except ValueError:
        raise InputError(f"--size must look like 512x512, not '{text}'.") from None
    if w <= 0 or h <= 0 or w > 8192 or h > 8192:
        raise InputError(f"--size {text} is out of range (1..8192 on each side).")
    return w, h


def run(args: argparse.Namespace) -> int:
    from ...atomic import atomic_save_image
    from ...errors import InputError
    from ...finishing import FinishSettings, finish_sticker
    from ...intake import load_image
    from ...masks import compute_mask

    settings = FinishSettings(outline_px=args.outline, outline_color=args.outline_color, shadow=args.shadow,
                              margin=args.margin, size=parse_size(args.size), trim=not args.no_trim)
    if args.output.exists() and not args.output.is_dir():
        raise InputError(f"{args.output} is a file; -o needs a folder.")
    images = [load_image(path) for path in args.images]  # refuse early: nothing written
    names = _output_names(args.images)
    finished = []
    for path, image in zip(args.images, images):
        result = compute_mask(image, args.method, sam_checkpoint=args.sam_checkpoint)
        finished.append((finish_sticker(image, settings, mask=result.mask), result.method))
    written: list[Path] = []
    lines: list[str] = []
    try:  # all or nothing: a full disk half-way removes the stickers this run added
        for name, (sticker, method) in zip(names, finished):
            out = args.output / name
            existed = out.exists()
            atomic_save_image(sticker, out, format="PNG")
            if not existed:
                written.append(out)
            lines.append(f"{out} ({sticker.width}x{sticker.height}, mask: {method})")
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    for line in lines:
        print(line, file=sys.stderr)
    return 0


def _output_names(paths: list[Path]) -> list[str]:
    """<stem>.png, made unique when two inputs share a stem."""
    seen: dict[str, int] = {}
    names = []
    for p in paths:
        stem = p.stem or "sticker"
        n = seen.get(stem, 0)
        seen[stem] = n + 1
        names.append(f"{stem}.png" if n == 0 else f"{stem}-{n + 1}.png")
    return names
