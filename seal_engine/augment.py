"""Single-image augmentation: many plausible views of one reference.

Random rescale and shift with matching prompt words (Custom Diffusion: "far
away", "close-up"), so the model does not learn one size and position;
horizontal flip off by default (characters are often asymmetric: a scar, a
logo); optionally the masked subject composited onto random flat backgrounds, or
onto named backdrops whose words go into the view's prompt (`backdrops`: the
background component's views, see personalize/background_loss.py).
Transparent pixels are always composited onto a flat colour: the VAE never
sees raw RGBA (premultiplied-black or garbage colours under alpha 0 would be
learned as part of the character). Views are made once and VAE-encoded once
(an augmentation bank); each step draws from the bank.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Sequence

from PIL import Image

FAR_WORDS = "far away"
CLOSE_WORDS = "close-up"


@dataclass
class View:
    image: Image.Image  # RGB, size x size, background composited
    mask: Image.Image  # L, subject = 255
    valid: Image.Image  # L, 255 where real pixels are (Custom Diffusion's valid region)
    words: str  # prompt words matching the transform
    scale: float
    background: tuple[int, int, int]
    background_words: Optional[str] = None  # a named backdrop's words (None: the reference's own background)


def has_transparency(image: Image.Image) -> bool:
    if image.mode != "RGBA":
        return False
    lo, _hi = image.getchannel("A").getextrema()
    return lo < 250


def fit_square(image: Image.Image, size: int, fill: Any = 0) -> Image.Image:
    """Letterbox into a size x size canvas, keeping the aspect ratio."""
    w, h = image.size
    s = size / max(w, h)
    nw, nh = max(1, round(w * s)), max(1, round(h * s))
    resized = image.resize((nw, nh), Image.Resampling.LANCZOS if image.mode != "L" else Image.Resampling.BILINEAR)
    canvas = Image.new(image.mode, (size, size), fill)
    canvas.paste(resized, ((size - nw) // 2, (size - nh) // 2))
    return canvas


def flatten(rgba: Image.Image, color: tuple[int, int, int]) -> Image.Image:
    """Composite RGBA onto a flat colour (what the VAE is allowed to see)."""
    base = Image.new("RGBA", rgba.size, color + (255,))
    return Image.alpha_composite(base, rgba.convert("RGBA")).convert("RGB")


def _words(scale: float) -> str:
    if scale < 0.85:
        return FAR_WORDS
    if scale > 1.05:
        return CLOSE_WORDS
    return ""


def make_views(reference: Image.Image, mask: Image.Image, size: int, config: Any, rng: Any,
               backdrops: Sequence[tuple[str, tuple[int, int, int]]] = (), backdrop_share: float = 0.0) -> list[View]:
    """`config.augment_bank` views; the first is always the untransformed reference.

    With `backdrops` ((words, RGB) pairs), each later view has the probability `backdrop_share` of
    showing the masked subject on one of them instead, its words recorded for the prompt; the bank
    then has several views even when the geometric augmentation is off (those views keep the
    reference's size and place)."""
    rgba = reference.convert("RGBA")
    transparent = has_transparency(rgba)
    mask_l = mask.convert("L").resize(rgba.size, Image.Resampling.BILINEAR)
    base_rgba = fit_square(rgba, size, (0, 0, 0, 0))
    base_mask = fit_square(mask_l, size, 0)
    opaque = Image.new("L", rgba.size, 255)
    base_valid = fit_square(opaque, size, 255 if transparent else 0)

    geometric = config.augment is not False
    count = max(1, int(config.augment_bank)) if (geometric or (backdrops and backdrop_share > 0)) else 1
    views: list[View] = []
    for i in range(count):
        scale, dx, dy, flip = 1.0, 0, 0, False
        if i > 0 and geometric:
            lo, hi = config.scale_range
            scale = float(rng.uniform(lo, hi))
            limit = config.max_shift * size
            dx, dy = (int(v) for v in rng.uniform(-limit, limit, size=2))
            flip = bool(config.flip and rng.random() < 0.5)
        color = tuple(int(c) for c in config.background_color)
        backdrop_words = None
        random_bg = bool(config.random_backgrounds and i > 0 and rng.random() < 0.5)
        if random_bg:
            color = tuple(int(c) for c in rng.integers(0, 256, size=3))
        elif backdrops and i > 0 and rng.random() < backdrop_share:
            backdrop_words, rgb = backdrops[int(rng.integers(0, len(backdrops)))]
            color, random_bg = tuple(int(c) for c in rgb), True
        src = base_rgba
        if random_bg and not transparent:
            src = base_rgba.copy()  # the masked subject alone on the new colour
            src.putalpha(base_mask)
        layers = [src, base_mask, base_valid]
        if flip:
            layers = [im.transpose(Image.Transpose.FLIP_LEFT_RIGHT) for im in layers]
        out = []
        n = max(1, round(size * scale))
        for im, fill in zip(layers, ((0, 0, 0, 0), 0, 255 if (transparent or random_bg) else 0)):
            scaled = im.resize((n, n), Image.Resampling.BICUBIC if im.mode == "RGBA" else Image.Resampling.BILINEAR)
            canvas = Image.new(im.mode, (size, size), fill)
            canvas.paste(scaled, ((size - n) // 2 + dx, (size - n) // 2 + dy))
            out.append(canvas)
        valid = out[2] if not (transparent or random_bg) else Image.new("L", (size, size), 255)
        views.append(View(image=flatten(out[0], color), mask=out[1], valid=valid,
                          words=_words(scale), scale=scale, background=color, background_words=backdrop_words))
    return views
