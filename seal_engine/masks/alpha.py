"""Mask from the alpha channel, when the image already carries one that means something."""

from __future__ import annotations

import numpy as np
from PIL import Image

#: Fewer than this fraction of clearly transparent (or opaque) pixels: alpha says nothing.
MEANINGFUL_FRACTION = 0.005


def alpha_is_meaningful(image: Image.Image) -> bool:
    """True when the alpha channel is neither (almost) fully opaque nor (almost) empty."""
    if image.mode != "RGBA":
        return False
    alpha = np.asarray(image.getchannel("A"))
    transparent = float((alpha < 128).mean())
    return MEANINGFUL_FRACTION <= transparent <= 1.0 - MEANINGFUL_FRACTION


def alpha_mask(image: Image.Image) -> Image.Image:
    """The alpha channel itself ("L", soft edges kept: they are real coverage)."""
    if image.mode != "RGBA":
        return Image.new("L", image.size, 255)
    return image.getchannel("A").copy()
