"""The six StickerBench attributes, sticker specs, presets and prompt composition.

A preset is a named list of sticker specs (label, emoji, attribute values). A
prompt is composed from the character's identity (its placeholder tokens once
learned), its class word and the spec's attribute values, in a fixed order so
the same spec always gives the same prompt.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Optional

from .errors import InputError

ATTRIBUTES = ("appearance", "emotion", "action", "camera", "style", "background")
"""appearance, emotion, action, camera composition, style, background (StickerBench's six)."""

ATTRIBUTE_LABELS = {
    "appearance": "Appearance",
    "emotion": "Emotion",
    "action": "Action",
    "camera": "Camera composition",
    "style": "Style",
    "background": "Background",
}

CHARACTER_PLACEHOLDER = "<char>"
"""Stands for the learned character in prompts (`seal generate --concept`)."""

PRESET_FORMAT_VERSION = 1


@dataclass
class StickerSpec:
    label: str
    emoji: str = "🙂"
    attributes: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = set(self.attributes) - set(ATTRIBUTES)
        if unknown:
            raise InputError(f"Sticker '{self.label}' has unknown attribute(s) {', '.join(sorted(unknown))}; "
                             f"use {', '.join(ATTRIBUTES)}.")
        if not self.label.strip():
            raise InputError("Every sticker in a preset needs a label.")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "StickerSpec":
        if not isinstance(data, dict):
            raise InputError("A preset item must be an object with label, emoji and attributes.")
        attrs = data.get("attributes") or {}
        return cls(label=str(data.get("label", "")), emoji=str(data.get("emoji") or "🙂"),
                   attributes={str(k): str(v) for k, v in attrs.items() if str(v).strip()})


@dataclass
class Preset:
    name: str
    items: list[StickerSpec]
    description: str = ""
    builtin: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"format_version": PRESET_FORMAT_VERSION, "name": self.name, "description": self.description,
                "items": [asdict(i) for i in self.items]}

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, builtin: bool = False) -> "Preset":
        if not isinstance(data, dict) or "items" not in data:
            raise InputError("A preset file must be a JSON object with a name and a list of items.")
        items = [StickerSpec.from_dict(d) for d in data["items"]]
        if not items:
            raise InputError(f"Preset '{data.get('name', '?')}' has no items.")
        return cls(name=str(data.get("name") or "Untitled"), items=items,
                   description=str(data.get("description", "")), builtin=builtin)


def compose_prompt(spec: StickerSpec, *, identity: str = CHARACTER_PLACEHOLDER, class_word: str = "character",
                   style_suffix: str = "sticker") -> str:
    """'a sticker of <identity> <class word>, <emotion>, <action>, <camera>, <style>, <background>'.

    Appearance words describe the character itself (e.g. "wearing a red scarf")
    and follow the class word; the other attributes follow in schema order.
    """
    subject = " ".join(p for p in (identity, class_word) if p).strip()
    parts = [f"a {style_suffix} of {subject}".strip()]
    for name in ATTRIBUTES:
        value = spec.attributes.get(name, "").strip()
        if value:
            parts.append(value)
    return ", ".join(parts)


def resources_dir() -> Path:
    """The `resources/` folder: beside the packages in a checkout or editable install,
    under sys._MEIPASS in a PyInstaller bundle, or under share/ for a wheel install."""
    import os
    import sys

    candidates = []
    if os.environ.get("SEAL_RESOURCES"):
        candidates.append(Path(os.environ["SEAL_RESOURCES"]))
    if getattr(sys, "frozen", False):
        candidates.append(Path(getattr(sys, "_MEIPASS", Path(sys.executable).parent)) / "resources")
    candidates.append(Path(__file__).resolve().parent.parent / "resources")
    candidates.append(Path(sys.prefix) / "share" / "seal-sticker-studio" / "resources")
    for path in candidates:
        if path.is_dir():
            return path
    return candidates[-1]


def builtin_presets_dir() -> Path:
    return resources_dir() / "presets"


def load_preset_file(path: Path, *, builtin: bool = False) -> Preset:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"Preset file {path} does not exist.") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise InputError(f"Preset file {path} is not valid JSON ({err}).") from None
    return Preset.from_dict(data, builtin=builtin)


def builtin_presets() -> list[Preset]:
    folder = builtin_presets_dir()
    return [load_preset_file(p, builtin=True) for p in sorted(folder.glob("*.json"))] if folder.is_dir() else []


def load_preset(name_or_file: str) -> Preset:
    """A built-in preset by name (case-insensitive, or its file stem) or a preset JSON file."""
    path = Path(name_or_file).expanduser()
    if path.suffix.lower() == ".json" or path.is_file():
        return load_preset_file(path)
    wanted = name_or_file.strip().lower()
    presets = builtin_presets()
    for preset, file in zip(presets, sorted(builtin_presets_dir().glob("*.json"))):
        if wanted in (preset.name.lower(), file.stem.lower()):
            return preset
    names = ", ".join(sorted(p.name for p in presets)) or "none installed"
    raise InputError(f"No preset named '{name_or_file}'; built-in presets: {names}.")


def iter_prompts(preset: Preset, identity: str, class_word: str) -> Iterable[tuple[StickerSpec, str]]:
    for spec in preset.items:
        yield spec, compose_prompt(spec, identity=identity, class_word=class_word)


def placeholder_in(prompt: str) -> bool:
    return CHARACTER_PLACEHOLDER in prompt


def expand_placeholder(prompt: str, identity: str, class_word: Optional[str] = None) -> str:
    """Replace `<char>` by the learned identity tokens (followed by the class word when given)."""
    replacement = f"{identity} {class_word}".strip() if class_word else identity
    return prompt.replace(CHARACTER_PLACEHOLDER, replacement)
