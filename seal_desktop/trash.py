"""The app's trash: removed job folders (and deleted characters' files) move into
`SEAL_HOME/trash/` and are only gone once the user empties it. Qt-free.

Why not the system trash: a moved folder must come back on Undo at once and
exactly where it was, on every platform, and the library must stay one folder
(portable installs, tests). A `.origin` file in each entry records where it came from.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

ORIGIN = ".origin"


@dataclass
class TrashEntry:
    path: Path  # inside the trash
    origin: Path  # where it was


class Trash:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def move(self, path: Path, label: str = "") -> Optional[TrashEntry]:
        """Move `path` into the trash; None when there is nothing to move."""
        path = Path(path)
        if not path.exists():
            return None
        self.root.mkdir(parents=True, exist_ok=True)
        stem = f"{time.strftime('%Y%m%d-%H%M%S')}-{label or path.name}"
        target, n = self.root / stem, 2
        while target.exists():
            target, n = self.root / f"{stem}-{n}", n + 1
        target.mkdir()
        (target / ORIGIN).write_text(str(path.resolve()), encoding="utf-8")
        shutil.move(str(path), str(target / path.name))
        return TrashEntry(target, path)

    def restore(self, entry: TrashEntry) -> Path:
        """Put an entry back where it was (undo)."""
        inside = entry.path / entry.origin.name
        if entry.origin.exists():
            raise FileExistsError(f"{entry.origin} exists again; the trashed copy stays in {entry.path}.")
        entry.origin.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(inside), str(entry.origin))
        shutil.rmtree(entry.path, ignore_errors=True)
        return entry.origin

    def entries(self) -> list[Path]:
        return sorted(p for p in self.root.iterdir() if p.is_dir()) if self.root.is_dir() else []

    def size_bytes(self) -> int:
        return sum(f.stat().st_size for f in self.root.rglob("*") if f.is_file()) if self.root.is_dir() else 0

    def empty(self) -> int:
        """Delete everything in the trash for good; returns how many entries went."""
        entries = self.entries()
        for entry in entries:
            shutil.rmtree(entry, ignore_errors=True)
        return len(entries)
