"""The evaluation dataset: reference characters and a prompt set tagged with the six attributes.

A dataset is a folder (full description in docs/evaluation.md):

    DIR/dataset.json           characters, prompts, seeds, optional label sets
    DIR/<reference images>     one per character (PNG/JPEG/...; paths relative to DIR)
    DIR/<masks>                optional, one per character ("L" or RGB, white = subject)

Each character carries its own six-attribute tags (what the reference shows:
its background, pose, framing...), so leakage and rigidity know which prompts
ask for something *different* from the reference. Each prompt carries the
attribute values it requests; its text is composed by the app's own
`attributes.compose_prompt`, so the bench measures the prompts the app sends.
StickerBench-style tag records map onto it with `normalize_tags` (key aliases
such as "camera composition" -> "camera").
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional

from ..attributes import ATTRIBUTES, CHARACTER_PLACEHOLDER, StickerSpec, compose_prompt
from ..errors import InputError

DATASET_FILE = "dataset.json"
FORMAT_VERSION = 1

TAG_ALIASES = {
    "camera composition": "camera",
    "camera_composition": "camera",
    "composition": "camera",
    "framing": "camera",
    "shot": "camera",
    "pose": "action",
    "motion": "action",
    "expression": "emotion",
    "emotion/expression": "emotion",
    "art style": "style",
    "art_style": "style",
    "scene": "background",
    "bg": "background",
    "identity": "appearance",
    "appearance/identity": "appearance",
}
"""StickerBench-style tag keys (and common spellings) -> our six attribute names."""

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def normalize_tags(tags: Mapping[str, Any], *, where: str = "tags") -> dict[str, str]:
    """Six-attribute dict from a tag record: keys lower-cased and aliased, list values joined with ', '."""
    out: dict[str, str] = {}
    for key, value in (tags or {}).items():
        name = str(key).strip().lower()
        name = TAG_ALIASES.get(name, name)
        if name not in ATTRIBUTES:
            raise InputError(f"{where}: unknown attribute '{key}'; use {', '.join(ATTRIBUTES)}.")
        text = ", ".join(str(v).strip() for v in value if str(v).strip()) if isinstance(value, (list, tuple)) \
            else str(value or "").strip()
        if text:
            out[name] = text
    return out


@dataclass
class Character:
    id: str
    image: Path
    mask: Optional[Path]
    class_word: str
    tags: dict[str, str] = field(default_factory=dict)

    def load_reference(self):
        """The reference as 8-bit RGBA, through the app's one intake door."""
        from ..intake import load_image

        return load_image(self.image)

    def load_mask(self, reference=None):
        """The dataset's mask, or the app's computed mask of the reference when the dataset has none."""
        from PIL import Image

        if self.mask is not None:
            with Image.open(self.mask) as im:
                mask = im.convert("L")
            size = reference.size if reference is not None else None
            return mask.resize(size, Image.NEAREST) if size and mask.size != size else mask
        from .regions import subject_mask

        return subject_mask(reference if reference is not None else self.load_reference())


@dataclass
class PromptSpec:
    id: str
    attributes: dict[str, str]
    text: Optional[str] = None  # explicit prompt with "<char>"; None -> composed from the attributes
    characters: Optional[list[str]] = None  # restrict to these character ids; None -> every character

    def prompt_for(self, character: Character) -> str:
        """The prompt with the `<char>` placeholder still in it (the bench expands it per concept).

        No class word after `<char>`: the concept's identity string already ends with
        its class word (the dataset's `class_word`, given to personalization).
        """
        if self.text:
            return self.text
        spec = StickerSpec(label=self.id, attributes=self.attributes)
        return compose_prompt(spec, identity=CHARACTER_PLACEHOLDER, class_word="")


@dataclass(frozen=True)
class Sample:
    """One generated image to make and score: a character, a prompt and a seed."""

    character: str
    prompt_id: str
    seed: int
    prompt: str  # with <char>
    attributes: tuple[tuple[str, str], ...]

    @property
    def id(self) -> str:
        return f"{self.prompt_id}-s{self.seed}"

    @property
    def attribute_dict(self) -> dict[str, str]:
        return dict(self.attributes)


@dataclass
class EvalDataset:
    root: Path
    name: str
    characters: list[Character]
    prompts: list[PromptSpec]
    seeds: list[int]
    labels: dict[str, list[str]] = field(default_factory=dict)
    description: str = ""

    def samples(self, character: Character) -> list[Sample]:
        out = []
        for p in self.prompts:
            if p.characters is not None and character.id not in p.characters:
                continue
            for seed in self.seeds:
                out.append(Sample(character.id, p.id, seed, p.prompt_for(character),
                                  tuple(sorted(p.attributes.items()))))
        return out

    def character(self, cid: str) -> Character:
        for c in self.characters:
            if c.id == cid:
                return c
        raise InputError(f"The dataset has no character '{cid}'.")


def load_dataset(folder: str | Path) -> EvalDataset:
    """Read and validate DIR/dataset.json; every problem is one `InputError` sentence."""
    root = Path(folder).expanduser()
    path = root / DATASET_FILE if root.is_dir() else root
    if path.is_file() and root == path:
        root = path.parent
    if not path.is_file():
        raise InputError(f"{root} is not an evaluation dataset: {DATASET_FILE} is missing (see docs/evaluation.md).")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise InputError(f"{path} is not valid JSON ({err}).") from None
    if not isinstance(data, dict):
        raise InputError(f"{path} must hold a JSON object with 'characters' and 'prompts'.")
    version = data.get("format_version", FORMAT_VERSION)
    if version != FORMAT_VERSION:
        raise InputError(f"{path} has format_version {version}; this version of the app reads {FORMAT_VERSION}.")

    characters = [_character(root, c, i) for i, c in enumerate(data.get("characters") or [])]
    if not characters:
        raise InputError(f"{path} lists no characters.")
    _unique([c.id for c in characters], "character", path)
    ids = {c.id for c in characters}
    prompts = [_prompt(p, i, ids) for i, p in enumerate(data.get("prompts") or [])]
    if not prompts:
        raise InputError(f"{path} lists no prompts.")
    _unique([p.id for p in prompts], "prompt", path)
    seeds = data.get("seeds", [0])
    if not isinstance(seeds, list) or not seeds or not all(isinstance(s, int) and s >= 0 for s in seeds):
        raise InputError(f"{path}: 'seeds' must be a non-empty list of whole numbers >= 0.")
    labels = {}
    for key, values in (data.get("labels") or {}).items():
        name = TAG_ALIASES.get(str(key).lower(), str(key).lower())
        if name not in ATTRIBUTES or not isinstance(values, list):
            raise InputError(f"{path}: 'labels' maps each of {', '.join(ATTRIBUTES)} to a list of values.")
        labels[name] = [str(v).strip() for v in values if str(v).strip()]
    return EvalDataset(root=root, name=str(data.get("name") or root.name), characters=characters,
                       prompts=prompts, seeds=list(dict.fromkeys(seeds)), labels=labels,
                       description=str(data.get("description", "")))


def _character(root: Path, data: Any, index: int) -> Character:
    if not isinstance(data, dict) or not data.get("image"):
        raise InputError(f"Character #{index + 1} needs at least an 'image'.")
    cid = str(data.get("id") or Path(str(data["image"])).stem)
    if not _ID.match(cid):
        raise InputError(f"Character id '{cid}' may use letters, digits, '.', '_' and '-' only.")
    image = root / str(data["image"])
    if not image.is_file():
        raise InputError(f"Character '{cid}': reference image {image} does not exist.")
    mask = root / str(data["mask"]) if data.get("mask") else None
    if mask is not None and not mask.is_file():
        raise InputError(f"Character '{cid}': mask {mask} does not exist.")
    return Character(id=cid, image=image, mask=mask, class_word=str(data.get("class_word") or "character"),
                     tags=normalize_tags(data.get("tags") or {}, where=f"character '{cid}'"))


def _prompt(data: Any, index: int, characters: set[str]) -> PromptSpec:
    if not isinstance(data, dict):
        raise InputError(f"Prompt #{index + 1} must be an object with an 'id' and 'attributes'.")
    pid = str(data.get("id") or f"p{index + 1:03d}")
    if not _ID.match(pid):
        raise InputError(f"Prompt id '{pid}' may use letters, digits, '.', '_' and '-' only.")
    attrs = normalize_tags(data.get("attributes") or data.get("tags") or {}, where=f"prompt '{pid}'")
    text = data.get("prompt")
    if text is not None and CHARACTER_PLACEHOLDER not in str(text):
        raise InputError(f"Prompt '{pid}': an explicit prompt must contain {CHARACTER_PLACEHOLDER}.")
    if not attrs and not text:
        raise InputError(f"Prompt '{pid}' requests no attribute; give 'attributes' or a 'prompt'.")
    only = data.get("characters")
    if only is not None:
        unknown = set(map(str, only)) - characters
        if unknown:
            raise InputError(f"Prompt '{pid}' names unknown character(s) {', '.join(sorted(unknown))}.")
        only = [str(c) for c in only]
    return PromptSpec(id=pid, attributes=attrs, text=str(text) if text else None, characters=only)


def _unique(ids: list[str], what: str, path: Path) -> None:
    seen = set()
    for i in ids:
        if i in seen:
            raise InputError(f"{path}: {what} id '{i}' appears twice.")
        seen.add(i)
