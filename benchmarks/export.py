"""Export benchmark: packs for every platform from the same stickers, sizes, quality, timing.

Run: `.venv/bin/python benchmarks/export.py` (reads ../shared/fixtures/stickers when
present, else tests/data/export). Prints markdown tables and writes
docs/contact_sheet_export.png (one exported pack per platform on a checkerboard,
so transparency shows).
"""

from __future__ import annotations

import json
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from seal_engine.export import PLATFORMS, StickerInput, export_pack, validate_pack, whatsapp  # noqa: E402
from seal_engine.export.encoding import best_fit, best_fit_linear  # noqa: E402

SHARED = ROOT.parent / "shared" / "fixtures" / "stickers" / "images"
LABELS = ["happy", "sad", "angry", "love", "laugh", "sleep", "think", "cool", "wow", "thanks", "ok", "party"]


def source_files() -> list[Path]:
    files = sorted(SHARED.glob("*-transparent.png")) if SHARED.is_dir() else []
    return files or sorted((ROOT / "tests" / "data" / "export").glob("*.png"))


def stickers(files: list[Path], n: int) -> list[StickerInput]:
    return [StickerInput(files[i % len(files)], label=f"{LABELS[i % len(LABELS)]} {i + 1}") for i in range(n)]


def noisy(seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    rgba = rng.integers(0, 256, (640, 768, 4), dtype=np.uint8)
    yy, xx = np.mgrid[0:640, 0:768]
    rgba[..., 3] = np.where(((xx - 384) / 360) ** 2 + ((yy - 320) / 300) ** 2 <= 1, 255, 0)
    return Image.fromarray(rgba, "RGBA")


def platform_table(files: list[Path], out: Path) -> dict[str, Path]:
    n = 16 if len(files) >= 16 else 8
    print(f"## Packs from the same {n} finished stickers ({'shared fixtures' if SHARED.is_dir() else 'tests/data'})\n")
    print("| platform | stickers | sticker bytes min / median / max | chosen settings | extras | total bytes | validator | time s |")
    print("|---|---|---|---|---|---|---|---|")
    packs = {}
    for platform in PLATFORMS:
        t0 = time.perf_counter()
        result = export_pack(stickers(files, n), platform, title="Seal Friends", author="SEAL Studio",
                             out_dir=out / platform)
        dt = time.perf_counter() - t0
        violations = validate_pack(result.pack_dir, platform)
        sizes = [f.bytes for f in result.stickers]
        settings = ", ".join(f"{k} x{v}" for k, v in Counter(f.encoding for f in result.stickers).items())
        extras = ", ".join(f"{f.file.split('/')[-1]} {f.bytes:,}" for f in result.files
                           if f.role in ("tray", "thumbnail", "cover", "main", "tab", "zip", "wastickers"))
        print(f"| {platform} | {n} | {min(sizes):,} / {int(statistics.median(sizes)):,} / {max(sizes):,} | {settings} "
              f"| {extras} | {result.total_bytes:,} | {'clean' if not violations else len(violations)} | {dt:.2f} |")
        packs[platform] = result.pack_dir
    return packs


def whatsapp_timing(files: list[Path], out: Path) -> None:
    print("\n## WhatsApp, 30 stickers: binary search vs exhaustive linear scan of the ladder\n")
    print("| set | export s (all cores) | search s (1 thread) | linear scan s (1 thread) | speed-up | encodes: search / scan "
          "| within one step | lossless kept | worst ladder gap |")
    print("|---|---|---|---|---|---|---|---|---|")
    sets = {
        "fixture stickers": stickers(files, 30),
        "noisy 768x640 (incompressible)": [StickerInput(noisy(i), label=f"noise {i}", emojis=["🎉"]) for i in range(30)],
    }
    for name, items in sets.items():
        t0 = time.perf_counter()
        result = export_pack(items, "whatsapp", title="Timing", author="Bench", out_dir=out / f"wa-{len(name)}")
        export_s = time.perf_counter() - t0
        assert validate_pack(result.pack_dir, "whatsapp") == []
        # Side by side on the same rendered canvases, one thread each.
        from seal_engine.export import prepare

        canvases = [whatsapp.render_sticker(p, None) for p in prepare(items, whatsapp.RULES, "t", "a").stickers]
        t0 = time.perf_counter()
        fast = [best_fit(c, whatsapp.LADDER, whatsapp.RULES.max_bytes) for c in canvases]
        fast_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        slow = [best_fit_linear(c, whatsapp.LADDER, whatsapp.RULES.max_bytes) for c in canvases]
        slow_s = time.perf_counter() - t0
        gaps = [f.index - s.index for f, s in zip(fast, slow)]
        ok = sum(0 <= g <= 1 for g in gaps)
        lossless = sum(f.index == 0 for f in fast)
        tries = sum(f.tries for f in fast), len(slow) * len(whatsapp.LADDER)
        print(f"| {name} | {export_s:.2f} | {fast_s:.2f} | {slow_s:.2f} | {slow_s / fast_s:.1f}x | {tries[0]} / {tries[1]} "
              f"| {ok}/30 | {lossless}/30 | {max(gaps)} |")
        qualities = Counter(f.rung.describe() for f in fast)
        if name.startswith("noisy"):
            print("\nNoisy set, chosen settings: " + ", ".join(f"{k} x{v}" for k, v in qualities.items())
                  + f"; largest file {max(f.nbytes for f in fast):,} B (limit {whatsapp.RULES.max_bytes:,}).\n")


def checkerboard(size: tuple[int, int], cell: int = 8) -> Image.Image:
    board = Image.new("RGBA", size, (255, 255, 255, 255))
    draw = ImageDraw.Draw(board)
    for y in range(0, size[1], cell):
        for x in range((y // cell % 2) * cell, size[0], 2 * cell):
            draw.rectangle([x, y, x + cell - 1, y + cell - 1], fill=(214, 214, 214, 255))
    return board


def contact_sheet(packs: dict[str, Path], path: Path, per_row: int = 6, tile: int = 150) -> None:
    """One row per platform: its first stickers, then its extra images, each at true aspect on a checkerboard."""
    label_w, pad = 130, 8
    rows = []
    for platform, pack in packs.items():
        man = json.loads((pack / "pack.json").read_text(encoding="utf-8"))
        items = [(s["file"], " ".join(s["emojis"][:1])) for s in man["stickers"][:per_row]]
        items += [(f["file"], f["role"]) for f in man["files"] if f["role"] in ("tray", "thumbnail", "cover", "main", "tab")]
        rows.append((platform, pack, items))
    width = label_w + max(len(r[2]) for r in rows) * (tile + pad) + pad
    height = len(rows) * (tile + 2 * pad + 14) + pad
    sheet = Image.new("RGBA", (width, height), (250, 250, 250, 255))
    draw = ImageDraw.Draw(sheet)
    y = pad
    for platform, pack, items in rows:
        draw.text((pad, y + tile // 2 - 6), platform, fill=(0, 0, 0, 255))
        x = label_w
        for rel, caption in items:
            im = Image.open(pack / rel).convert("RGBA")
            w, h = im.size
            shown = im.copy()
            shown.thumbnail((tile, tile), Image.Resampling.LANCZOS)
            bg = checkerboard(shown.size)
            bg.alpha_composite(shown)
            sheet.alpha_composite(bg, (x + (tile - shown.width) // 2, y + (tile - shown.height) // 2))
            draw.rectangle([x + (tile - shown.width) // 2 - 1, y + (tile - shown.height) // 2 - 1,
                            x + (tile + shown.width) // 2, y + (tile + shown.height) // 2], outline=(120, 120, 120, 255))
            kind = caption if caption in ("tray", "thumbnail", "cover", "main", "tab") else "sticker"
            draw.text((x, y + tile + 2), f"{kind} {w}x{h} {(pack / rel).stat().st_size // 1000}kB", fill=(40, 40, 40, 255))
            x += tile + pad
        y += tile + 2 * pad + 14
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.convert("RGB").save(path)


def main() -> None:
    files = source_files()
    out = Path(tempfile.mkdtemp(prefix="seal-export-bench-"))
    try:
        packs = platform_table(files, out)
        whatsapp_timing(files, out)
        contact_sheet({k: v for k, v in packs.items() if k not in ("png", "webp")}, ROOT / "docs" / "contact_sheet_export.png")
        print("Contact sheet: docs/contact_sheet_export.png")
    finally:
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
