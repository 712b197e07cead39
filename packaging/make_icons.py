"""Derive the platform icon files from resources/icons/seal-sticker-studio.png with Pillow:
.ico (Windows, several sizes in one file) and .icns (macOS). Run before a build;
build.sh does. Existing files are only rewritten when the PNG is newer."""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image

ICONS = Path(__file__).resolve().parent.parent / "resources" / "icons"
PNG = ICONS / "seal-sticker-studio.png"
ICO_SIZES = [(16, 16), (24, 24), (32, 32), (48, 48), (64, 64), (128, 128), (256, 256)]


def main() -> int:
    if not PNG.is_file():
        print(f"missing {PNG}", file=sys.stderr)
        return 1
    src = Image.open(PNG).convert("RGBA")
    if src.size[0] < 512:
        src = src.resize((512, 512), Image.Resampling.LANCZOS)
    for path, kwargs in ((PNG.with_suffix(".ico"), {"sizes": ICO_SIZES}), (PNG.with_suffix(".icns"), {})):
        if path.is_file() and path.stat().st_mtime >= PNG.stat().st_mtime:
            continue
        src.save(path, **kwargs)
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
