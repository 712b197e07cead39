"""Contact sheet of fixtures before and after finishing -> docs/contact_sheet_finishing.png.

Run: python benchmarks/contact_sheet.py
Each pair: the input (left) and the finished sticker (right) on a checkerboard,
so halos, jaggies and cut-off parts are visible.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from seal_engine.finishing import FinishSettings, finish_sticker  # noqa: E402
from seal_engine.intake import load_image  # noqa: E402

CELL = 256
PICKS = [("dev-000", "scene"), ("dev-001", "white"), ("dev-003", "gradient"), ("dev-005", "solid"),
         ("dev-006", "scene"), ("dev-009", "transparent"), ("dev-012", "gradient"), ("dev-015", "scene"),
         ("dev-017", "solid"), ("dev-019", "white"), ("dev-021", "scene"), ("dev-023", "gradient")]


def checker(size: int) -> Image.Image:
    im = Image.new("RGBA", (size, size), (235, 235, 235, 255))
    d = ImageDraw.Draw(im)
    for y in range(0, size, 16):
        for x in range((y // 16 % 2) * 16, size, 32):
            d.rectangle((x, y, x + 15, y + 15), fill=(200, 200, 200, 255))
    return im


def main() -> None:
    shared = ROOT.parent / "shared" / "fixtures" / "stickers"
    root = shared if shared.exists() else ROOT / "tests" / "data" / "stickers"
    index = json.loads((root / "index.json").read_text())
    by_key = {(e["mask"][6:13], e["background"]): e for e in index}
    picks = [by_key[k] for k in PICKS if k in by_key] or index[:12]
    cols = 4  # pairs per row
    rows = (len(picks) + cols - 1) // cols
    sheet = Image.new("RGBA", (cols * 2 * CELL, rows * CELL), (255, 255, 255, 255))
    settings = FinishSettings(outline_px=8, margin=12, size=(CELL, CELL), shadow=False)
    for i, e in enumerate(picks):
        src = load_image(root / e["image"])
        done = finish_sticker(src, settings if i % 3 else FinishSettings(outline_px=8, margin=12,
                                                                          size=(CELL, CELL), shadow=True))
        x, y = (i % cols) * 2 * CELL, (i // cols) * CELL
        left = checker(CELL)
        left.alpha_composite(src.resize((CELL, CELL), Image.LANCZOS))
        right = checker(CELL)
        right.alpha_composite(done)
        sheet.paste(left, (x, y))
        sheet.paste(right, (x + CELL, y))
    out = ROOT / "docs" / "contact_sheet_finishing.png"
    sheet.convert("RGB").save(out, optimize=True)
    print(out)


if __name__ == "__main__":
    main()
