"""Identity preservation: does the generated sticker show the reference character?

Definition. For a generated image g with subject mask m_g and the reference r
with subject mask m_r:

    identity(g) = cos( E(crop(g, m_g)), E(crop(r, m_r)) )

where E is a CLIP image encoder (configurable; default ViT-B/32 as in
DreamBench's CLIP-I) and crop() keeps the subject only: background pixels become
neutral grey and the image is cropped to the mask's bounding box and padded
square (`regions.subject_crop`). Cosine of L2-normalised embeddings, so in
[-1, 1]; an image identical to the reference scores 1.0. The bench reports the
mean over samples with a bootstrap CI.

Why subject-only: SEAL's claim is that the baseline entangles the background
with the character. A whole-image CLIP-I would reward a leaked background as
"identity"; masking removes that reward, so identity and leakage measure
different things.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
from PIL import Image

from .clip_models import ClipBundle
from .regions import subject_crop, subject_mask


def reference_embedding(clip: ClipBundle, reference: Image.Image, mask: Image.Image) -> np.ndarray:
    """(D,) embedding of the reference's subject crop."""
    return clip.image_embeddings([subject_crop(reference, mask)])[0]


def identity_scores(
    clip: ClipBundle,
    reference: Image.Image,
    reference_mask: Image.Image,
    images: Sequence[Image.Image],
    masks: Optional[Sequence[Optional[Image.Image]]] = None,
) -> list[float]:
    """Per-image identity (cosine) against the reference; a missing mask is computed with `compute_mask`."""
    ref = reference_embedding(clip, reference, reference_mask)
    masks = list(masks) if masks is not None else [None] * len(images)
    crops = [subject_crop(im, m if m is not None else subject_mask(im)) for im, m in zip(images, masks)]
    emb = clip.image_embeddings(crops)
    return [float(np.clip(e @ ref, -1.0, 1.0)) for e in emb]
