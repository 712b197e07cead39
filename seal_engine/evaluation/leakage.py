"""Background leakage: does the reference's background come back when another background was asked for?

Definition. Only samples whose prompt requests a background different from the
reference's own background tag are scored. For such a sample g, with subject
masks m_g and m_r:

    bg(x, m)      = pixels of x outside m dilated by MARGIN (2 % of the side), at 128 x 128
    h(x, m)       = colour histogram of bg(x, m): 8 bins per RGB channel (512 bins), soft
                    (trilinear) binning, normalised to sum 1
    similarity(g) = sum_k min(h(g, m_g)[k], h(r, m_r)[k])     (histogram intersection, in [0, 1])
    leaked(g)     = similarity(g) >= THRESHOLD (0.35)

leakage = share of scored samples that leaked (bootstrap CI in the bench). A
sample whose background covers less than MIN_BACKGROUND (5 %) of the image has
no background to judge and is not scored. A transparent reference is judged on
white, the colour the app flattens it onto before personalizing.

Why colour histograms. Leakage in single-image fine-tuning is the reference's
backdrop (its colours, its scenery) being reproduced wholesale; a colour
distribution catches that without a model, is independent of where the subject
stands (a different pose still exposes the same backdrop), and cannot be fooled
by the subject since the subject is masked out. Soft binning keeps a background
that drifts by a few colour units from falling across a bin edge. Intersection
(Swain & Ballard 1991) reads as "the share of the background's colour mass
shared with the reference background".

Why 0.35. Calibrated on ../shared/fixtures/stickers (24 characters x 4 opaque
backgrounds; `benchmarks/evaluation_thresholds.py` reprints it): the same
background under JPEG q40, noise sigma 8, blur, or behind a different
(flipped, rotated) subject scores 0.84-1.00; a uniform colour drift of +12
scores 0.36-1.00 (median 0.50); two unrelated backgrounds score 0.00 at the median, 0.23 at
the 99th percentile and 0.47 at most (0.1 % of 4284 pairs reach 0.35). 0.35
therefore counts every reproduced backdrop, including mildly re-coloured ones,
and almost never an unrelated one. Its blind spot: a requested background whose
colours match the reference's (a white reference, a "snow" prompt) -- tag such
prompts with the reference's background so they are not scored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
from PIL import Image, ImageFilter

from .regions import binary, flatten

THRESHOLD = 0.35
BINS = 8
SIDE = 128
MARGIN = 0.02
MIN_BACKGROUND = 0.05


@dataclass
class LeakageResult:
    similarity: Optional[float]  # None: no background to judge
    leaked: Optional[bool]
    background_fraction: float


def background_histogram(image: Image.Image, mask: Image.Image) -> tuple[Optional[np.ndarray], float]:
    """Soft colour histogram (512,) of the background region, or None when it is under MIN_BACKGROUND."""
    rgb = np.asarray(flatten(image).resize((SIDE, SIDE), Image.BOX))
    radius = max(1, int(round(MARGIN * SIDE)))
    grown = mask.convert("L").resize((SIDE, SIDE), Image.NEAREST).filter(ImageFilter.MaxFilter(2 * radius + 1))
    background = ~binary(grown)
    fraction = float(background.mean())
    if fraction < MIN_BACKGROUND:
        return None, fraction
    return soft_histogram(rgb[background]), fraction


def soft_histogram(pixels: np.ndarray, bins: int = BINS) -> np.ndarray:
    """Trilinear soft histogram of (N, 3) uint8 colours, normalised to sum 1.

    Hand-written because numpy's histogramdd has no soft binning; each pixel's
    unit mass is split among the 8 nearest bin centres.
    """
    x = pixels.astype(np.float64) / 256.0 * bins - 0.5
    lo = np.floor(x).astype(np.int64)
    frac = x - lo
    hist = np.zeros(bins ** 3, dtype=np.float64)
    for corner in np.ndindex(2, 2, 2):
        offset = np.array(corner)
        weight = np.prod(np.where(offset == 1, frac, 1.0 - frac), axis=1)
        idx = np.clip(lo + offset, 0, bins - 1)
        np.add.at(hist, (idx[:, 0] * bins + idx[:, 1]) * bins + idx[:, 2], weight)
    return hist / max(hist.sum(), 1e-12)


def intersection(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.minimum(a, b).sum())


def leakage(reference: Image.Image, reference_mask: Image.Image, image: Image.Image, mask: Image.Image,
            *, threshold: float = THRESHOLD) -> LeakageResult:
    """Score one sample (the caller decides whether its prompt asked for another background)."""
    ref_hist, _ = background_histogram(reference, reference_mask)
    hist, fraction = background_histogram(image, mask)
    if ref_hist is None or hist is None:
        return LeakageResult(None, None, fraction)
    sim = intersection(ref_hist, hist)
    return LeakageResult(round(sim, 6), sim >= threshold, round(fraction, 6))


def asks_other_background(requested: Optional[str], reference_background: Optional[str]) -> bool:
    """A sample is scored when it requests a background and that background is not the reference's."""
    if not requested or not requested.strip():
        return False
    return _norm(requested) != _norm(reference_background or "")


def _norm(text: str) -> str:
    return " ".join(text.lower().replace("background", "").split())
