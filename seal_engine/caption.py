"""Zero-shot caption of a reference on the six-attribute schema, minus appearance.

Why: a training prompt that names the reference's context (emotion, action, framing,
style, background) lets the identity tokens learn the character instead of soaking up
the context (docs/toyworld.md: on the toy world the caption is worth more than any SEAL
component). The caption is found zero-shot with the CLIP pair (`seal_engine.clip_pair`):
the reference's image embedding is compared with text embeddings of full prompts in the
model's own prompt form, a neutral subject ("creature", "character") standing in for the
identity. Appearance is never captioned: the identity tokens stand for it.

A `CaptionVocabulary` says, per attribute, the candidate values and their prompt phrases,
and how a prompt is composed (a prefix with `{subject}` and a context with one slot per
attribute). The toy world's ships as `image_tower/caption_vocabulary.json` and gives
exactly the world's prompt form; for real models `preset_vocabulary()` builds one from
the built-in presets' attribute values. Small vocabularies (the toy's 864 contexts) are
scored exhaustively in one batch; large ones by coordinate ascent from the most frequent
values (two sweeps).

`Caption.text()` is the context part of the prompt (what the app shows in an edit box);
`caption_from_text` turns an edited text back into a Caption, keeping the user's words
verbatim in the template and recognising the background words from the vocabulary's
background slot (e.g. "on a X background").
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Sequence

from .errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image

    from .clip_pair import ClipPair

BACKGROUND = "background"
EXHAUSTIVE_LIMIT = 4096
"""Vocabularies with at most this many combinations are scored exhaustively."""


@dataclass
class CaptionVocabulary:
    """Candidate values per attribute (value -> prompt phrase, most frequent first) and the prompt form."""

    name: str
    prefix: str  # e.g. "a {subject}, "
    context: str  # e.g. "{emotion}, {action}, ..., on a {background} background"
    attributes: dict[str, dict[str, str]]
    schema: dict[str, str] = field(default_factory=dict)  # attribute -> StickerBench attribute
    neutral_subject: str = "character"
    search: str = "auto"  # "exhaustive", "coordinate" or "auto" (exhaustive when small)
    # background value -> RGB of the flat backdrop it names (image start and backdrop views put the subject on them)
    swatches: dict[str, tuple[int, int, int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if "{subject}" not in self.prefix:
            raise InputError(f"Caption vocabulary '{self.name}': the prefix needs {{subject}}.")
        for name in self.attributes:
            if "{" + name + "}" not in self.context:
                raise InputError(f"Caption vocabulary '{self.name}': the context has no slot for {name}.")

    @property
    def names(self) -> list[str]:
        return list(self.attributes)

    @property
    def combinations(self) -> int:
        n = 1
        for values in self.attributes.values():
            n *= len(values)
        return n

    def defaults(self) -> dict[str, str]:
        return {a: next(iter(v)) for a, v in self.attributes.items()}

    def compose_context(self, values: dict[str, str]) -> str:
        return self.context.format(**{a: self.attributes[a][values[a]] for a in self.attributes})

    def prompt(self, values: dict[str, str], subject: Optional[str] = None) -> str:
        return self.prefix.format(subject=subject or self.neutral_subject) + self.compose_context(values)

    def template(self, values: dict[str, str]) -> str:
        """A PersonalizeConfig.prompt_template: `{subject}` kept, the background slot left as `{background}`."""
        phrases = {a: _escape(self.attributes[a][values[a]]) for a in self.attributes if a != BACKGROUND}
        if BACKGROUND in self.attributes:
            phrases[BACKGROUND] = "{background}"
        return _escape(self.prefix).replace("{{subject}}", "{subject}") + self.context.format(**phrases)

    def background_pattern(self) -> Optional[re.Pattern]:
        """Regex reading the background words from a context text, from the slot's own words."""
        if BACKGROUND not in self.attributes:
            return None
        segment = next(s for s in self.context.split(",") if "{background}" in s).strip()
        before, after = segment.split("{background}")
        pattern = r"(?<!\w)" + re.escape(before.strip()) + r"\s+(.+?)\s+" + re.escape(after.strip())
        return re.compile(pattern.replace(r"\ ", r"\s+"), re.IGNORECASE)

    def to_dict(self) -> dict[str, Any]:
        data = {"format_version": 1, "name": self.name, "prefix": self.prefix, "context": self.context,
                "neutral_subject": self.neutral_subject, "search": self.search,
                "attributes": {a: {"schema": self.schema.get(a, a), "phrases": v} for a, v in self.attributes.items()}}
        if self.swatches:
            data["swatches"] = {k: list(v) for k, v in self.swatches.items()}
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "CaptionVocabulary":
        try:
            attrs = {a: dict(spec["phrases"]) for a, spec in data["attributes"].items()}
            schema = {a: str(spec.get("schema", a)) for a, spec in data["attributes"].items()}
            swatches = {str(k): _rgb(v) for k, v in (data.get("swatches") or {}).items()}
            return cls(name=str(data.get("name", "vocabulary")), prefix=str(data["prefix"]), context=str(data["context"]),
                       attributes=attrs, schema=schema, neutral_subject=str(data.get("neutral_subject", "character")),
                       search=str(data.get("search", "auto")), swatches=swatches)
        except (KeyError, TypeError, AttributeError, ValueError) as err:
            raise InputError(f"Not a caption vocabulary (missing or malformed {err}).") from err

    @classmethod
    def load(cls, path: Path) -> "CaptionVocabulary":
        try:
            return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
        except (OSError, ValueError) as err:
            raise InputError(f"Cannot read the caption vocabulary {path}: {err}") from err


def _rgb(value: Any) -> tuple[int, int, int]:
    r, g, b = (int(c) for c in value)
    if not all(0 <= c <= 255 for c in (r, g, b)):
        raise ValueError(f"swatch {value!r} is not an RGB triple")
    return (r, g, b)


def _escape(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")


# Styles beside the presets' own (every built-in preset uses one style).
_EXTRA_STYLES = ("3d render, soft lighting", "watercolor illustration", "pixel art", "anime style",
                 "black and white line art", "chibi, pastel colours")
_EXTRA_BACKGROUNDS = ("white", "black", "grey", "red", "orange", "yellow", "green", "blue", "purple", "pink",
                      "brown", "night-blue")
_PLAIN_SWATCHES: dict[str, tuple[int, int, int]] = {
    "white": (255, 255, 255), "black": (0, 0, 0), "grey": (128, 128, 128), "red": (220, 30, 30),
    "orange": (250, 140, 20), "yellow": (250, 220, 30), "green": (40, 170, 60), "blue": (40, 90, 230),
    "purple": (140, 50, 200), "pink": (250, 150, 190), "brown": (120, 75, 40), "night-blue": (20, 30, 90),
}
"""The plain backgrounds' colours: the backdrops of the image start and of the backdrop views."""


def preset_vocabulary() -> CaptionVocabulary:
    """The real-model vocabulary: the built-in presets' attribute values, most frequent first,
    in the presets' prompt form (`attributes.compose_prompt`: 'a sticker of <subject>, ...')."""
    from collections import Counter

    from .attributes import builtin_presets

    counts: dict[str, Counter] = {a: Counter() for a in ("emotion", "action", "camera", "style", BACKGROUND)}
    for preset in builtin_presets():
        for item in preset.items:
            for a, value in item.attributes.items():
                if a in counts:
                    counts[a][value.strip()] += 1
    backgrounds = Counter()
    for value, n in counts[BACKGROUND].items():
        m = re.fullmatch(r"plain (.+) background", value)
        if m:
            backgrounds[m.group(1)] += n
    attrs: dict[str, dict[str, str]] = {}
    for a in ("emotion", "action", "camera", "style"):
        values = [v for v, _ in counts[a].most_common()] or ["neutral"]
        if a == "style":
            values += [s for s in _EXTRA_STYLES if s not in values]
        attrs[a] = {v: v for v in values}
    bg = [v for v, _ in backgrounds.most_common()] + [c for c in _EXTRA_BACKGROUNDS if c not in backgrounds]
    attrs[BACKGROUND] = {v: v for v in bg}
    return CaptionVocabulary(name="presets", prefix="a sticker of {subject}, ",
                             context="{emotion}, {action}, {camera}, {style}, plain {background} background",
                             attributes=attrs, schema={a: a for a in attrs}, neutral_subject="character",
                             search="coordinate", swatches={k: v for k, v in _PLAIN_SWATCHES.items() if k in bg})


@dataclass
class Caption:
    """What the reference shows besides its identity, as prompt words."""

    values: dict[str, str]  # attribute (toy: factor) -> chosen value
    scores: dict[str, float]  # attribute -> cosine margin of the chosen value over the best alternative
    template: str  # PersonalizeConfig.prompt_template ({subject}, {background})
    background_words: str  # PersonalizeConfig.background_words, e.g. "orange"
    source: str  # e.g. "zero-shot, toyworld image tower" or "edited by the user"
    context: str = ""  # the context text (what text() returns)

    def text(self) -> str:
        """The editable caption: the prompt's context part, e.g. 'happy, arms up, ..., on a orange background'."""
        return self.context

    def record(self) -> dict[str, Any]:
        """For concept.json."""
        return {"text": self.context, "values": dict(self.values), "scores": {k: round(v, 4) for k, v in self.scores.items()},
                "template": self.template, "background_words": self.background_words, "source": self.source}


def _build(vocab: CaptionVocabulary, values: dict[str, str], scores: dict[str, float], source: str) -> Caption:
    bg = vocab.attributes[BACKGROUND][values[BACKGROUND]] if BACKGROUND in values else ""
    return Caption(values=dict(values), scores=scores, template=vocab.template(values), background_words=bg,
                   source=source, context=vocab.compose_context(values))


def _exhaustive(pair: "ClipPair", vocab: CaptionVocabulary, image_emb: Any) -> list[tuple[dict[str, str], dict[str, float]]]:
    import torch

    names = vocab.names
    combos = list(itertools.product(*(list(vocab.attributes[a]) for a in names)))
    text = pair.text_embeds([vocab.prompt(dict(zip(names, c))) for c in combos])
    sims = image_emb.float() @ text.T  # (n, C)
    codes = torch.tensor([[list(vocab.attributes[a]).index(v) for a, v in zip(names, c)] for c in combos])
    out = []
    for row in sims:
        best = int(row.argmax())
        values = dict(zip(names, combos[best]))
        scores = {}
        for j, a in enumerate(names):
            other = codes[:, j] != codes[best, j]
            scores[a] = float(row[best] - row[other].max()) if bool(other.any()) else 0.0
        out.append((values, scores))
    return out


def _coordinate(pair: "ClipPair", vocab: CaptionVocabulary, emb: Any, sweeps: int = 2) -> tuple[dict[str, str], dict[str, float]]:
    values = vocab.defaults()
    scores: dict[str, float] = {}
    for _ in range(sweeps):
        changed = False
        for a in vocab.names:
            candidates = list(vocab.attributes[a])
            text = pair.text_embeds([vocab.prompt({**values, a: v}) for v in candidates])
            sims = (text @ emb.float().reshape(-1)).tolist()
            order = sorted(range(len(candidates)), key=lambda i: -sims[i])
            if candidates[order[0]] != values[a]:
                values[a] = candidates[order[0]]
                changed = True
            scores[a] = sims[order[0]] - sims[order[1]] if len(order) > 1 else 0.0
        if not changed:
            break
    return values, scores


def caption_images(pair: "ClipPair", images: Sequence["Image.Image"]) -> list[Caption]:
    """Zero-shot captions of several images (one text batch for exhaustive vocabularies)."""
    vocab = pair.vocabulary or preset_vocabulary()
    emb = pair.image_embeds(list(images))
    source = f"zero-shot, {pair.source}"
    search = vocab.search if vocab.search != "auto" else ("exhaustive" if vocab.combinations <= EXHAUSTIVE_LIMIT else "coordinate")
    if search == "exhaustive":
        return [_build(vocab, v, s, source) for v, s in _exhaustive(pair, vocab, emb)]
    return [_build(vocab, *_coordinate(pair, vocab, e[None]), source) for e in emb]


def caption_reference(pair: "ClipPair", reference_rgba: "Image.Image", mask: Any = None) -> Caption:
    """Zero-shot caption of the reference (RGBA composited on white, as the pair sees it).

    `mask` is accepted for the trainer's convenience and not used: the background is one of
    the captioned attributes, so the whole image is read.
    """
    return caption_images(pair, [reference_rgba])[0]


def caption_from_text(text: str, vocabulary: CaptionVocabulary) -> Caption:
    """A Caption from an edited context text (the form `Caption.text()` gives).

    The user's words go verbatim into the template (after the vocabulary's prefix); the
    background words are read with the vocabulary's background slot (e.g. 'on a X
    background') and become `{background}`; known values are recognised for `values`
    (longest phrase wins). `scores` is empty: nothing was measured.
    """
    context = " ".join(text.replace("{", "(").replace("}", ")").split()).strip().strip(",").strip()
    if not context:
        raise InputError("The caption is empty; describe the reference (e.g. 'happy, waving') or leave captioning off.")
    background_words = ""
    template_ctx = context
    pattern = vocabulary.background_pattern()
    m = pattern.search(context) if pattern else None
    if m:
        background_words = m.group(1).strip()
        template_ctx = context[:m.start(1)] + "{background}" + context[m.end(1):]
    values: dict[str, str] = {}
    lower = context.lower()
    for a, phrases in vocabulary.attributes.items():
        if a == BACKGROUND:
            hit = next((v for v, p in phrases.items() if p.lower() == background_words.lower()), None)
        else:
            found = [(len(p), v) for v, p in phrases.items() if re.search(r"(?<!\w)" + re.escape(p.lower()) + r"(?!\w)", lower)]
            hit = max(found)[1] if found else None
        if hit is not None:
            values[a] = hit
    prefix = _escape(vocabulary.prefix).replace("{{subject}}", "{subject}")
    return Caption(values=values, scores={}, template=prefix + template_ctx, background_words=background_words,
                   source="edited by the user", context=context)
