"""Shared builders for the export tests (fixture stickers and incompressible noise)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from seal_engine.export import StickerInput

DATA = Path(__file__).parent / "data" / "export"
FIXTURES = sorted(DATA.glob("*.png"))


def noisy_sticker(seed: int = 0, size: tuple[int, int] = (768, 640)) -> Image.Image:
    """Random colours in an opaque ellipse with a transparent surround: PNG and WebP cannot squeeze it."""
    rng = np.random.default_rng(seed)
    w, h = size
    rgba = rng.integers(0, 256, (h, w, 4), dtype=np.uint8)
    yy, xx = np.mgrid[0:h, 0:w]
    inside = ((xx - w / 2) / (w * 0.47)) ** 2 + ((yy - h / 2) / (h * 0.47)) ** 2 <= 1
    rgba[..., 3] = np.where(inside, 255, 0)
    return Image.fromarray(rgba, "RGBA")


def fixture_stickers(n: int, emojis: list[str] | None = None) -> list[StickerInput]:
    labels = ["happy seal", "turban wave", "sad tears", "swim cool"]
    return [StickerInput(FIXTURES[i % len(FIXTURES)], label=f"{labels[i % 4]} {i + 1}", emojis=list(emojis or []))
            for i in range(n)]
