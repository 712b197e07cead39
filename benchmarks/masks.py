"""Mask quality per background kind, subjects touching the border, and mask+finish speed.

Run: python benchmarks/masks.py [--limit N] [--toy N]
Reads ../shared/fixtures/stickers (or tests/data/stickers when absent).
"Touching the border" renders toy-world close-ups and tight crops of them (ground truth by
difference matting, `render_with_mask`; full-body toys as a control) and crops every fixture
so its subject runs off one or two edges.
An inverted mask overlaps the background more than the subject; a flooded one covers
more than 90% of the image (and clearly more than the subject does).
Speed compares, side by side in one run, our numpy path with a Pillow-only
reference (ImageDraw.floodfill from the corners + MaxFilter outline), on 512x512.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFilter

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from seal_engine.finishing import FinishSettings, finish_sticker  # noqa: E402
from seal_engine.masks import compute_mask  # noqa: E402
from seal_engine.toyworld.attributes import random_sticker  # noqa: E402
from seal_engine.toyworld.render import render_with_mask  # noqa: E402

KINDS = ["transparent", "white", "solid", "gradient", "scene"]


def fixtures_dir() -> Path:
    shared = ROOT.parent / "shared" / "fixtures" / "stickers"
    return shared if (shared / "index.json").exists() else ROOT / "tests" / "data" / "stickers"


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max(1, (a | b).sum()))


def quality(root: Path, limit: int | None) -> None:
    index = json.loads((root / "index.json").read_text())
    if limit:
        subjects = sorted({e["mask"] for e in index})[:limit]
        index = [e for e in index if e["mask"] in subjects]
    rows: dict[str, dict[str, list[float]]] = {k: {"fallback": [], "auto": []} for k in KINDS}
    for e in index:
        im = Image.open(root / e["image"]).convert("RGBA")
        gt = np.asarray(Image.open(root / e["mask"])) >= 128
        fb = np.asarray(compute_mask(im, "fallback").mask) >= 128
        auto = compute_mask(im, "auto")
        rows[e["background"]]["fallback"].append(iou(fb, gt))
        rows[e["background"]]["auto"].append(iou(np.asarray(auto.mask) >= 128, gt))
    print(f"Mask IoU on {root} ({len(index)} images)\n")
    print("| background | n | fallback mean | fallback min | auto mean | auto min | target (fallback) |")
    print("|---|---|---|---|---|---|---|")
    targets = {"white": ">= 0.95", "solid": ">= 0.95", "gradient": ">= 0.90", "scene": ">= 0.75 (aim)",
               "transparent": "-"}
    for k in KINDS:
        f, a = rows[k]["fallback"], rows[k]["auto"]
        if f:
            print(f"| {k} | {len(f)} | {np.mean(f):.3f} | {min(f):.3f} | {np.mean(a):.3f} | {min(a):.3f} | {targets[k]} |")
    print()


from seal_engine.testing import crop_through_subject  # noqa: E402

#: crop name -> edges the subject is cut at (a quarter of its extent runs off each)
CROPS = {"left": ("left",), "bottom": ("bottom",), "top+right": ("top", "right"), "bottom+left": ("bottom", "left")}




def toy_closeups(n: int, seed: int = 0, scale: str = "closeup"):
    """(name, image, mask) of n toy-world stickers at `scale`, every other factor random."""
    rng = random.Random(seed)
    for i in range(n):
        s = random_sticker(rng, allow_held_out=True, scale=scale)
        rgb, gt = render_with_mask(s, random.Random(seed * 1000 + i))
        yield f"toy {s.position} {s.background}", Image.fromarray(rgb).convert("RGBA"), gt


def toy_tight_crops(n: int, seed: int = 1):
    """The middle 40x40 of centred close-ups, scaled to 128x128: the body owns most of the border."""
    rng = random.Random(seed)
    for i in range(n):
        s = random_sticker(rng, allow_held_out=True, scale="closeup", position="centre")
        rgb, gt = render_with_mask(s, random.Random(seed * 1000 + i))
        im = Image.fromarray(rgb[12:52, 12:52]).resize((128, 128), Image.NEAREST)
        mask = np.asarray(Image.fromarray(gt[12:52, 12:52]).resize((128, 128), Image.NEAREST))
        yield f"toy tight {s.background}", im.convert("RGBA"), mask


def border_scores(pred: np.ndarray, gt: np.ndarray) -> tuple[float, bool, bool]:
    """(IoU, inverted, flooded); flooded: over 90% of the image when the subject is clearly less."""
    score = iou(pred, gt)
    return score, iou(pred, ~gt) > score, float(pred.mean()) > max(0.9, float(gt.mean()) + 0.05)


def border_quality(root: Path, limit: int | None, toys: int) -> None:
    index = [e for e in json.loads((root / "index.json").read_text())]
    if limit:
        subjects = sorted({e["mask"] for e in index})[:limit]
        index = [e for e in index if e["mask"] in subjects]
    rows: dict[str, list[tuple[float, bool, bool, float]]] = {}
    toy_rows = [(toy_closeups(toys), lambda name: "toy close-up, " + ("centre" if "centre" in name else "left/right")),
                (toy_tight_crops(toys // 3), lambda name: "toy tight crop (40x40 of a close-up)"),
                (toy_closeups(toys // 3, seed=2, scale="full"), lambda name: "control: toy full body (not touching)")]
    for cases, row_name in toy_rows:
        for name, im, gt in cases:
            fb = np.asarray(compute_mask(im, "fallback").mask) >= 128
            auto = np.asarray(compute_mask(im, "auto").mask) >= 128
            rows.setdefault(row_name(name), []).append((*border_scores(fb, gt), iou(auto, gt)))
    for k, e in enumerate(index):
        im = Image.open(root / e["image"]).convert("RGBA")
        full_gt = np.asarray(Image.open(root / e["mask"])) >= 128
        crop_name = list(CROPS)[k % len(CROPS)]
        im, gt = crop_through_subject(im, full_gt, CROPS[crop_name])
        fb = np.asarray(compute_mask(im, "fallback").mask) >= 128
        auto = np.asarray(compute_mask(im, "auto").mask) >= 128
        edges = "one edge" if len(CROPS[crop_name]) == 1 else "two edges"
        rows.setdefault(f"cropped sticker, {e['background']}, {edges}", []).append(
            (*border_scores(fb, gt), iou(auto, gt)))
    print("Touching the border: toy close-ups (64x64), tight crops, fixtures cropped through the subject\n")
    print("| case | n | fallback mean | fallback min | inverted | flooded | auto mean | auto min |")
    print("|---|---|---|---|---|---|---|---|")
    for row in sorted(rows):
        r = rows[row]
        f = [v[0] for v in r]
        a = [v[3] for v in r]
        print(f"| {row} | {len(r)} | {np.mean(f):.3f} | {min(f):.3f} | {sum(v[1] for v in r)} | "
              f"{sum(v[2] for v in r)} | {np.mean(a):.3f} | {min(a):.3f} |")
    print()


def reference_mask_and_finish(im: Image.Image, outline: int = 8) -> Image.Image:
    """Pillow-only way: flood the background from the corners, MaxFilter outline."""
    rgb = im.convert("RGB")
    marker = (255, 0, 255)
    for xy in [(0, 0), (rgb.width - 1, 0), (0, rgb.height - 1), (rgb.width - 1, rgb.height - 1)]:
        if rgb.getpixel(xy) != marker:
            ImageDraw.floodfill(rgb, xy, marker, thresh=40)
    bg = ImageChops.difference(rgb, Image.new("RGB", rgb.size, marker)).convert("L").point(lambda v: 255 if v < 1 else 0)
    mask = ImageChops.invert(bg)
    grown = mask
    for _ in range(outline):
        grown = grown.filter(ImageFilter.MaxFilter(3))
    grown = grown.filter(ImageFilter.GaussianBlur(1))
    out = Image.new("RGBA", im.size, (255, 255, 255, 0))
    out.putalpha(grown)
    cut = im.copy()
    cut.putalpha(mask)
    out = Image.alpha_composite(out, cut)
    return out.crop(out.getchannel("A").getbbox())


def timed(fn, repeats: int, clock=time.perf_counter) -> float:
    """Best of `repeats`; `clock=time.process_time` gives CPU time (robust on a shared machine)."""
    fn()  # warm-up
    best = float("inf")
    for _ in range(repeats):
        t = clock()
        fn()
        best = min(best, clock() - t)
    return best * 1000


def speed(root: Path, repeats: int) -> None:
    print(f"Mask + finish of one 512x512 image (best of {repeats}, wall ms unless noted; target <= 100 ms)\n")
    print("| image | ours: mask | ours: mask + finish | ours: mask + finish (CPU ms) | Pillow-only reference | reference / ours |")
    print("|---|---|---|---|---|---|")
    settings = FinishSettings(outline_px=8, size=(512, 512), margin=16)
    for name in ["dev-000-white.png", "dev-000-gradient.jpg", "dev-000-scene.jpg", "dev-000-transparent.png"]:
        path = root / "images" / name
        if not path.exists():
            continue
        im = Image.open(path).convert("RGBA")
        t_mask = timed(lambda: compute_mask(im), repeats)
        t_ours = timed(lambda: finish_sticker(im, settings), repeats)
        t_cpu = timed(lambda: finish_sticker(im, settings), repeats, time.process_time)
        t_ref = timed(lambda: reference_mask_and_finish(im), repeats)
        print(f"| {name} | {t_mask:.0f} | {t_ours:.0f} | {t_cpu:.0f} | {t_ref:.0f} | {t_ref / t_ours:.2f}x |")
    print()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--limit", type=int, default=None, help="only the first N characters")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--toy", type=int, default=120, help="toy-world close-ups in the border table")
    ap.add_argument("--skip-quality", action="store_true")
    ap.add_argument("--skip-speed", action="store_true")
    args = ap.parse_args()
    root = fixtures_dir()
    if not args.skip_quality:
        quality(root, args.limit)
        border_quality(root, args.limit, args.toy)
    if not args.skip_speed:
        speed(root, args.repeats)


if __name__ == "__main__":
    main()
