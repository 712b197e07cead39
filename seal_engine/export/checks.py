"""Building blocks of the per-platform validators: each returns violation lines.

Validators never trust the manifest's numbers: they re-open every file from
disk (or from inside the zip), and check format, pixel size, bytes, frame count
and transparency against the platform's rules.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any, Callable, Optional

from PIL import Image, UnidentifiedImageError

from .base import MANIFEST, PlatformRules
from .emoji import is_emoji
from .names import clean_text, text_width

SizeRule = Callable[[int, int], Optional[str]]  # returns a problem or None


def exact_size(w: int, h: int) -> SizeRule:
    return lambda W, H: None if (W, H) == (w, h) else f"is {W}x{H}, must be exactly {w}x{h}"


def load_manifest(pack_dir: Path, rules: PlatformRules) -> tuple[Optional[dict[str, Any]], list[str]]:
    """Read pack.json and check the fields every platform shares."""
    pack_dir = Path(pack_dir)
    path = pack_dir / MANIFEST
    if not path.is_file():
        return None, [f"{MANIFEST} is missing"]
    try:
        man = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        return None, [f"{MANIFEST} is not valid JSON ({err})"]
    if not isinstance(man, dict):
        return None, [f"{MANIFEST} is not a JSON object"]
    v: list[str] = []
    for key in ("platform", "title", "author", "name", "cover", "stickers"):
        if key not in man:
            v.append(f"{MANIFEST} has no {key!r} field")
    if man.get("platform") not in (None, rules.key):
        v.append(f"{MANIFEST} says platform {man.get('platform')!r}, expected {rules.key!r}")
    if not isinstance(man.get("stickers", []), list) or not all(
        isinstance(s, dict) and isinstance(s.get("file"), str) for s in man.get("stickers", [])
    ):
        v.append(f"{MANIFEST} 'stickers' must be a list of objects with a 'file'")
        man["stickers"] = []
    for fld, limit in (("title", rules.title_max), ("author", rules.author_max)):
        text = man.get(fld)
        if not isinstance(text, str) or not clean_text(text):
            v.append(f"{fld} is empty; {rules.display} requires one")
        elif limit is not None and text_width(text, asian_double=rules.asian_double) > limit:
            v.append(f"{fld} is {text_width(text, asian_double=rules.asian_double)} characters, over {rules.display}'s {limit}")
    for s in man["stickers"]:
        rel = s["file"]
        if Path(rel).is_absolute() or ".." in Path(rel).parts:
            v.append(f"{rel}: sticker path must stay inside the pack")
    return man, v


def check_count(n: int, rules: PlatformRules, what: str = "pack") -> list[str]:
    problem = rules.count_problem(n)
    return [f"{what}: {problem}"] if problem else []


def check_emojis(entry: dict[str, Any], rules: PlatformRules) -> list[str]:
    name = entry.get("file", "?")
    emojis = entry.get("emojis")
    if not isinstance(emojis, list) or not all(isinstance(e, str) for e in emojis):
        return [f"{name}: 'emojis' must be a list of emoji"]
    v = []
    if not rules.emoji_min <= len(emojis) <= rules.emoji_max:
        want = (str(rules.emoji_min) if rules.emoji_min == rules.emoji_max
                else f"{rules.emoji_min}-{rules.emoji_max}")
        v.append(f"{name}: has {len(emojis)} emoji, {rules.display} needs {want}")
    v += [f"{name}: {e!r} is not an emoji" for e in emojis if not is_emoji(e)]
    return v


def check_image_bytes(data: bytes, name: str, *, fmt: str, max_bytes: Optional[int], size: SizeRule,
                      need_alpha: bool = True, min_dpi: Optional[float] = None) -> list[str]:
    """Format, pixel size, byte budget, single frame, transparency (and DPI) of one image."""
    v: list[str] = []
    if max_bytes is not None and len(data) > max_bytes:
        v.append(f"{name}: {len(data):,} bytes, over the {max_bytes:,}-byte limit")
    try:
        im = Image.open(io.BytesIO(data))
        im.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        return v + [f"{name}: cannot be read as an image ({err})"]
    if im.format != fmt:
        v.append(f"{name}: is {im.format}, must be {fmt}")
    problem = size(*im.size)
    if problem:
        v.append(f"{name}: {problem}")
    if getattr(im, "n_frames", 1) != 1 or getattr(im, "is_animated", False):
        v.append(f"{name}: is animated ({getattr(im, 'n_frames', '?')} frames); static stickers have one frame")
    if need_alpha and not (im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info):
        v.append(f"{name}: has no transparency (mode {im.mode}); stickers need an alpha channel")
    if min_dpi is not None:
        dpi = im.info.get("dpi")
        if not dpi or min(float(dpi[0]), float(dpi[1])) < min_dpi - 0.5:
            v.append(f"{name}: resolution is {dpi or 'unset'} dpi, must be at least {min_dpi:g}")
    return v


def check_image_file(pack_dir: Path, rel: str, **kw: Any) -> list[str]:
    path = Path(pack_dir) / rel
    if not path.is_file():
        return [f"{rel}: file is missing"]
    return check_image_bytes(path.read_bytes(), rel, **kw)


def check_stickers(pack_dir: Path, stickers: list[dict[str, Any]], rules: PlatformRules, *, fmt: str,
                   size: SizeRule, emojis: bool = True) -> list[str]:
    """The rules every platform applies to each sticker: count, emoji, format, pixel size, bytes."""
    v = check_count(len(stickers), rules)
    for s in stickers:
        if emojis:
            v += check_emojis(s, rules)
        if not s["file"].lower().endswith("." + fmt.lower().replace("jpeg", "jpg")):
            v.append(f"{s['file']}: must be a .{fmt.lower()} file")
        v += check_image_file(pack_dir, s["file"], fmt=fmt, max_bytes=rules.max_bytes, size=size)
    return v


def open_zip(path: Path, rel: str) -> tuple[Optional[zipfile.ZipFile], list[str]]:
    if not path.is_file():
        return None, [f"{rel}: file is missing"]
    try:
        zf = zipfile.ZipFile(path)
        bad = zf.testzip()
    except (zipfile.BadZipFile, OSError) as err:
        return None, [f"{rel}: is not a valid zip ({err})"]
    if bad:
        return None, [f"{rel}: member {bad} is corrupted"]
    return zf, []
