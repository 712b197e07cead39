"""Subject and background regions of an image, shared by the four metrics.

Every metric looks at one region: identity at the subject, leakage at the
background, rigidity at the subject's silhouette. Masks are "L" images with
255 = subject; generated images get theirs from `seal_engine.masks.compute_mask`
(the same masking the app uses for finishing), references from the dataset's
mask file when it has one.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
from PIL import Image

NEUTRAL_FILL = (127, 127, 127)
"""What replaces the background in a subject crop: mid-grey carries no colour and
no edge, so CLIP sees the subject's own colours and outline only."""


def flatten(image: Image.Image, colour: tuple[int, int, int] = (255, 255, 255)) -> Image.Image:
    """RGB; a transparent area becomes `colour` (white: what a sticker sits on)."""
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        base = Image.new("RGB", rgba.size, colour)
        base.paste(rgba, mask=rgba.getchannel("A"))
        return base
    return image.convert("RGB")


def binary(mask: Image.Image, size: Optional[tuple[int, int]] = None) -> np.ndarray:
    """A bool array (True = subject), resized to `size` (w, h) with nearest-neighbour when given."""
    m = mask.convert("L")
    if size is not None and m.size != tuple(size):
        m = m.resize(tuple(size), Image.NEAREST)
    return np.asarray(m) >= 128


def subject_mask(image: Image.Image) -> Image.Image:
    """The subject mask the app would compute for this image ("L", 255 = subject)."""
    from ..masks import compute_mask

    return compute_mask(image, method="auto").mask.convert("L")


def subject_crop(image: Image.Image, mask: Image.Image, *, fill: tuple[int, int, int] = NEUTRAL_FILL,
                 pad: float = 0.05) -> Image.Image:
    """The subject alone: background replaced by `fill`, cropped to the mask's box (plus `pad`), made square.

    Cropping to the box makes identity independent of where and how big the
    subject is drawn (that is rigidity's business, not identity's). An empty mask
    keeps the whole image: the sample is scored as drawn rather than dropped.
    """
    rgb = flatten(image)
    subject = binary(mask, rgb.size)
    if not subject.any():
        return _square(rgb, fill)
    arr = np.asarray(rgb).copy()
    arr[~subject] = fill
    ys, xs = np.nonzero(subject)
    h, w = subject.shape
    margin = int(round(pad * max(xs.max() - xs.min() + 1, ys.max() - ys.min() + 1)))
    box = (max(0, xs.min() - margin), max(0, ys.min() - margin),
           min(w, xs.max() + 1 + margin), min(h, ys.max() + 1 + margin))
    return _square(Image.fromarray(arr).crop(box), fill)


def _square(image: Image.Image, fill: tuple[int, int, int]) -> Image.Image:
    w, h = image.size
    side = max(w, h)
    canvas = Image.new("RGB", (side, side), fill)
    canvas.paste(image, ((side - w) // 2, (side - h) // 2))
    return canvas
