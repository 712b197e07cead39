"""Subject masks: which pixels are the character (255) and which are background (0).

Methods, each a module: `alpha` (the image's own transparency), `sam`
(segment-anything, optional), `fallback` (no weights, plain and busy
backgrounds); `postprocess` cleans any of them. `compute_mask` is the one entry
point; `auto` picks alpha when it means something, else SAM when a checkpoint is
configured (argument or SEAL_SAM_CHECKPOINT), else the fallback, and says which.
"""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import InputError
from . import morphology as mm
from .alpha import alpha_is_meaningful, alpha_mask
from .fallback import fallback_mask
from .postprocess import keep_subject_components, postprocess

SAM_CHECKPOINT_ENV = "SEAL_SAM_CHECKPOINT"


class MaskMethod(str, enum.Enum):
    AUTO = "auto"
    ALPHA = "alpha"
    SAM = "sam"
    FALLBACK = "fallback"


METHODS = tuple(m.value for m in MaskMethod)


@dataclass
class MaskResult:
    mask: Image.Image  # "L", same size as the image, 255 = subject
    method: str  # the method actually used: alpha, sam or fallback
    note: str  # one human line: why this method, what it saw


def configured_sam_checkpoint(explicit: Path | str | None = None) -> Path | None:
    value = explicit or os.environ.get(SAM_CHECKPOINT_ENV) or None
    return Path(value) if value else None


def compute_mask(
    image: Image.Image,
    method: str = "auto",
    *,
    sam_checkpoint: Path | None = None,
    dilate_px: int = 0,
    sam_predictor: object | None = None,
) -> MaskResult:
    """Subject mask of an RGBA image (`sam_predictor` lets tests inject a fake SAM)."""
    try:
        chosen = MaskMethod(str(method).lower())
    except ValueError:
        raise InputError(f"Unknown mask method '{method}'; choose one of {', '.join(METHODS)}.") from None
    if dilate_px < 0:
        raise InputError("The mask dilation must be 0 or more pixels.")
    image = image if image.mode == "RGBA" else image.convert("RGBA")
    checkpoint = configured_sam_checkpoint(sam_checkpoint)

    if chosen is MaskMethod.AUTO:
        if alpha_is_meaningful(image):
            chosen, why = MaskMethod.ALPHA, "auto: the image has a meaningful alpha channel"
        elif checkpoint is not None or sam_predictor is not None:
            chosen, why = MaskMethod.SAM, "auto: a segment-anything checkpoint is configured"
        else:
            chosen, why = MaskMethod.FALLBACK, "auto: opaque image and no segment-anything checkpoint"
    else:
        why = f"{chosen.value} requested"

    if chosen is MaskMethod.ALPHA:
        if not alpha_is_meaningful(image):
            raise InputError("The image has no meaningful transparency (it is fully opaque or empty); "
                             "use --method auto or fallback.")
        mask = _clean_alpha(alpha_mask(image), dilate_px)
        return MaskResult(mask, "alpha", f"{why}; alpha channel used as the mask")

    if chosen is MaskMethod.SAM:
        from .sam import load_predictor, sam_mask

        if sam_predictor is None:
            if checkpoint is None:
                raise InputError("The sam method needs a checkpoint: pass --sam-checkpoint PATH "
                                 f"or set {SAM_CHECKPOINT_ENV}.")
            sam_predictor = load_predictor(checkpoint)
        hint, _ = fallback_mask(image)
        raw, note = sam_mask(image, np.asarray(hint) >= 128, predictor=sam_predictor)  # type: ignore[arg-type]
        return MaskResult(postprocess(raw, dilate_px=dilate_px), "sam", f"{why}; {note}")

    raw, note = fallback_mask(image)  # holes it left are deliberate see-through gaps
    return MaskResult(postprocess(raw, fill_holes=False, dilate_px=dilate_px), "fallback", f"{why}; {note}")


def _clean_alpha(alpha: Image.Image, dilate_px: int) -> Image.Image:
    """Drop stray specks but keep the soft edges and real holes of an alpha mask."""
    arr = np.asarray(alpha)
    keep = keep_subject_components(arr >= 128)
    near = mm.dilate(keep, 2)
    out = np.where(near, arr, 0).astype(np.uint8)
    if dilate_px > 0:
        out = np.maximum(out, mm.dilate(out >= 128, dilate_px).astype(np.uint8) * 255)
    return Image.fromarray(out)


__all__ = ["MaskResult", "MaskMethod", "METHODS", "compute_mask", "postprocess", "alpha_is_meaningful",
           "SAM_CHECKPOINT_ENV"]
