"""Records shared by every exporter, and the steps they all take.

A platform module provides `RULES` (its limits), `write_pack(stage, pack, ctx)`
(writes the platform's files into the staging folder and returns the manifest
entries) and `validate(pack_dir)` (re-opens every file and lists violations).
`seal_engine.export.export_pack` drives them: check, load, encode, write,
validate, rename into place.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Union

from PIL import Image

from ..progress import CancelToken, EtaClock, ProgressCallback, ProgressEvent
from .encoding import Encoded, Render, Rung, best_fit

MANIFEST = "pack.json"


@dataclass
class StickerInput:
    """One finished sticker: an image (PIL or a file path), its label and emoji."""

    image: Union[Image.Image, Path, str]
    label: str = ""
    emojis: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PlatformRules:
    """The limits an exporter enforces and its validator checks (from specs/platforms.md)."""

    key: str
    display: str
    min_count: int = 1
    max_count: Optional[int] = None
    allowed_counts: Optional[tuple[int, ...]] = None  # LINE: exact counts only
    emoji_min: int = 1
    emoji_max: int = 1
    title_max: Optional[int] = None
    author_max: Optional[int] = None
    asian_double: bool = False  # LINE counts wide characters twice
    max_bytes: Optional[int] = None  # per sticker file

    def count_problem(self, n: int) -> Optional[str]:
        if self.allowed_counts is not None:
            if n not in self.allowed_counts:
                allowed = ", ".join(map(str, self.allowed_counts[:-1])) + f" or {self.allowed_counts[-1]}"
                return f"{self.display} packs need exactly {allowed} stickers, not {n}."
            return None
        if n < self.min_count:
            return f"{self.display} packs need at least {self.min_count} stickers, not {n}."
        if self.max_count is not None and n > self.max_count:
            return f"{self.display} packs hold at most {self.max_count} stickers, not {n}."
        return None


@dataclass
class Prepared:
    """A sticker after intake: RGBA pixels, cleaned label, the platform's emoji."""

    index: int
    image: Image.Image
    label: str
    emojis: list[str]


@dataclass
class PreparedPack:
    title: str
    author: str
    stickers: list[Prepared]


@dataclass
class ExportContext:
    progress: Optional[ProgressCallback] = None
    cancel: Optional[CancelToken] = None
    workers: int = field(default_factory=lambda: max(1, min(4, os.cpu_count() or 1)))

    def check_cancel(self) -> None:
        if self.cancel is not None:
            self.cancel.raise_if_cancelled()

    def report(self, step: int, total: int, message: str, clock: Optional[EtaClock] = None) -> None:
        if self.progress is not None:
            self.progress(ProgressEvent("export", step, total, eta_s=clock.eta(step) if clock else None,
                                        message=message))


@dataclass
class FileRecord:
    """One written file: its name in the pack, bytes and the encoder setting chosen."""

    file: str
    role: str  # sticker, tray, thumbnail, cover, main, tab, zip, wastickers, metadata
    bytes: int
    encoding: str = ""
    width: int = 0
    height: int = 0
    label: str = ""
    emojis: list[str] = field(default_factory=list)
    ladder_index: Optional[int] = None


@dataclass
class PackResult:
    platform: str
    pack_dir: Path
    name: str
    title: str
    author: str
    cover: Optional[str]
    files: list[FileRecord]

    @property
    def stickers(self) -> list[FileRecord]:
        return [f for f in self.files if f.role == "sticker"]

    @property
    def total_bytes(self) -> int:
        return sum(f.bytes for f in self.files)


@dataclass
class WriteResult:
    """What a platform's `write_pack` hands back for the manifest."""

    name: str
    cover: Optional[str]
    files: list[FileRecord]
    extra_manifest: dict[str, Any] = field(default_factory=dict)


def encode_stickers(stickers: list[Prepared], render: Callable[[Prepared, Optional[tuple[int, int]]], Image.Image],
                    ladder: list[Rung], max_bytes: Optional[int], ctx: ExportContext, *,
                    dpi: Optional[int] = None) -> list[Encoded]:
    """Best fit for every sticker, in parallel threads (Pillow's encoders release the GIL)."""
    total = len(stickers)
    clock = EtaClock(total)
    done = 0

    def one(p: Prepared) -> Encoded:
        ctx.check_cancel()
        rend: Render = lambda size, p=p: render(p, size)
        return best_fit(rend, ladder, max_bytes, label=f"Sticker {p.index + 1} ({p.label})", dpi=dpi)

    results: list[Encoded] = []
    with ThreadPoolExecutor(max_workers=ctx.workers) as pool:
        for p, enc in zip(stickers, pool.map(one, stickers)):
            results.append(enc)
            done += 1
            ctx.report(done, total, f"{p.label}: {enc.rung.describe()}, {enc.nbytes:,} bytes", clock)
    return results


def write_file(stage: Path, rel: str, data: bytes) -> None:
    path = stage / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)  # the whole folder is staged; atomicity comes from staged_dir


def record(rel: str, role: str, enc: Encoded, *, label: str = "", emojis: Optional[list[str]] = None) -> FileRecord:
    return FileRecord(rel, role, enc.nbytes, enc.rung.describe(), enc.size[0], enc.size[1], label,
                      list(emojis or []), enc.index)


def manifest_dict(platform: str, pack: PreparedPack, written: WriteResult) -> dict[str, Any]:
    stickers = [
        {"file": f.file, "emojis": f.emojis, "label": f.label, "bytes": f.bytes, "encoding": f.encoding}
        for f in written.files if f.role == "sticker"
    ]
    extras = [
        {"file": f.file, "role": f.role, "bytes": f.bytes, "encoding": f.encoding}
        for f in written.files if f.role != "sticker"
    ]
    out: dict[str, Any] = {
        "platform": platform,
        "title": pack.title,
        "author": pack.author,
        "name": written.name,
        "cover": written.cover,
        "stickers": stickers,
        "files": extras,
    }
    out.update(written.extra_manifest)
    return out
