"""`seal export`: a folder of finished stickers -> a validated pack for one platform."""

from __future__ import annotations

import argparse
from pathlib import Path

from ...errors import InputError

NAME = "export"
HELP = "export a folder of finished stickers as a ready-to-upload pack"
DESCRIPTION = """Export finished stickers as a pack for one platform.

Stickers are the image files in STICKER_DIR, in file-name order; each label is
the file name without its extension. Emoji come from --emoji-map (a JSON object
{"file stem or label": "emoji"}) or are guessed from the label.
The pack is validated before it is moved into place; see `seal validate`."""

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff"}
PLATFORM_CHOICES = ("telegram", "whatsapp", "signal", "line", "discord", "imessage", "png", "webp")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sticker_dir", metavar="STICKER_DIR", type=Path, help="folder of finished sticker images")
    parser.add_argument("--platform", required=True, choices=PLATFORM_CHOICES, help="target platform")
    parser.add_argument("--title", required=True, help="pack title")
    parser.add_argument("--author", required=True, help="pack author / publisher")
    parser.add_argument("-o", "--output", dest="out_dir", required=True, type=Path, metavar="PACK_DIR",
                        help="pack folder to create (must not exist unless --overwrite)")
    parser.add_argument("--emoji-map", type=Path, metavar="FILE", help="JSON {file stem or label: emoji}")
    parser.add_argument("--overwrite", action="store_true", help="replace PACK_DIR once the new pack is valid")


def sticker_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder; give the folder that holds the finished stickers.")
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
                   and not p.name.startswith("."))
    if not files:
        raise InputError(f"{folder} holds no sticker images (PNG, WebP, JPEG, GIF, BMP or TIFF).")
    return files


def label_of(stem: str) -> str:
    """'01_happy' or '03-waving' (how packs and `seal pack` number their files) -> 'happy': re-exporting a pack's
    stickers must not stack numbers ('01_01_happy'); the file order still comes from the names."""
    import re

    label = re.sub(r"^\d{1,4}[-_ ]+(?=\S)", "", stem)
    return label or stem


def run(args: argparse.Namespace) -> int:
    from ...export import StickerInput, export_pack
    from ...export.emoji import load_emoji_map

    from ...atomic import check_replaceable

    check_replaceable(args.out_dir, overwrite=args.overwrite, markers=("pack.json",))
    files = sticker_files(args.sticker_dir)
    emoji_map = load_emoji_map(args.emoji_map) if args.emoji_map else {}
    stickers = [
        StickerInput(path, label=label_of(path.stem),
                     emojis=emoji_map.get(path.stem) or emoji_map.get(path.name) or emoji_map.get(label_of(path.stem))
                     or [])
        for path in files
    ]
    result = export_pack(stickers, args.platform, title=args.title, author=args.author, out_dir=args.out_dir,
                         overwrite=args.overwrite)
    total = result.total_bytes
    print(f"{result.platform} pack '{result.name}': {len(result.stickers)} stickers, {total:,} bytes -> {result.pack_dir}")
    for f in result.files:
        print(f"  {f.file}  {f.bytes:,} B  {f.encoding}")
    return 0
