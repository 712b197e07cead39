"""Segment-anything masks (optional extra `sam`), prompted automatically.

No clicks: the built-in fallback gives a rough subject; its bounding box and
its deepest interior point become SAM prompts. SAM answers each prompt with
three masks and a predicted-IoU score; the best-scoring *plausible* mask wins
(not empty, not the whole frame, not glued to the image border).
`segment_anything` and torch are imported only when a checkpoint is used.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from PIL import Image

from ..errors import InputError, ModelError
from . import morphology as mm


class Predictor(Protocol):
    """The part of `segment_anything.SamPredictor` we use (a fake in tests)."""

    def set_image(self, image: np.ndarray) -> None: ...

    def predict(self, *, point_coords: Any, point_labels: Any, box: Any,
                multimask_output: bool) -> tuple[np.ndarray, np.ndarray, Any]: ...


@dataclass(frozen=True)
class Prompt:
    points: np.ndarray | None  # (N, 2) x, y
    labels: np.ndarray | None  # (N,) 1 = subject
    box: np.ndarray | None  # (4,) x0, y0, x1, y1
    name: str


@dataclass(frozen=True)
class Candidate:
    mask: np.ndarray  # bool (H, W)
    score: float
    prompt: str


def make_prompts(hint: np.ndarray) -> list[Prompt]:
    """Box, point and box+point prompts derived from a rough subject mask."""
    h, w = hint.shape
    if hint.any():
        ys, xs = np.nonzero(hint)
        pad_x, pad_y = 0.02 * w, 0.02 * h
        box = np.array([max(0, xs.min() - pad_x), max(0, ys.min() - pad_y),
                        min(w - 1, xs.max() + pad_x), min(h - 1, ys.max() + pad_y)], dtype=np.float32)
        depth = mm.distance_outside(~hint, 64)
        depth[~hint] = 0
        y, x = np.unravel_index(int(np.argmax(depth)), depth.shape)
    else:
        box = np.array([0.05 * w, 0.05 * h, 0.95 * w, 0.95 * h], dtype=np.float32)
        y, x = h // 2, w // 2
    point = np.array([[x, y]], dtype=np.float32)
    one = np.array([1])
    return [
        Prompt(point, one, box, "box+point"),
        Prompt(None, None, box, "box"),
        Prompt(point, one, None, "point"),
    ]


def is_plausible(mask: np.ndarray) -> bool:
    """Not a speck, not the whole frame, not mostly along the image border."""
    area = float(mask.mean())
    if not 0.002 <= area <= 0.95:
        return False
    border = np.concatenate([mask[0], mask[-1], mask[:, 0], mask[:, -1]])
    return float(border.mean()) < 0.5


def select_best(candidates: list[Candidate]) -> Candidate:
    """Highest score among plausible masks (or among all when none is plausible)."""
    if not candidates:
        raise ModelError("Segment-anything returned no mask for this image.")
    plausible = [c for c in candidates if is_plausible(c.mask)]
    return max(plausible or candidates, key=lambda c: c.score)


def sam_mask(image: Image.Image, hint: np.ndarray, *, predictor: Predictor) -> tuple[Image.Image, str]:
    """Run every prompt through `predictor` and keep the best mask."""
    rgb = np.asarray(image.convert("RGB"))
    predictor.set_image(rgb)
    candidates: list[Candidate] = []
    for prompt in make_prompts(hint):
        masks, scores, _ = predictor.predict(point_coords=prompt.points, point_labels=prompt.labels,
                                             box=prompt.box, multimask_output=True)
        for m, s in zip(np.asarray(masks), np.asarray(scores)):
            candidates.append(Candidate(np.asarray(m, dtype=bool), float(s), prompt.name))
    best = select_best(candidates)
    out = Image.fromarray(best.mask.astype(np.uint8) * 255)
    return out, f"sam ({best.prompt} prompt, score {best.score:.2f})"


def model_type_for(checkpoint: Path) -> str:
    """vit_h / vit_l / vit_b, read from the official checkpoint file names."""
    name = checkpoint.name.lower()
    for kind in ("vit_h", "vit_l", "vit_b"):
        if kind in name:
            return kind
    raise InputError(
        f"Cannot tell the segment-anything model size from '{checkpoint.name}'; "
        "keep 'vit_h', 'vit_l' or 'vit_b' in the file name."
    )


@functools.lru_cache(maxsize=2)
def load_predictor(checkpoint: Path) -> Predictor:
    """Build SamPredictor from a local checkpoint (weights only: no pickled code runs)."""
    checkpoint = Path(checkpoint)
    if not checkpoint.is_file():
        raise InputError(f"Segment-anything checkpoint {checkpoint} does not exist.")
    kind = model_type_for(checkpoint)
    try:
        import torch
        from segment_anything import SamPredictor, sam_model_registry
    except ImportError:
        raise ModelError(
            "Segment-anything is not installed; run `pip install seal-sticker-studio[sam]` "
            "or use --method fallback."
        ) from None
    model = sam_model_registry[kind](checkpoint=None)
    try:
        if checkpoint.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(checkpoint))
        else:
            state = torch.load(str(checkpoint), map_location="cpu", weights_only=True)
        model.load_state_dict(state)
    except Exception as err:  # a wrong or damaged file is the user's to fix
        raise ModelError(f"Cannot load segment-anything checkpoint {checkpoint.name}: {err}") from None
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model.to(device).eval()
    return SamPredictor(model)
