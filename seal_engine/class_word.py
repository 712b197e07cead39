"""Choosing the class word ("cat", "robot", ...) that initialises the identity tokens.

A good class word gives textual inversion a sensible starting point and keeps
prompts grammatical ("a sticker of <id> cat"). When the user gives none, a
zero-shot CLIP classifier picks one from a short list of sticker subjects, if
a CLIP model is configured and present locally (`SEAL_CLIP_MODEL`, a hub id
already in the cache or a folder); we never download one for this. Otherwise
the generic "character" is used. The choice and how it was made are recorded.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Optional, Sequence

GENERIC_WORD = "character"
CANDIDATES: tuple[str, ...] = (
    "cat", "dog", "bear", "rabbit", "fox", "bird", "frog", "mouse", "panda", "penguin", "duck", "pig",
    "monkey", "dinosaur", "dragon", "unicorn", "fish", "person", "girl", "boy", "robot", "monster",
    "ghost", "alien", "blob", "food", "plant", "car",
)


@dataclass(frozen=True)
class ClassWordChoice:
    word: str
    source: str  # "user", "clip:<model>" or "default"
    score: Optional[float] = None


def _clip_spec(explicit: Optional[str]) -> Optional[str]:
    return explicit or os.environ.get("SEAL_CLIP_MODEL") or None


def choose_class_word(reference: Any, mask: Any = None, *, given: Optional[str] = None,
                      clip_model: Optional[str] = None,
                      candidates: Sequence[str] = CANDIDATES) -> ClassWordChoice:
    if given and given.strip():
        return ClassWordChoice(given.strip(), "user")
    spec = _clip_spec(clip_model)
    if spec:
        try:
            return _zero_shot(reference, mask, spec, candidates)
        except Exception:  # not available locally, wrong kind of model...: fall back, recorded below
            pass
    return ClassWordChoice(GENERIC_WORD, "default")


def _zero_shot(reference: Any, mask: Any, spec: str, candidates: Sequence[str]) -> ClassWordChoice:
    import torch
    from transformers import CLIPModel, CLIPProcessor

    from .augment import flatten

    model = CLIPModel.from_pretrained(spec, local_files_only=True)
    processor = CLIPProcessor.from_pretrained(spec, local_files_only=True)
    image = reference.convert("RGBA")
    if mask is not None:  # classify the subject only, on white
        image = image.copy()
        alpha = image.getchannel("A")
        from PIL import ImageChops

        image.putalpha(ImageChops.multiply(alpha, mask.convert("L").resize(image.size)))
    rgb = flatten(image, (255, 255, 255))
    texts = [f"a sticker of a {word}" for word in candidates]
    with torch.no_grad():
        inputs = processor(text=texts, images=rgb, return_tensors="pt", padding=True)
        probs = model(**inputs).logits_per_image.softmax(-1)[0]
    best = int(probs.argmax())
    return ClassWordChoice(candidates[best], f"clip:{spec}", float(probs[best]))
