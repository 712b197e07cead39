"""Binary-mask primitives: flood fill, components, holes, distance, dilation.

Thin wrappers over `scipy.ndimage` (C implementations, a few ms on 512x512):
masks and finishing call these names, so the library underneath is one import
away. Connectivity is 4 (the cross structuring element, scipy's default), which
keeps diagonal gaps between a character's outline and the background open.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

Mask = np.ndarray  # bool, shape (H, W)


def reconstruct(seeds: Mask, open_: Mask) -> Mask:
    """Pixels of `open_` 4-connected to a seed (geodesic reconstruction / flood fill)."""
    open_ = np.asarray(open_, dtype=bool)
    return ndimage.binary_propagation(np.asarray(seeds, dtype=bool) & open_, mask=open_)


def border_seeds(shape: tuple[int, int]) -> Mask:
    seeds = np.zeros(shape, dtype=bool)
    seeds[0, :] = seeds[-1, :] = True
    seeds[:, 0] = seeds[:, -1] = True
    return seeds


def fill_holes(mask: Mask) -> Mask:
    """Mask plus every region of background not connected to the image border."""
    return ndimage.binary_fill_holes(np.asarray(mask, dtype=bool))


def label(mask: Mask) -> tuple[np.ndarray, int]:
    """4-connected components: (labels 0..n with 0 = background, n)."""
    labels, n = ndimage.label(np.asarray(mask, dtype=bool))
    return labels.astype(np.int32, copy=False), int(n)


def distance_outside(mask: Mask, limit: int) -> np.ndarray:
    """Euclidean distance from each pixel to the nearest pixel of `mask`, capped at `limit + 1`."""
    mask = np.asarray(mask, dtype=bool)
    far = np.float32(limit + 1)
    if not mask.any():
        return np.full(mask.shape, far, dtype=np.float32)
    return np.minimum(ndimage.distance_transform_edt(~mask), far).astype(np.float32)


def dilate(mask: Mask, radius: float) -> Mask:
    """Round dilation by `radius` pixels."""
    if radius <= 0:
        return np.array(mask, dtype=bool)
    return distance_outside(mask, int(np.ceil(radius))) <= radius


def erode(mask: Mask, radius: float) -> Mask:
    if radius <= 0:
        return np.array(mask, dtype=bool)
    return ~dilate(~np.asarray(mask, dtype=bool), radius)


def remove_small(mask: Mask, min_area: int) -> Mask:
    labels, n = label(mask)
    if n == 0:
        return np.array(mask, dtype=bool)
    areas = np.bincount(labels.ravel(), minlength=n + 1)
    keep = areas >= min_area
    keep[0] = False
    return keep[labels]
