"""Presets: the built-ins shipped in resources/presets (read-only) and the user's own,
one JSON file each under SEAL_HOME/presets in seal_engine's Preset.to_dict format,
so `seal pack --preset FILE` reads the same files."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Optional

from seal_engine.attributes import Preset, builtin_presets, load_preset_file
from seal_engine.errors import InputError


class PresetStore:
    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._builtins: Optional[list[Preset]] = None

    def builtins(self) -> list[Preset]:
        if self._builtins is None:
            self._builtins = builtin_presets()
        return self._builtins

    def user_presets(self) -> list[Preset]:
        presets = []
        for path in sorted(self.folder.glob("*.json")):
            try:
                presets.append(load_preset_file(path))
            except InputError:
                continue  # a hand-broken file is skipped, not fatal
        return presets

    def all(self) -> list[Preset]:
        return self.builtins() + self.user_presets()

    def get(self, name: str) -> Optional[Preset]:
        return next((p for p in self.all() if p.name == name), None)

    def names(self) -> set[str]:
        return {p.name for p in self.all()}

    def path_for(self, name: str) -> Path:
        return self.folder / f"{_file_stem(name)}.json"

    def unique_name(self, base: str) -> str:
        names = self.names()
        if base not in names:
            return base
        n = 2
        while f"{base} ({n})" in names:
            n += 1
        return f"{base} ({n})"

    def save(self, preset: Preset, *, old_name: Optional[str] = None) -> Preset:
        from seal_engine.atomic import atomic_write_json

        if preset.builtin:
            raise InputError(f"'{preset.name}' is a built-in preset; duplicate it to make changes.")
        if not preset.name.strip():
            raise InputError("A preset needs a name.")
        if not preset.items:
            raise InputError("A preset needs at least one sticker.")
        if preset.name in {p.name for p in self.builtins()}:
            raise InputError(f"'{preset.name}' is the name of a built-in preset; choose another name.")
        if old_name is not None and old_name != preset.name:
            if preset.name in self.names():
                raise InputError(f"A preset named '{preset.name}' already exists.")
            self.path_for(old_name).unlink(missing_ok=True)
        atomic_write_json(self.path_for(preset.name), preset.to_dict())
        return preset

    def duplicate(self, preset: Preset) -> Preset:
        copy = Preset.from_dict(preset.to_dict())
        copy.name = self.unique_name(f"{preset.name} copy")
        copy.builtin = False
        return self.save(copy)

    def delete(self, name: str) -> None:
        if name in {p.name for p in self.builtins()}:
            raise InputError(f"'{name}' is a built-in preset and cannot be deleted.")
        self.path_for(name).unlink(missing_ok=True)


def _file_stem(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:60] or "preset"
