"""The character library: rows in SQLite, files in one folder per character.

Order of operations keeps disk and database consistent after a crash:
- add/duplicate: the folder is built in a hidden staging folder and renamed into
  place, then the row is inserted; if the insert fails the folder is removed;
- delete: the row is deleted and committed first, the folder removed after, so
  a crash in between leaves an orphan folder (harmless), never a row without files.
"""

from __future__ import annotations

import json
import re
import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from seal_engine.errors import InputError

from .db import Database

REFERENCE_NAME = "reference.png"
MASK_NAME = "mask.png"
MASK_METHODS = ("auto", "alpha", "fallback", "sam")


@dataclass
class Concept:
    id: int
    character_id: int
    path: Path
    base_model: str
    settings: dict[str, Any]
    created_at: float


@dataclass
class Character:
    id: int
    name: str
    class_word: str
    notes: str
    tags: list[str]
    folder: Path
    reference: Path
    mask: Optional[Path]
    mask_method: str
    mask_note: str
    created_at: float
    updated_at: float
    concepts: list[Concept] = field(default_factory=list)
    caption: str = ""  # the user's training caption; "" = read from the reference automatically

    def matches(self, text: str) -> bool:
        text = text.strip().lower()
        if not text:
            return True
        hay = " ".join([self.name, self.class_word, self.notes, " ".join(self.tags)]).lower()
        return all(word in hay for word in text.split())


def parse_tags(text: str) -> list[str]:
    return [t for t in dict.fromkeys(t.strip().lower() for t in re.split(r"[,;]", text)) if t]


def name_from_file(path: Path) -> str:
    stem = re.sub(r"[_\-]+", " ", Path(path).stem).strip()
    return stem[:60] or "Character"


class CharacterStore:
    def __init__(self, db: Database, root: Path) -> None:
        self.db = db
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    # ---- reading -------------------------------------------------------------
    def _from_row(self, row: Any) -> Character:
        folder = self.root / row["folder"]
        return Character(
            id=row["id"], name=row["name"], class_word=row["class_word"], notes=row["notes"],
            tags=[t for t in row["tags"].split(",") if t], folder=folder,
            reference=folder / row["reference"], mask=(folder / row["mask"]) if row["mask"] else None,
            mask_method=row["mask_method"], mask_note=row["mask_note"],
            created_at=row["created_at"], updated_at=row["updated_at"],
            concepts=self.concepts(row["id"]), caption=row["caption"],
        )

    def all(self, search: str = "") -> list[Character]:
        rows = self.db.query("SELECT * FROM characters ORDER BY name COLLATE NOCASE, id")
        return [c for c in (self._from_row(r) for r in rows) if c.matches(search)]

    def get(self, character_id: int) -> Optional[Character]:
        row = self.db.query_one("SELECT * FROM characters WHERE id=?", (character_id,))
        return self._from_row(row) if row else None

    def concepts(self, character_id: int) -> list[Concept]:
        rows = self.db.query("SELECT * FROM concepts WHERE character_id=? ORDER BY id", (character_id,))
        return [Concept(r["id"], r["character_id"], Path(r["path"]), r["base_model"], json.loads(r["settings"]),
                        r["created_at"]) for r in rows]

    # ---- writing -------------------------------------------------------------
    def add_image(self, source: Path, *, name: Optional[str] = None, class_word: str = "character",
                  mask_method: str = "auto") -> Character:
        """Validate `source` through the engine's intake, copy it in, compute its mask.

        Raises ImageError (nothing written) for a broken file."""
        from seal_engine.intake import load_image

        image = load_image(source)  # raises before anything is written
        return self.add_loaded(image, name=name or name_from_file(Path(source)), class_word=class_word,
                               mask_method=mask_method)

    def add_loaded(self, image: Any, *, name: str, class_word: str = "character", mask_method: str = "auto",
                   notes: str = "", tags: str = "") -> Character:
        from seal_engine.atomic import atomic_save_image, staged_dir

        from ..engine_adapter import compute_mask

        mask = compute_mask(image, mask_method)
        folder_name = f"{_slug(name)}-{uuid.uuid4().hex[:8]}"
        with staged_dir(self.root / folder_name) as stage:
            atomic_save_image(image, stage / REFERENCE_NAME)
            atomic_save_image(mask.mask, stage / MASK_NAME)
        return self._insert(folder_name, name=name, class_word=class_word or "character", notes=notes,
                            tags=",".join(parse_tags(tags)), reference=REFERENCE_NAME, mask=MASK_NAME,
                            mask_method=mask.method, mask_note=mask.note)

    def _insert(self, folder_name: str, **row: Any) -> Character:
        """Add the row for a character folder already in place; on failure the folder goes too."""
        now = time.time()
        row.update(folder=folder_name, created_at=now, updated_at=now)
        try:
            with self.db.transaction() as conn:
                cur = conn.execute(f"INSERT INTO characters ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                                   tuple(row.values()))
                new_id = int(cur.lastrowid)
        except BaseException:
            shutil.rmtree(self.root / folder_name, ignore_errors=True)
            raise
        return self.get(new_id)  # type: ignore[return-value]

    def update(self, character_id: int, **fields: Any) -> Character:
        allowed = {"name", "class_word", "notes", "tags", "caption"}
        bad = set(fields) - allowed
        if bad:
            raise ValueError(f"cannot update {bad}")
        if "name" in fields and not str(fields["name"]).strip():
            raise InputError("A character needs a name.")
        if "class_word" in fields and not re.fullmatch(r"[A-Za-z][A-Za-z \-]{0,30}", str(fields["class_word"]).strip()):
            raise InputError("The class word must be one or two plain words, like 'cat' or 'cartoon fox'.")
        if "caption" in fields:
            text = " ".join(str(fields["caption"]).split())
            if "{" in text or "}" in text or len(text) > 300:
                raise InputError("A caption is plain words (at most 300 characters), like 'happy, waving, on a beach'.")
            fields["caption"] = text
        if "tags" in fields and not isinstance(fields["tags"], str):
            fields["tags"] = ",".join(fields["tags"])
        if "tags" in fields:
            fields["tags"] = ",".join(parse_tags(fields["tags"]))
        values = {k: (str(v).strip() if k != "notes" else str(v)) for k, v in fields.items()}
        with self.db.transaction() as conn:
            sets = ", ".join(f"{k}=?" for k in values)
            conn.execute(f"UPDATE characters SET {sets}, updated_at=? WHERE id=?",
                         (*values.values(), time.time(), character_id))
        return self.get(character_id)  # type: ignore[return-value]

    def rename(self, character_id: int, name: str) -> Character:
        return self.update(character_id, name=name)

    def duplicate(self, character_id: int) -> Character:
        from seal_engine.atomic import staged_dir

        src = self.get(character_id)
        if src is None:
            raise InputError("That character no longer exists.")
        name = f"{src.name} copy"
        folder_name = f"{_slug(name)}-{uuid.uuid4().hex[:8]}"
        with staged_dir(self.root / folder_name) as stage:
            for item in src.folder.iterdir():
                if item.is_file():
                    shutil.copy2(item, stage / item.name)
        return self._insert(folder_name, name=name, class_word=src.class_word, notes=src.notes, caption=src.caption,
                            tags=",".join(src.tags), reference=src.reference.name,
                            mask=src.mask.name if src.mask else None, mask_method=src.mask_method,
                            mask_note=src.mask_note)

    def delete(self, character_id: int, *, remove_files: bool = True) -> None:
        """Delete the row (and its concepts) first; remove files only after the commit
        (the app moves them to its trash instead: remove_files=False)."""
        character = self.get(character_id)
        if character is None:
            return
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM characters WHERE id=?", (character_id,))
        if remove_files:
            shutil.rmtree(character.folder, ignore_errors=True)

    def snapshot(self, character_id: int) -> dict[str, list[dict]]:
        """The character's rows as they are (for undo of a delete)."""
        return {"characters": [dict(r) for r in self.db.query("SELECT * FROM characters WHERE id=?",
                                                                (character_id,))],
                "concepts": [dict(r) for r in self.db.query("SELECT * FROM concepts WHERE character_id=?",
                                                              (character_id,))],
                "jobs": [{"id": r[0]} for r in self.db.query("SELECT id FROM jobs WHERE character_id=?",
                                                             (character_id,))]}

    def restore(self, snapshot: dict[str, list[dict]]) -> None:
        with self.db.transaction() as conn:
            for table in ("characters", "concepts"):
                for row in snapshot.get(table, []):
                    cols = ", ".join(row)
                    conn.execute(f"INSERT INTO {table} ({cols}) VALUES ({', '.join('?' * len(row))})",
                                 tuple(row.values()))
            for row in snapshot.get("characters", []):  # its jobs point at it again
                for job in snapshot.get("jobs", []):
                    conn.execute("UPDATE jobs SET character_id=? WHERE id=?", (row["id"], job["id"]))

    def set_mask(self, character_id: int, method: str = "auto", mask_file: Optional[Path] = None) -> Character:
        """Recompute the mask with `method`, or load it from `mask_file` (white = subject)."""
        from PIL import Image

        from seal_engine.atomic import atomic_save_image
        from seal_engine.intake import load_image

        from ..engine_adapter import compute_mask

        character = self.get(character_id)
        if character is None:
            raise InputError("That character no longer exists.")
        reference = load_image(character.reference)
        if mask_file is not None:
            loaded = load_image(mask_file).convert("L")
            if loaded.size != reference.size:
                loaded = loaded.resize(reference.size, Image.NEAREST)
            mask_img = loaded.point(lambda v: 255 if v >= 128 else 0)
            method_used, note = "file", f"loaded from {Path(mask_file).name}"
        else:
            if method not in MASK_METHODS:
                raise InputError(f"Unknown mask method '{method}'; choose one of {', '.join(MASK_METHODS)}.")
            result = compute_mask(reference, method)
            mask_img, method_used, note = result.mask, result.method, result.note
        atomic_save_image(mask_img, character.folder / MASK_NAME)
        with self.db.transaction() as conn:
            conn.execute("UPDATE characters SET mask=?, mask_method=?, mask_note=?, updated_at=? WHERE id=?",
                         (MASK_NAME, method_used, note, time.time(), character_id))
        return self.get(character_id)  # type: ignore[return-value]

    def add_concept(self, character_id: int, path: Path, base_model: str, settings: dict[str, Any]) -> Concept:
        with self.db.transaction() as conn:
            cur = conn.execute("INSERT INTO concepts (character_id, path, base_model, settings, created_at)"
                               " VALUES (?,?,?,?,?)", (character_id, str(path), base_model,
                                                       json.dumps(settings, sort_keys=True), time.time()))
            cid = int(cur.lastrowid)
        return next(c for c in self.concepts(character_id) if c.id == cid)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "character"
