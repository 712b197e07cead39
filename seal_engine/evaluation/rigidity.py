"""Structural rigidity: does the reference's pose and framing come back when another was asked for?

Definition. Only samples whose prompt requests an action (pose) or a camera
framing different from the reference's own tag for it are scored (a requested
value with no reference tag counts as different). For such a sample g with
subject mask m_g and the reference mask m_r, both resized to 64 x 64 (nearest):

    iou(g)   = |m_g AND m_r| / |m_g OR m_r|
    rigid(g) = iou(g) >= THRESHOLD (0.7)

rigidity = share of scored samples that are rigid (bootstrap CI in the bench).
Two empty masks have IoU 0 (nothing was drawn; that is no copied layout).

Why mask IoU: a memorised pose shows as the same silhouette in the same place
at the same size, which is exactly what IoU of the masks measures, with no
model; the masks are the ones the app computes for finishing.

Why 0.7. Calibrated on the 24 ground-truth masks of ../shared/fixtures/stickers
(`benchmarks/evaluation_thresholds.py` reprints it): the same silhouette shifted
by 5 % of the side, scaled by 0.9 or rotated 10 degrees has a median IoU of
0.70-0.77 (a copied layout, slightly redrawn); shifted by 10 % or scaled by 0.8
it drops to 0.53-0.59 (a new framing); two different characters' silhouettes,
both centred as stickers are, have a median IoU of 0.26 and reach 0.7 in 2.9 %
of pairs. So 0.7 counts a reproduced layout and rarely an unrelated one; the
residual rate for round, centred subjects is a floor to keep in mind when
reading small differences.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional

import numpy as np
from PIL import Image

from .regions import binary

THRESHOLD = 0.7
SIDE = 64
POSE_ATTRIBUTES = ("action", "camera")


@dataclass
class RigidityResult:
    iou: float
    rigid: bool


def mask_iou(a: Image.Image, b: Image.Image, side: int = SIDE) -> float:
    ma, mb = binary(a, (side, side)), binary(b, (side, side))
    union = np.logical_or(ma, mb).sum()
    return float(np.logical_and(ma, mb).sum() / union) if union else 0.0


def rigidity(reference_mask: Image.Image, mask: Image.Image, *, threshold: float = THRESHOLD) -> RigidityResult:
    """Score one sample (the caller decides whether its prompt asked for another pose or framing)."""
    iou = mask_iou(reference_mask, mask)
    return RigidityResult(round(iou, 6), iou >= threshold)


def asks_other_pose(requested: Mapping[str, str], reference_tags: Mapping[str, str]) -> bool:
    """True when the prompt requests an action or camera value other than the reference's."""
    for attr in POSE_ATTRIBUTES:
        value = _norm(requested.get(attr))
        if value and value != _norm(reference_tags.get(attr)):
            return True
    return False


def _norm(text: Optional[str]) -> str:
    return " ".join((text or "").lower().split())
