"""The toy world's attributes, mapped onto SEAL's six-attribute schema.

StickerBench tags every sticker with appearance, emotion, action, camera composition,
style and background. The toy world has one or more concrete *factors* per schema
attribute (appearance = shape + colour + accessory; camera = scale + position), each a
small closed set of words, so a prompt names every factor and a detector can read every
factor back. The held-out appearances are declared here, once, and never rendered for
training: they are the "new characters" the personalization benchmark learns.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, fields
from typing import Iterable, Optional

# factor -> allowed values (prompt words); order is the class index used by detectors.
FACTORS: dict[str, tuple[str, ...]] = {
    "shape": ("round", "square", "triangle", "diamond"),
    "colour": ("red", "yellow", "green", "blue", "purple"),
    "accessory": ("none", "hat", "crown"),
    "emotion": ("happy", "sad", "angry", "surprised"),
    "action": ("down", "up", "wave"),
    "scale": ("full", "closeup"),
    "position": ("left", "centre", "right"),
    "style": ("flat", "shaded"),
    "background": ("white", "cyan", "magenta", "orange", "lime", "navy"),
}

# SEAL / StickerBench schema attribute -> toy-world factors.
SCHEMA: dict[str, tuple[str, ...]] = {
    "appearance": ("shape", "colour", "accessory"),
    "emotion": ("emotion",),
    "action": ("action",),
    "camera": ("scale", "position"),
    "style": ("style",),
    "background": ("background",),
}

ATTRIBUTES: tuple[str, ...] = tuple(FACTORS)
APPEARANCE_FACTORS: tuple[str, ...] = SCHEMA["appearance"]

# Held-out appearance combinations: never rendered by the training sampler. Chosen so
# every single shape, colour and accessory still appears in training (the model can
# compose them) while the exact combination is new.
HELD_OUT_APPEARANCES: tuple[tuple[str, str, str], ...] = (
    ("round", "purple", "hat"),
    ("square", "green", "crown"),
    ("triangle", "blue", "none"),
    ("diamond", "red", "hat"),
    ("triangle", "yellow", "crown"),
    ("square", "red", "none"),
)

CLASS_WORD = "creature"

# Prompt phrases per factor value (single words only: the tokenizer is word-level).
_ACTION_WORDS = {"down": "arms down", "up": "arms up", "wave": "waving"}
_SCALE_WORDS = {"full": "full body", "closeup": "closeup"}
_POSITION_WORDS = {"left": "on the left", "centre": "in the centre", "right": "on the right"}


@dataclass(frozen=True)
class Sticker:
    """One fully specified sticker: every factor has exactly one value."""

    shape: str = "round"
    colour: str = "red"
    accessory: str = "none"
    emotion: str = "happy"
    action: str = "down"
    scale: str = "full"
    position: str = "centre"
    style: str = "flat"
    background: str = "white"

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if value not in FACTORS[f.name]:
                raise ValueError(f"{f.name}={value!r} is not one of {FACTORS[f.name]}")

    @property
    def appearance(self) -> tuple[str, str, str]:
        return (self.shape, self.colour, self.accessory)

    def as_dict(self) -> dict[str, str]:
        return asdict(self)

    def labels(self) -> dict[str, int]:
        """Class index of every factor (detector targets)."""
        return {k: FACTORS[k].index(v) for k, v in asdict(self).items()}

    def replace(self, **changes: str) -> "Sticker":
        d = asdict(self)
        d.update(changes)
        return Sticker(**d)


def identity_phrase(s: Sticker) -> str:
    """The words that name a character's appearance, e.g. 'purple round creature with a hat'."""
    words = f"{s.colour} {s.shape} {CLASS_WORD}"
    if s.accessory != "none":
        words += f" with a {s.accessory}"
    return words


def context_phrase(s: Sticker) -> str:
    """Everything but the appearance: emotion, action, camera, style, background."""
    return (
        f"{s.emotion}, {_ACTION_WORDS[s.action]}, {_SCALE_WORDS[s.scale]}, "
        f"{_POSITION_WORDS[s.position]}, {s.style} style, on a {s.background} background"
    )


def prompt_for(s: Sticker, identity: Optional[str] = None) -> str:
    """The training / evaluation prompt; `identity` replaces the appearance words
    (e.g. '<toy0> creature' for a learned concept, or just 'creature')."""
    ident = identity if identity is not None else identity_phrase(s)
    return f"a {ident}, {context_phrase(s)}"


def is_held_out(s: Sticker) -> bool:
    return s.appearance in HELD_OUT_APPEARANCES


def random_sticker(
    rng: random.Random, *, allow_held_out: bool = False, **fixed: str
) -> Sticker:
    """A uniformly random sticker; by default never one with a held-out appearance."""
    while True:
        values = {k: fixed.get(k) or rng.choice(v) for k, v in FACTORS.items()}
        s = Sticker(**values)
        if allow_held_out or not is_held_out(s):
            return s


def all_words() -> list[str]:
    """Every word a prompt of this world can contain (builds the tokenizer vocabulary)."""
    words: set[str] = {"a", "with", CLASS_WORD, "style", "on", "background"}
    for values in FACTORS.values():
        words.update(values)
    for phrases in (_ACTION_WORDS, _SCALE_WORDS, _POSITION_WORDS):
        for p in phrases.values():
            words.update(p.split())
    # Words a user or the benchmark may use beside the placeholder tokens.
    words.update({"sticker", "character", "of", "the", "and", "in", "photo", "picture"})
    words.discard("none")
    return sorted(words)


def factor_values(names: Iterable[str]) -> dict[str, tuple[str, ...]]:
    return {n: FACTORS[n] for n in names}
