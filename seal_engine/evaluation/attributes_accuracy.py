"""Attribute accuracy: does the generated sticker show the attribute values it was prompted with?

Definition. For each generated image and each attribute a in the six
(appearance, emotion, action, camera, style, background) that its prompt
requested with value v, CLIP classifies the image zero-shot among a's label set
L_a (every value of a the dataset uses, or the set the dataset declares):

    predicted = argmax_{l in L_a} cos( E_img(image), E_txt(template.format(value=l)) )
    correct   = [predicted == v]

accuracy(a) = mean of `correct` over the samples that requested a, and the
summary is the mean of accuracy(a) over the attributes that could be scored
(at most six). An attribute whose label set has a single value cannot be
classified (chance would be 100 %) and is left out, and said so. The whole image
is classified (background and camera framing are properties of the whole image).

Why a template around the label: CLIP's zero-shot accuracy is higher for
sentence-like prompts ("a photo of a ...", Radford et al. 2021); ours mirrors
the app's own prompt shape (`attributes.compose_prompt`), so the text the
classifier compares against is the text the generator was given, minus the identity.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Optional, Sequence

import numpy as np
from PIL import Image

from ..attributes import ATTRIBUTES
from .clip_models import ClipBundle
from .regions import flatten

DEFAULT_TEMPLATE = "a sticker of a character, {value}"


@dataclass
class AttributePrediction:
    attribute: str
    requested: str
    predicted: str
    correct: bool
    scores: dict[str, float] = field(default_factory=dict)  # cosine per label


def label_sets(requested: Sequence[Mapping[str, str]], declared: Optional[Mapping[str, Sequence[str]]] = None
               ) -> dict[str, list[str]]:
    """Each attribute's label set: the declared one extended by every value requested (sorted, de-duplicated)."""
    sets: dict[str, set[str]] = {a: set((declared or {}).get(a, ())) for a in ATTRIBUTES}
    for attrs in requested:
        for a, v in attrs.items():
            if a in sets and v.strip():
                sets[a].add(v.strip())
    return {a: sorted(vals) for a, vals in sets.items() if vals}


def classify(
    clip: ClipBundle,
    images: Sequence[Image.Image],
    requested: Sequence[Mapping[str, str]],
    labels: Mapping[str, Sequence[str]],
    *,
    template: str = DEFAULT_TEMPLATE,
) -> list[list[AttributePrediction]]:
    """Per image, one prediction for each requested attribute that has at least two labels."""
    img = clip.image_embeddings([flatten(im) for im in images])
    text = {a: clip.text_embeddings([template.format(value=v) for v in vals]) for a, vals in labels.items()
            if len(vals) >= 2}
    out: list[list[AttributePrediction]] = []
    for emb, attrs in zip(img, requested):
        row = []
        for a in ATTRIBUTES:
            v = attrs.get(a, "").strip()
            if not v or a not in text:
                continue
            sims = text[a] @ emb
            best = labels[a][int(np.argmax(sims))]
            row.append(AttributePrediction(a, v, best, best == v,
                                           {lab: round(float(s), 6) for lab, s in zip(labels[a], sims)}))
        out.append(row)
    return out


@dataclass
class AttributeAccuracy:
    per_attribute: dict[str, float]  # attribute -> accuracy over samples that requested it
    counts: dict[str, int]  # attribute -> number of scored samples
    chance: dict[str, float]  # attribute -> 1 / |label set|
    mean: Optional[float]  # mean over the scored attributes (None when none could be scored)
    skipped: list[str]  # attributes never requested or with a single label


def summarize(predictions: Sequence[Sequence[AttributePrediction]], labels: Mapping[str, Sequence[str]]
              ) -> AttributeAccuracy:
    hits: dict[str, list[bool]] = {a: [] for a in ATTRIBUTES}
    for row in predictions:
        for p in row:
            hits[p.attribute].append(p.correct)
    per = {a: float(np.mean(h)) for a, h in hits.items() if h}
    return AttributeAccuracy(
        per_attribute=per,
        counts={a: len(h) for a, h in hits.items() if h},
        chance={a: 1.0 / len(labels[a]) for a in per},
        mean=float(np.mean(list(per.values()))) if per else None,
        skipped=[a for a in ATTRIBUTES if a not in per],
    )
