"""Atomic writes: a crash, a kill or a cancel never leaves a half-written file or folder.

Files are written under a temporary name in the same folder and renamed into
place (`os.replace` is atomic on one filesystem). Folders (concepts, packs) are
assembled in a hidden sibling and renamed into place only when complete.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator

from .errors import InputError


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=False) + "\n")


def atomic_save_image(image: Any, path: Path, **save_kwargs: Any) -> None:
    """Save a PIL image atomically; the format follows the suffix unless given."""
    import io

    path = Path(path)
    buf = io.BytesIO()
    fmt = save_kwargs.pop("format", None) or _format_for(path)
    image.save(buf, format=fmt, **save_kwargs)
    atomic_write_bytes(path, buf.getvalue())


def _format_for(path: Path) -> str:
    return {".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}.get(path.suffix.lower(), "PNG")


@contextlib.contextmanager
def staged_dir(final: Path, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield an empty hidden sibling folder; rename it to `final` on success.

    On any exception (a cancel included) the staging folder is removed and
    `final` is untouched. With `overwrite`, an existing `final` is replaced only
    after the new one is complete.
    """
    final = Path(final)
    if final.exists() and not overwrite:
        raise InputError(f"{final} already exists; choose another output folder or remove it first.")
    final.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{final.name}.staging-", dir=final.parent))
    try:
        yield stage
        if final.exists():
            trash = Path(tempfile.mkdtemp(prefix=f".{final.name}.old-", dir=final.parent))
            os.replace(final, trash / final.name)
            os.replace(stage, final)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.replace(stage, final)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
