"""Sticker-pack export: one module per platform, a registry, and the shared driver.

`export_pack` checks counts and text first (before any pixel work), loads every
image through `seal_engine.intake.load_image`, encodes each sticker with the
best setting under the platform's byte budget, writes the files into a hidden
staging folder, runs that platform's validator on it and only then renames it
into place -- a failure or a cancel leaves nothing, and an existing pack is
never touched unless `overwrite=True` (and then only once the new one is valid, and
only if it is a pack this tool wrote: a folder with `pack.json`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Protocol

from ..atomic import atomic_write_json, check_replaceable, staged_dir
from ..errors import ExportError, InputError, ValidationError
from ..progress import CancelToken, ProgressCallback
from . import discord, imessage, line, plain, signal, telegram, whatsapp
from .base import (MANIFEST, ExportContext, PackResult, PlatformRules, Prepared, PreparedPack, StickerInput,
                   manifest_dict)
from .emoji import choose_emojis
from .names import check_text, clean_text

__all__ = ["PLATFORMS", "StickerInput", "PackResult", "export_pack", "validate_pack", "platform_rules"]


class Platform(Protocol):
    RULES: PlatformRules

    def write_pack(self, stage: Path, pack: PreparedPack, ctx: ExportContext): ...

    def validate(self, pack_dir: Path) -> list[str]: ...


PLATFORMS: dict[str, Platform] = {
    "telegram": telegram,
    "whatsapp": whatsapp,
    "signal": signal,
    "line": line,
    "discord": discord,
    "imessage": imessage,
    "png": plain.PNG,
    "webp": plain.WEBP,
}


def _platform(key: str) -> Platform:
    try:
        return PLATFORMS[str(key).lower()]
    except KeyError:
        raise InputError(f"Unknown platform {key!r}; choose one of {', '.join(PLATFORMS)}.") from None


def platform_rules(key: str) -> PlatformRules:
    return _platform(key).RULES


def _load(item: StickerInput, index: int):
    from PIL import Image

    from ..intake import load_image, to_rgba8

    if isinstance(item.image, Image.Image):
        return to_rgba8(item.image)
    return load_image(Path(item.image))


def prepare(stickers: list[StickerInput], rules: PlatformRules, title: str, author: str,
            ctx: Optional[ExportContext] = None) -> PreparedPack:
    """Every check a user can fail, before any encoding: count, text, images, emoji."""
    problem = rules.count_problem(len(stickers))
    if problem:
        raise ExportError(problem)
    title = check_text(title, field="title", platform=rules.display, max_len=rules.title_max,
                       asian_double=rules.asian_double)
    author = check_text(author, field="author", platform=rules.display, max_len=rules.author_max,
                        asian_double=rules.asian_double)
    prepared = []
    for i, item in enumerate(stickers):
        if ctx is not None:
            ctx.check_cancel()
        label = clean_text(item.label) or (Path(item.image).stem if not hasattr(item.image, "size") else "")
        label = label or f"sticker {i + 1}"
        emojis = choose_emojis(label, list(item.emojis), lo=rules.emoji_min, hi=rules.emoji_max)
        prepared.append(Prepared(i, _load(item, i), label, emojis))
    return PreparedPack(title, author, prepared)


def export_pack(stickers: list[StickerInput], platform: str, *, title: str, author: str, out_dir: Path,
                overwrite: bool = False, progress: Optional[ProgressCallback] = None,
                cancel: Optional[CancelToken] = None, workers: Optional[int] = None) -> PackResult:
    """Write a validated pack for `platform` to `out_dir` (atomically) and describe it."""
    mod = _platform(platform)
    out_dir = Path(out_dir)
    check_replaceable(out_dir, overwrite=overwrite, markers=(MANIFEST,))  # before any pixel work
    ctx = ExportContext(progress=progress, cancel=cancel)
    if workers:
        ctx.workers = workers
    pack = prepare(list(stickers), mod.RULES, title, author, ctx)
    with staged_dir(out_dir, overwrite=overwrite, markers=(MANIFEST,)) as stage:
        written = mod.write_pack(stage, pack, ctx)
        manifest = manifest_dict(mod.RULES.key, pack, written)
        atomic_write_json(stage / MANIFEST, manifest)
        ctx.check_cancel()
        violations = mod.validate(stage)
        if violations:
            raise ValidationError(
                f"The {mod.RULES.display} pack breaks {len(violations)} platform rule(s), first: {violations[0]}",
                violations,
            )
    return PackResult(mod.RULES.key, out_dir, written.name, pack.title, pack.author, written.cover, written.files)


def validate_pack(pack_dir: Path, platform: str) -> list[str]:
    """Re-open every file of a written pack and list each rule it breaks (empty = clean)."""
    mod = _platform(platform)
    pack_dir = Path(pack_dir)
    if not pack_dir.is_dir():
        raise InputError(f"{pack_dir} is not a folder; give the pack folder that `seal export` wrote.")
    return mod.validate(pack_dir)
