"""LINE Creators Market (static): PNG <= 370x320 with even sides, 10 px margin, 8/16/24/32/40.

Rules (specs/platforms.md): PNG, RGB colour with a transparent background,
>= 72 dpi (we write 72); stickers at most 370x320 px, even width and height,
about 10 px of margin around the content (we trim and add exactly >= 10);
exactly 8, 16, 24, 32 or 40 stickers; main image 240x240; chat tab image 96x74;
<= 1 MB per image (we use 1,000,000 bytes) and the zip <= 20 MB (20,000,000
bytes, so each file's budget also shrinks to keep the zip under it); creator
<= 50, title <= 40 characters with wide Asian characters counting as 2. File
names inside the zip are unconfirmed by a primary source; we use the common
layout `01.png`..`40.png`, `main.png`, `tab.png`. LINE allows any size up to
370x320, so the ladder may shrink the canvas as its last resort.
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path
from typing import Optional

from .base import (ExportContext, FileRecord, PlatformRules, Prepared, PreparedPack, WriteResult, encode_stickers,
                   record, write_file)
from .canvas import fit_box, fit_square, fit_tight_even, trim
from .checks import check_count, check_image_bytes, check_image_file, exact_size, load_manifest, open_zip
from .encoding import Codec, best_fit, build_ladder
from .names import slug

MAX_W, MAX_H = 370, 320
MARGIN = 10
DPI = 72
MAIN = ("main.png", 240, 240)
TAB = ("tab.png", 96, 74)
FILE_MAX_BYTES = 1_000_000
ZIP_MAX_BYTES = 20_000_000
RULES = PlatformRules(key="line", display="LINE", allowed_counts=(8, 16, 24, 32, 40), emoji_min=1, emoji_max=1,
                      title_max=40, author_max=50, asian_double=True, max_bytes=FILE_MAX_BYTES)
SIZES = ((MAX_W, MAX_H), (314, 272), (258, 224))  # full canvas, then ~85% and ~70%
LADDER = build_ladder(Codec.PNG, sizes=SIZES)
EXTRA_LADDER = build_ladder(Codec.PNG)


def _render(p: Prepared, size: Optional[tuple[int, int]]):
    w, h = size or (MAX_W, MAX_H)
    return fit_tight_even(p.image, w, h, MARGIN)


def file_budget(count: int) -> int:
    """Per-file bytes so that count stickers + main + tab (+ zip overhead) stay under 20 MB."""
    return min(FILE_MAX_BYTES, (ZIP_MAX_BYTES - 100_000) // (count + 2))


def write_pack(stage: Path, pack: PreparedPack, ctx: ExportContext) -> WriteResult:
    budget = file_budget(len(pack.stickers))
    encoded = encode_stickers(pack.stickers, _render, LADDER, budget, ctx, dpi=DPI)
    files, members = [], {}
    for p, enc in zip(pack.stickers, encoded):
        rel = f"{p.index + 1:02d}.png"
        write_file(stage, rel, enc.data)
        members[rel] = enc.data
        files.append(record(rel, "sticker", enc, label=p.label, emojis=p.emojis))
    first = trim(pack.stickers[0].image)
    for (rel, w, h), role in ((MAIN, "main"), (TAB, "tab")):
        img = fit_square(first, w, margin=MARGIN) if w == h else fit_box(first, w - 4, h - 4)
        if img.size != (w, h):
            img = fit_box(img, w, h)
        enc = best_fit(img, EXTRA_LADDER, budget, label=f"The {role} image", dpi=DPI)
        write_file(stage, rel, enc.data)
        members[rel] = enc.data
        files.append(record(rel, role, enc))
    name = slug(pack.title, fallback="line_stickers")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for rel, data in members.items():
            zf.writestr(rel, data)
    zip_rel = f"{name}.zip"
    write_file(stage, zip_rel, buf.getvalue())
    files.append(FileRecord(zip_rel, "zip", len(buf.getvalue()), f"{len(members)} images"))
    return WriteResult(name=name, cover=MAIN[0], files=files, extra_manifest={"zip": zip_rel})


def _sticker_size(w: int, h: int) -> Optional[str]:
    problems = []
    if w > MAX_W or h > MAX_H:
        problems.append(f"larger than {MAX_W}x{MAX_H}")
    if w % 2 or h % 2:
        problems.append("width and height must be even")
    return f"is {w}x{h}: " + "; ".join(problems) if problems else None


def _margin_problem(data: bytes, name: str) -> list[str]:
    from PIL import Image

    try:
        im = Image.open(io.BytesIO(data)).convert("RGBA")
    except Exception:
        return []  # already reported by check_image_bytes
    box = im.getchannel("A").getbbox()
    if box is None:
        return [f"{name}: is fully transparent"]
    left, top, right, bottom = box[0], box[1], im.width - box[2], im.height - box[3]
    if min(left, top, right, bottom) < MARGIN:
        return [f"{name}: content is {min(left, top, right, bottom)} px from the edge; LINE needs a {MARGIN} px margin"]
    return []


def _check_sticker(data: bytes, name: str) -> list[str]:
    return check_image_bytes(data, name, fmt="PNG", max_bytes=FILE_MAX_BYTES, size=_sticker_size,
                             min_dpi=DPI) + _margin_problem(data, name)


def validate(pack_dir: Path) -> list[str]:
    pack_dir = Path(pack_dir)
    man, v = load_manifest(pack_dir, RULES)
    if man is None:
        return v
    stickers = man["stickers"]
    v += check_count(len(stickers), RULES)
    expected = [f"{i + 1:02d}.png" for i in range(len(stickers))]
    for want, s in zip(expected, stickers):
        if s["file"] != want:
            v.append(f"{s['file']}: LINE sticker files are named 01.png, 02.png, ...; expected {want}")
        path = pack_dir / s["file"]
        v += _check_sticker(path.read_bytes(), s["file"]) if path.is_file() else [f"{s['file']}: file is missing"]
    for rel, w, h in (MAIN, TAB):
        v += check_image_file(pack_dir, rel, fmt="PNG", max_bytes=FILE_MAX_BYTES, size=exact_size(w, h), min_dpi=DPI)
    zip_rel = man.get("zip") or next((p.name for p in pack_dir.glob("*.zip")), None)
    if not zip_rel:
        return v + ["the upload zip is missing"]
    zip_path = pack_dir / zip_rel
    if zip_path.is_file() and zip_path.stat().st_size > ZIP_MAX_BYTES:
        v.append(f"{zip_rel}: {zip_path.stat().st_size:,} bytes, over the {ZIP_MAX_BYTES:,}-byte limit")
    zf, found = open_zip(zip_path, zip_rel)
    v += found
    if zf is None:
        return v
    with zf:
        names = zf.namelist()
        want = set(expected) | {MAIN[0], TAB[0]}
        v += [f"{zip_rel}: {n} is missing" for n in sorted(want - set(names))]
        v += [f"{zip_rel}: unexpected member {n}" for n in sorted(set(names) - want)]
        for n in names:
            if re.fullmatch(r"\d\d\.png", n):
                v += _check_sticker(zf.read(n), f"{zip_rel}:{n}")
            elif n in (MAIN[0], TAB[0]):
                w, h = (MAIN if n == MAIN[0] else TAB)[1:]
                v += check_image_bytes(zf.read(n), f"{zip_rel}:{n}", fmt="PNG", max_bytes=FILE_MAX_BYTES,
                                       size=exact_size(w, h), min_dpi=DPI)
    return v
