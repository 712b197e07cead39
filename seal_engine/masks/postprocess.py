"""Mask clean-up shared by every method: keep the subject, fill holes, grow a little.

Segmenters leave specks (noise, a stray scene fragment) and pin-holes (a white
eye on a white page); a sticker wants one solid silhouette.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from . import morphology as mm

#: Components smaller than this fraction of the largest one are dropped as specks.
MIN_COMPONENT_FRACTION = 0.02


def postprocess(
    mask: Image.Image,
    *,
    fill_holes: bool = True,
    keep_fraction: float = MIN_COMPONENT_FRACTION,
    dilate_px: int = 0,
) -> Image.Image:
    """Binary "L" mask (0/255): subject components kept, holes filled, optionally dilated."""
    subject = np.asarray(mask.convert("L")) >= 128
    subject = keep_subject_components(subject, keep_fraction)
    if fill_holes:
        subject = mm.fill_holes(subject)
    if dilate_px > 0:
        subject = mm.dilate(subject, dilate_px)
    return Image.fromarray(subject.astype(np.uint8) * 255)


def keep_subject_components(subject: np.ndarray, keep_fraction: float = MIN_COMPONENT_FRACTION) -> np.ndarray:
    """The largest component and every other one at least `keep_fraction` of its size."""
    labels, n = mm.label(subject)
    if n <= 1:
        return subject.copy()
    areas = np.bincount(labels.ravel(), minlength=n + 1)
    areas[0] = 0
    keep = areas >= max(1.0, keep_fraction * areas.max())
    keep[0] = False
    return keep[labels]
