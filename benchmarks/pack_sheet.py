"""Contact sheet of a `seal pack` output: the reference, then every sticker of one pack.

    python benchmarks/pack_sheet.py OUT_DIR [--platform telegram] [-o docs/pack_example.png]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.contact_sheet import checker  # noqa: E402

CELL = 192


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--platform", default="telegram")
    parser.add_argument("-o", "--output", type=Path, default=ROOT / "docs" / "pack_example.png")
    args = parser.parse_args()
    job = json.loads((args.out_dir / "job.json").read_text())
    pack = args.out_dir / "packs" / args.platform
    manifest = json.loads((pack / "pack.json").read_text())
    tiles = [(Image.open(job["reference"]).convert("RGBA"), "reference")]
    tiles += [(Image.open(pack / s["file"]).convert("RGBA"), f"{''.join(s['emojis'])} {s['label']}")
              for s in manifest["stickers"]]
    cols = 7
    rows = -(-len(tiles) // cols)
    sheet = Image.new("RGBA", (cols * CELL, rows * (CELL + 18)), (250, 250, 250, 255))
    draw = ImageDraw.Draw(sheet)
    for i, (img, label) in enumerate(tiles):
        x, y = (i % cols) * CELL, (i // cols) * (CELL + 18)
        cell = checker(CELL - 8)
        img.thumbnail((CELL - 8, CELL - 8))
        cell.alpha_composite(img, ((CELL - 8 - img.width) // 2, (CELL - 8 - img.height) // 2))
        sheet.alpha_composite(cell, (x + 4, y + 4))
        draw.text((x + 6, y + CELL - 2), label.encode("ascii", "ignore").decode().strip(), fill=(40, 40, 40, 255))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    sheet.convert("RGB").save(args.output)
    print(args.output)


if __name__ == "__main__":
    main()
