"""Procedural renderer: a Sticker -> a 64x64 RGB image (numpy uint8 or PIL).

Drawn with Pillow at 2x and box-downsampled, so edges are anti-aliased like real
stickers. Geometry choices follow the issue's feasibility notes: five well-separated body
hues, saturated backgrounds, big full-body creatures, a dark outline on every part.
A little jitter (size, position) keeps detectors and the model from memorising pixels;
it never changes a factor's value.
"""

from __future__ import annotations

import math
import random
from typing import Optional

import numpy as np
from PIL import Image, ImageDraw

from .attributes import FACTORS, Sticker

SIZE = 64
_SS = 2  # supersampling factor
_W = SIZE * _SS

BODY_RGB: dict[str, tuple[int, int, int]] = {
    "red": (225, 35, 35),
    "yellow": (250, 215, 25),
    "green": (35, 170, 65),
    "blue": (45, 95, 240),
    "purple": (150, 55, 205),
}
BACKGROUND_RGB: dict[str, tuple[int, int, int]] = {
    "white": (245, 245, 245),
    "cyan": (20, 210, 225),
    "magenta": (235, 20, 170),
    "orange": (255, 135, 10),
    "lime": (160, 235, 20),
    "navy": (25, 35, 115),
}
OUTLINE = (25, 20, 30)
assert set(BODY_RGB) == set(FACTORS["colour"]) and set(BACKGROUND_RGB) == set(FACTORS["background"])

# Geometry in supersampled pixels.
_R = {"full": 24.0, "closeup": 40.0}
_CX_OFFSET = {"full": 30.0, "closeup": 24.0}
_CY = {"full": 60.0, "closeup": 78.0}
_OUTLINE_W = {"flat": 2, "shaded": 5}


_FACE_DY = 0.15  # the face's centre sits this x the radius below the body's


def _body_centre(s: Sticker) -> tuple[float, float]:
    """The body's centre before jitter, in supersampled pixels (render and face_box)."""
    dx = {"left": -1, "centre": 0, "right": 1}[s.position] * _CX_OFFSET[s.scale]
    return _W / 2 + dx, _CY[s.scale]


def _body_polygon(shape: str, cx: float, cy: float, r: float) -> list[tuple[float, float]]:
    if shape == "triangle":
        return [(cx, cy - 1.2 * r), (cx + 1.15 * r, cy + r), (cx - 1.15 * r, cy + r)]
    if shape == "diamond":
        return [(cx, cy - 1.25 * r), (cx + 1.2 * r, cy), (cx, cy + 1.25 * r), (cx - 1.2 * r, cy)]
    raise ValueError(shape)


def _body_top(shape: str, cy: float, r: float) -> float:
    return cy - {"round": 1.0, "square": 0.95, "triangle": 1.2, "diamond": 1.25}[shape] * r


def _draw_body(d: ImageDraw.ImageDraw, shape: str, cx: float, cy: float, r: float, fill, outline, width: int) -> None:
    if shape == "round":
        d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fill, outline=outline, width=width)
    elif shape == "square":
        d.rounded_rectangle([cx - 0.95 * r, cy - 0.95 * r, cx + 0.95 * r, cy + 0.95 * r], radius=0.25 * r,
                            fill=fill, outline=outline, width=width)
    else:
        pts = _body_polygon(shape, cx, cy, r)
        d.polygon(pts, fill=fill, outline=outline, width=width)


def _limb(d: ImageDraw.ImageDraw, p0, p1, rgb, w: float, ow: int) -> None:
    d.line([p0, p1], fill=OUTLINE, width=int(w + 2 * ow))
    d.line([p0, p1], fill=rgb, width=int(w))
    hr = w * 0.9
    d.ellipse([p1[0] - hr - ow, p1[1] - hr - ow, p1[0] + hr + ow, p1[1] + hr + ow], fill=OUTLINE)
    d.ellipse([p1[0] - hr, p1[1] - hr, p1[0] + hr, p1[1] + hr], fill=rgb)


def _shade(img: Image.Image, mask: Image.Image, top: float, bottom: float, cx: float, r: float) -> Image.Image:
    """'shaded' style: a vertical light-to-dark gradient and a highlight inside the body."""
    a = np.asarray(img).astype(np.float32)
    m = np.asarray(mask).astype(np.float32)[..., None] / 255.0
    ys = (np.arange(_W, dtype=np.float32) - top) / max(1.0, bottom - top)
    g = np.clip(1.25 - 0.6 * ys, 0.55, 1.25)[:, None, None]
    shaded = np.clip(a * g, 0, 255)
    out = a * (1 - m) + shaded * m
    res = Image.fromarray(out.astype(np.uint8))
    hl = Image.new("L", (_W, _W), 0)
    hx, hy = cx - 0.45 * r, top + 0.45 * r
    ImageDraw.Draw(hl).ellipse([hx - 0.18 * r, hy - 0.12 * r, hx + 0.18 * r, hy + 0.12 * r], fill=200)
    hl = Image.fromarray(np.minimum(np.asarray(hl), np.asarray(mask)))
    res.paste((255, 255, 255), mask=hl)
    return res


def render(s: Sticker, rng: Optional[random.Random] = None, *, jitter: bool = True,
           background_rgb: Optional[tuple[int, int, int]] = None) -> np.ndarray:
    """Draw one sticker as a (64, 64, 3) uint8 array. Deterministic for a given rng state.

    `background_rgb` overrides the background's colour (matting plates, see render_with_mask)."""
    rng = rng or random.Random(0)
    j = (lambda a: rng.uniform(-a, a)) if jitter else (lambda a: 0.0)
    r = _R[s.scale] * (1.0 + j(0.06))
    cx0, cy0 = _body_centre(s)
    cx = cx0 + j(3.0)
    cy = cy0 + j(3.0)
    ow = _OUTLINE_W[s.style]
    body = BODY_RGB[s.colour]
    img = Image.new("RGB", (_W, _W), background_rgb or BACKGROUND_RGB[s.background])
    d = ImageDraw.Draw(img)

    # legs
    lw = 0.30 * r
    for sx in (-1, 1):
        x = cx + sx * 0.42 * r
        _limb(d, (x, cy + 0.7 * r), (x, cy + 1.5 * r), body, lw, ow)
    # arms
    sh_y = cy + 0.15 * r
    ends = {
        "down": ((-1.45, 0.85), (1.45, 0.85)),
        "up": ((-1.45, -0.95), (1.45, -0.95)),
        "wave": ((-1.45, 0.85), (1.5, -1.0)),
    }[s.action]
    for (ex, ey), sx in zip(ends, (-1, 1)):
        _limb(d, (cx + sx * 0.7 * r, sh_y), (cx + ex * r, cy + ey * r), body, 0.26 * r, ow)

    # body (fill + outline), optionally shaded
    _draw_body(d, s.shape, cx, cy, r, body, OUTLINE, ow)
    top = _body_top(s.shape, cy, r)
    if s.style == "shaded":
        mask = Image.new("L", (_W, _W), 0)
        _draw_body(ImageDraw.Draw(mask), s.shape, cx, cy, r - ow, 255, None, 0)
        img = _shade(img, mask, top, cy + 1.25 * r, cx, r)
        d = ImageDraw.Draw(img)

    # face
    fy = cy + _FACE_DY * r
    ex, ey, er = 0.36 * r, fy - 0.12 * r, 0.15 * r
    mw, my = 0.32 * r, fy + 0.38 * r
    lwid = max(2, int(0.09 * r))
    if s.emotion == "surprised":
        for sx in (-1, 1):
            x = cx + sx * ex
            d.ellipse([x - 1.5 * er, ey - 1.5 * er, x + 1.5 * er, ey + 1.5 * er], fill=(255, 255, 255), outline=OUTLINE, width=2)
            d.ellipse([x - 0.7 * er, ey - 0.7 * er, x + 0.7 * er, ey + 0.7 * er], fill=OUTLINE)
        d.ellipse([cx - 0.17 * r, my - 0.2 * r, cx + 0.17 * r, my + 0.2 * r], fill=OUTLINE)
    else:
        for sx in (-1, 1):
            x = cx + sx * ex
            d.ellipse([x - er, ey - er, x + er, ey + er], fill=OUTLINE)
        if s.emotion == "happy":
            d.chord([cx - mw, my - 0.28 * r, cx + mw, my + 0.2 * r], 0, 180, fill=OUTLINE)
        elif s.emotion == "sad":
            d.arc([cx - mw, my - 0.02 * r, cx + mw, my + 0.4 * r], 200, 340, fill=OUTLINE, width=lwid)
            tx, ty = cx + ex + 0.05 * r, ey + 0.3 * r
            d.ellipse([tx - 0.09 * r, ty - 0.06 * r, tx + 0.09 * r, ty + 0.2 * r], fill=(120, 200, 255))
        elif s.emotion == "angry":
            for sx in (-1, 1):
                x = cx + sx * ex
                d.line([(x - sx * 0.2 * r, ey - 0.2 * r), (x + sx * 0.25 * r, ey - 0.42 * r)], fill=OUTLINE, width=lwid + 1)
            d.line([(cx - mw, my + 0.05 * r), (cx + mw, my + 0.05 * r)], fill=OUTLINE, width=lwid + 1)

    # accessory on top of the body
    if s.accessory == "hat":
        bw, bh = 0.75 * r, 0.14 * r
        d.rectangle([cx - bw, top - bh, cx + bw, top + 0.06 * r], fill=(30, 30, 35), outline=OUTLINE)
        d.rectangle([cx - 0.45 * r, top - 0.85 * r, cx + 0.45 * r, top - bh], fill=(30, 30, 35), outline=OUTLINE)
        d.rectangle([cx - 0.45 * r, top - 0.34 * r, cx + 0.45 * r, top - 0.22 * r], fill=(200, 30, 40))
    elif s.accessory == "crown":
        w, h = 0.6 * r, 0.7 * r
        base = top + 0.08 * r
        pts = [(cx - w, base), (cx - w, base - h), (cx - w / 2, base - 0.45 * h), (cx, base - h),
               (cx + w / 2, base - 0.45 * h), (cx + w, base - h), (cx + w, base)]
        d.polygon(pts, fill=(255, 200, 0), outline=OUTLINE, width=max(2, ow - 1))
        d.ellipse([cx - 0.1 * r, base - 0.38 * h, cx + 0.1 * r, base - 0.38 * h + 0.2 * r], fill=(230, 20, 60))

    small = img.resize((SIZE, SIZE), Image.BOX)
    return np.asarray(small, dtype=np.uint8).copy()


def face_box(s: Sticker, slack: float = 3.0) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) in output pixels, end-exclusive: where `render` draws the face of `s` (eyes,
    brows, mouth, tear), grown by `slack` pixels for the jitter. Ground truth for probes of where a
    model draws the emotion (benchmarks/toyworld_where_emotion_is_drawn.py)."""
    r = _R[s.scale]
    cx, cy = _body_centre(s)
    fy = cy + _FACE_DY * r
    edges = (cx - 0.6 * r, fy - 0.6 * r, cx + 0.6 * r, fy + 0.8 * r)
    x0, y0, x1, y1 = (e / _SS for e in edges)
    return (max(0, math.floor(x0 - slack)), max(0, math.floor(y0 - slack)),
            min(SIZE, math.ceil(x1 + slack)), min(SIZE, math.ceil(y1 + slack)))


def render_pil(s: Sticker, rng: Optional[random.Random] = None, *, jitter: bool = True) -> Image.Image:
    return Image.fromarray(render(s, rng, jitter=jitter))


def render_batch(stickers: list[Sticker], seed: int = 0) -> np.ndarray:
    """(N, 64, 64, 3) uint8; sticker i is drawn with its own seeded jitter."""
    out = np.empty((len(stickers), SIZE, SIZE, 3), dtype=np.uint8)
    for i, s in enumerate(stickers):
        out[i] = render(s, random.Random(seed * 1_000_003 + i))
    return out


def _render_chunk(args: tuple[list[dict], int, int]) -> np.ndarray:
    dicts, seed, start = args
    out = np.empty((len(dicts), SIZE, SIZE, 3), dtype=np.uint8)
    for k, d in enumerate(dicts):
        out[k] = render(Sticker(**d), random.Random(seed * 1_000_003 + start + k))
    return out


def render_many(stickers: list[Sticker], seed: int = 0, workers: int = 1) -> np.ndarray:
    """Like render_batch, split over processes (same pixels whatever `workers` is)."""
    if workers <= 1 or len(stickers) < 2000:
        return render_batch(stickers, seed)
    import multiprocessing as mp

    n = len(stickers)
    step = math.ceil(n / (workers * 4))
    chunks = [([s.as_dict() for s in stickers[i:i + step]], seed, i) for i in range(0, n, step)]
    with mp.get_context("fork").Pool(workers) as pool:
        parts = pool.map(_render_chunk, chunks)
    return np.concatenate(parts, axis=0)


#: Two backgrounds far apart in every channel, used to recover the creature's coverage.
_MATTE_PAIR = ((245, 245, 245), (25, 35, 115))


def render_with_mask(s: Sticker, rng: Optional[random.Random] = None, *,
                     jitter: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(rgb, mask): the sticker as `render` draws it and its exact subject mask (bool, 64x64).

    Difference matting: the same creature (same jitter) drawn on two known backgrounds
    differs only where background shows through, by (1 - coverage) * (bg_a - bg_b).
    A pixel is subject when its coverage is at least one half, so anti-aliased edges are
    split like a rasteriser would. Ground truth for mask tests on any background.
    """
    rng = rng or random.Random(0)
    start = rng.getstate()
    rgb = render(s, rng, jitter=jitter)
    end = rng.getstate()
    plates = []
    for bg in _MATTE_PAIR:
        rng.setstate(start)
        plates.append(render(s, rng, jitter=jitter, background_rgb=bg).astype(np.float32))
    rng.setstate(end)
    channel = int(np.argmax(np.abs(np.subtract(*_MATTE_PAIR))))
    span = float(abs(_MATTE_PAIR[0][channel] - _MATTE_PAIR[1][channel]))
    coverage = 1.0 - np.abs(plates[0][..., channel] - plates[1][..., channel]) / span
    return rgb, coverage >= 0.5

