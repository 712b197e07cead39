"""Sticker finishing: cut-out, outline, optional shadow, trim, fit on a canvas.

Generated images and references become stickers here; exporters call
`finish_sticker` and `fit_on_canvas`. Everything stays RGBA with straight
alpha; resizing goes through premultiplied alpha so edges never pick up dark
or coloured fringes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from PIL import Image, ImageColor, ImageFilter

from .errors import InputError
from .masks import compute_mask
from .masks import morphology as mm

Color = tuple[int, int, int, int]

MAX_OUTLINE_PX = 256
"""A sticker outline wider than this is a mistake, not a style: the cap keeps the padded buffers small."""
MAX_MARGIN_PX = 2048
MAX_CANVAS_SIDE = 8192
"""Canvases and margins are capped before any buffer is allocated (a 100000 px margin would need tens of GB)."""


@dataclass
class FinishSettings:
    outline_px: int = 8  # width of the die-cut border; 0 = none
    outline_color: Color = (255, 255, 255, 255)
    shadow: bool = False  # soft drop shadow under the sticker
    shadow_color: Color = (0, 0, 0, 110)
    margin: int = 16  # transparent space kept around the sticker on the canvas
    size: tuple[int, int] | None = None  # canvas (w, h); None = trimmed size plus margin
    trim: bool = True  # crop to the visible content before fitting
    defringe_px: float = 1.0  # shave the cut-out edge where background colour bleeds in

    def __post_init__(self) -> None:
        self.outline_px = _whole(self.outline_px, "outline width")
        self.margin = _whole(self.margin, "margin")
        if not 0 <= self.outline_px <= MAX_OUTLINE_PX:
            raise InputError(f"The outline width must be 0 to {MAX_OUTLINE_PX} pixels, not {self.outline_px}.")
        if not 0 <= self.margin <= MAX_MARGIN_PX:
            raise InputError(f"The margin must be 0 to {MAX_MARGIN_PX} pixels, not {self.margin}.")
        if not 0 <= float(self.defringe_px) <= 16:
            raise InputError(f"The defringe width must be 0 to 16 pixels, not {self.defringe_px}.")
        if self.size is not None:
            w, h = (_whole(v, "canvas side") for v in self.size)
            if not (1 <= w <= MAX_CANVAS_SIDE and 1 <= h <= MAX_CANVAS_SIDE):
                raise InputError(f"The canvas {w}x{h} is out of range (1 to {MAX_CANVAS_SIDE} pixels on each side).")
            self.size = (w, h)
            if w <= 2 * self.margin or h <= 2 * self.margin:
                raise InputError(f"The canvas {w}x{h} leaves no room inside a {self.margin} px margin.")
        self.outline_color = parse_color(self.outline_color)
        self.shadow_color = parse_color(self.shadow_color)


def _whole(value: object, what: str) -> int:
    """An integer pixel count (bools, NaN and fractions refused) -- checked before anything is allocated."""
    import numbers

    if isinstance(value, bool) or not isinstance(value, numbers.Real) or (
            not isinstance(value, numbers.Integral) and not float(value).is_integer()):
        raise InputError(f"The {what} must be a whole number of pixels, not {value!r}.")
    return int(value)


def parse_color(value: str | Sequence[int]) -> Color:
    """'white', '#ff0000' or an (r, g, b[, a]) tuple -> (r, g, b, a)."""
    if isinstance(value, str):
        try:
            rgb = ImageColor.getrgb(value)
        except ValueError:
            raise InputError(f"'{value}' is not a colour name or #rrggbb value.") from None
    else:
        rgb = tuple(int(v) for v in value)
    if len(rgb) == 3:
        rgb = (*rgb, 255)
    if len(rgb) != 4 or not all(0 <= v <= 255 for v in rgb):
        raise InputError(f"{value!r} is not a valid RGBA colour.")
    return rgb  # type: ignore[return-value]


def finish_sticker(
    image: Image.Image,
    settings: FinishSettings = FinishSettings(),
    *,
    mask: Image.Image | None = None,
    mask_method: str = "auto",
) -> Image.Image:
    """Turn an image into a finished RGBA sticker (see module docstring)."""
    image = image if image.mode == "RGBA" else image.convert("RGBA")
    if mask is None:
        mask = compute_mask(image, mask_method).mask
    elif mask.size != image.size:
        raise InputError(f"The mask is {mask.size[0]}x{mask.size[1]} but the image is "
                         f"{image.size[0]}x{image.size[1]}; they must match.")
    mask = mask.convert("L")
    if not np.asarray(mask).any():
        raise InputError("No subject was found in the image, so there is nothing to cut out.")

    pad = settings.outline_px + (_shadow_reach(settings) if settings.shadow else 0) + 2
    image = _pad(image, pad)
    mask = _pad(mask, pad)
    sticker = cut_out(image, mask, defringe_px=settings.defringe_px if settings.outline_px > 0 else 0.0)
    if settings.outline_px > 0:
        sticker = add_outline(sticker, mask, settings.outline_px, settings.outline_color)
    if settings.shadow:
        sticker = add_shadow(sticker, settings)
    if settings.trim:
        sticker = trim(sticker)
    else:  # keep the original framing
        sticker = sticker.crop((pad, pad, pad + image.width - 2 * pad, pad + image.height - 2 * pad))
    if settings.size is not None:
        return fit_on_canvas(sticker, settings.size, settings.margin)
    return _pad(sticker, settings.margin)


def cut_out(image: Image.Image, mask: Image.Image, *, defringe_px: float = 1.0) -> Image.Image:
    """Subject pixels with alpha = min(own alpha, mask); the rim shaved by `defringe_px`.

    The outermost pixel ring of an opaque image mixes subject and background
    colours; under an outline it is safer to drop it (the outline covers it).
    """
    m = mask
    if defringe_px > 0:
        m = m.filter(ImageFilter.MinFilter(3)).filter(ImageFilter.GaussianBlur(0.7 * defringe_px))
    out = image.copy()
    alpha = np.minimum(np.asarray(image.getchannel("A")), np.asarray(m))
    out.putalpha(Image.fromarray(alpha.astype(np.uint8)))
    return out


def add_outline(sticker: Image.Image, mask: Image.Image, width: int, color: Color) -> Image.Image:
    """Die-cut border: every pixel within `width` of the subject, holes filled, anti-aliased."""
    subject = np.asarray(mask) >= 128
    dist = mm.distance_outside(subject, width + 1)
    band = np.clip(width + 0.5 - dist, 0.0, 1.0)
    solid = mm.fill_holes(band > 0)  # a sticker border has no holes (gaps between limbs close)
    band = np.where(solid & (dist > width + 0.5), 1.0, band)
    band = np.maximum(band, (np.asarray(mask) / 255.0))
    under = Image.new("RGBA", sticker.size, color[:3] + (0,))
    under.putalpha(Image.fromarray((band * color[3]).round().astype(np.uint8)))
    return Image.alpha_composite(under, sticker)


def _shadow_reach(settings: FinishSettings) -> int:
    return 3 * _shadow_blur(settings) + _shadow_offset(settings)


def _shadow_blur(settings: FinishSettings) -> int:
    return max(2, settings.outline_px // 2 + 2)


def _shadow_offset(settings: FinishSettings) -> int:
    return max(2, settings.outline_px // 2)


def add_shadow(sticker: Image.Image, settings: FinishSettings) -> Image.Image:
    """Soft drop shadow: the sticker's silhouette, offset down-right and blurred."""
    alpha = sticker.getchannel("A")
    off = _shadow_offset(settings)
    shifted = Image.new("L", sticker.size, 0)
    shifted.paste(alpha, (off, off))
    blurred = shifted.filter(ImageFilter.GaussianBlur(_shadow_blur(settings)))
    color = settings.shadow_color
    shadow = Image.new("RGBA", sticker.size, color[:3] + (0,))
    shadow.putalpha(blurred.point(lambda v: v * color[3] // 255))
    return Image.alpha_composite(shadow, sticker)


def trim(image: Image.Image, *, threshold: int = 2) -> Image.Image:
    """Crop to the pixels whose alpha exceeds `threshold` (a faint blur tail is not content)."""
    box = image.getchannel("A").point(lambda v: 255 if v > threshold else 0).getbbox()
    if box is None:
        raise InputError("The sticker is fully transparent after finishing; nothing to trim to.")
    return image.crop(box)


def fit_on_canvas(image: Image.Image, size: tuple[int, int], margin: int = 0, *,
                  upscale: bool = True) -> Image.Image:
    """Scale `image` to fit inside `size` less `margin` on each side, aspect kept, centred."""
    cw, ch = int(size[0]), int(size[1])
    if not (1 <= cw <= MAX_CANVAS_SIDE and 1 <= ch <= MAX_CANVAS_SIDE) or not 0 <= margin <= MAX_MARGIN_PX:
        raise InputError(f"The canvas {cw}x{ch} with a {margin} px margin is out of range "
                         f"(sides 1 to {MAX_CANVAS_SIDE}, margin 0 to {MAX_MARGIN_PX}).")
    if cw <= 2 * margin or ch <= 2 * margin:
        raise InputError(f"The canvas {cw}x{ch} leaves no room inside a {margin} px margin.")
    image = image if image.mode == "RGBA" else image.convert("RGBA")
    w, h = image.size
    scale = min((cw - 2 * margin) / w, (ch - 2 * margin) / h)
    if not upscale:
        scale = min(scale, 1.0)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    if (nw, nh) != (w, h):
        image = resize_rgba(image, (nw, nh))
    canvas = Image.new("RGBA", (cw, ch), (0, 0, 0, 0))
    canvas.paste(image, ((cw - nw) // 2, (ch - nh) // 2))
    return canvas


def resize_rgba(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Lanczos resize in premultiplied alpha (no dark halos from transparent pixels)."""
    return image.convert("RGBa").resize(size, Image.LANCZOS).convert("RGBA")


def _pad(image: Image.Image, pad: int) -> Image.Image:
    if pad <= 0:
        return image
    fill = 0 if image.mode == "L" else (0, 0, 0, 0)
    out = Image.new(image.mode, (image.width + 2 * pad, image.height + 2 * pad), fill)
    out.paste(image, (pad, pad))
    return out


__all__ = ["FinishSettings", "finish_sticker", "fit_on_canvas", "cut_out", "add_outline", "add_shadow", "trim",
           "resize_rgba", "parse_color"]
