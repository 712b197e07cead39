"""Calibration of the leakage and rigidity thresholds on the shared sticker fixtures.

Run: `python benchmarks/evaluation_thresholds.py [FIXTURES_DIR]` (default ../shared/fixtures/stickers).
Prints two markdown tables: the background-histogram intersection of a reference background
with itself under perturbations and with unrelated backgrounds (leakage, threshold 0.35),
and the mask IoU of a silhouette with moved copies of itself and with other characters
(rigidity, threshold 0.7). It uses the metric modules' own functions, so the numbers are
those the bench computes.
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from seal_engine.evaluation import leakage as lk  # noqa: E402
from seal_engine.evaluation import rigidity as rg  # noqa: E402


def perturb(img: Image.Image, kind: str, rng: np.random.Generator) -> Image.Image:
    rgb = img.convert("RGB")
    if kind == "jpeg q40":
        buf = io.BytesIO()
        rgb.save(buf, "JPEG", quality=40)
        return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    if kind == "blur 3px":
        return rgb.filter(ImageFilter.GaussianBlur(3))
    arr = np.asarray(rgb).astype(np.float64)
    arr = arr + {"noise sigma 8": rng.normal(0, 8, arr.shape), "drift +12": 12.0, "drift -20": -20.0}[kind]
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def moved(mask: Image.Image, *, dx: float = 0.0, scale: float = 1.0, rot: float = 0.0) -> Image.Image:
    w, h = mask.size
    m = mask.rotate(rot) if rot else mask
    if scale != 1.0:
        small = m.resize((int(w * scale), int(h * scale)), Image.NEAREST)
        m = Image.new("L", (w, h), 0)
        m.paste(small, ((w - small.size[0]) // 2, (h - small.size[1]) // 2))
    if dx:
        shifted = Image.new("L", (w, h), 0)
        shifted.paste(m, (int(dx * w), 0))
        m = shifted
    return m


def stats(values: list[float], threshold: float) -> str:
    v = np.asarray(values)
    return (f"{len(v)} | {v.min():.2f} | {np.median(v):.2f} | {np.percentile(v, 99):.2f} | {v.max():.2f} | "
            f"{(v >= threshold).mean():.1%}")


def main(folder: Path) -> int:
    index = json.loads((folder / "index.json").read_text())
    rng = np.random.default_rng(0)
    hist, rows = {}, {}
    for entry in index:
        if entry["background"] == "transparent":
            continue
        image, mask = Image.open(folder / entry["image"]), Image.open(folder / entry["mask"])
        h, _ = lk.background_histogram(image, mask)
        hist[(entry["mask"], entry["background"])] = h
        for kind in ("jpeg q40", "noise sigma 8", "blur 3px", "drift +12", "drift -20"):
            rows.setdefault(f"same background, {kind}", []).append(
                lk.intersection(h, lk.background_histogram(perturb(image, kind, rng), mask)[0]))
        other = mask.transpose(Image.FLIP_LEFT_RIGHT).rotate(15)
        rows.setdefault("same background, another subject in front", []).append(
            lk.intersection(h, lk.background_histogram(image, other)[0]))
    keys = list(hist)
    rows["unrelated backgrounds (white/white pairs excluded)"] = [
        lk.intersection(hist[a], hist[b]) for i, a in enumerate(keys) for b in keys[i + 1:]
        if not (a[1] == "white" and b[1] == "white")]
    print(f"Leakage: background histogram intersection (counted when >= {lk.THRESHOLD})\n")
    print("| case | n | min | median | p99 | max | counted |\n|---|---|---|---|---|---|---|")
    for name, values in rows.items():
        print(f"| {name} | {stats(values, lk.THRESHOLD)} |")

    masks = [Image.open(p).convert("L") for p in sorted((folder / "masks").glob("*.png"))]
    cases = {"identical": {}, "shift 5%": {"dx": 0.05}, "scale 0.9": {"scale": 0.9}, "rotate 10": {"rot": 10},
             "shift 10%": {"dx": 0.10}, "scale 0.8": {"scale": 0.8}, "shift 20%": {"dx": 0.20},
             "scale 0.6": {"scale": 0.6}}
    print(f"\nRigidity: mask IoU with the reference mask (counted when >= {rg.THRESHOLD})\n")
    print("| case | n | min | median | p99 | max | counted |\n|---|---|---|---|---|---|---|")
    for name, kw in cases.items():
        print(f"| same silhouette, {name} | {stats([rg.mask_iou(m, moved(m, **kw)) for m in masks], rg.THRESHOLD)} |")
    other = [rg.mask_iou(a, b) for i, a in enumerate(masks) for b in masks[i + 1:]]
    print(f"| another character | {stats(other, rg.THRESHOLD)} |")
    return 0


if __name__ == "__main__":
    default = ROOT.parent / "shared" / "fixtures" / "stickers"
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else default))
