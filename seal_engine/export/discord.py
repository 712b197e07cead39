"""Discord server stickers: 320x320 PNG <= 500,000 bytes, name 2-30, tags <= 200.

Rules (specs/platforms.md): PNG (or APNG/GIF/Lottie) 320x320; 512 KiB per file,
we keep the stricter 500,000 bytes; sticker name 2-30 chars; description empty
or 2-100 chars; tags (the related emoji's name or the emoji) <= 200 chars.
Discord uploads stickers one by one in Server Settings > Stickers, so the pack
is a folder of PNGs plus `stickers.json` with the name, tag and description to
type for each. Server slot counts (5-60 by boost level) are the server's, not a
file rule, so no count limit is enforced beyond at least one sticker.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

from .base import (ExportContext, FileRecord, PlatformRules, Prepared, PreparedPack, WriteResult, encode_stickers,
                   record, write_file)
from .canvas import fit_square, margin_for
from .checks import check_stickers, exact_size, load_manifest
from .encoding import Codec, build_ladder
from .names import discord_sticker_name, slug

SIDE = 320
RULES = PlatformRules(key="discord", display="Discord", min_count=1, emoji_min=1, emoji_max=1, max_bytes=500_000)
LADDER = build_ladder(Codec.PNG)
DETAILS = "stickers.json"
NAME_LEN = (2, 30)
DESCRIPTION_MAX = 100
TAGS_MAX = 200


def _render(p: Prepared, size: Optional[tuple[int, int]]):
    return fit_square(p.image, SIDE, margin_for(SIDE))


def _description(label: str) -> str:
    text = label.strip()[:DESCRIPTION_MAX]
    return text if len(text) >= 2 else ""


def write_pack(stage: Path, pack: PreparedPack, ctx: ExportContext) -> WriteResult:
    encoded = encode_stickers(pack.stickers, _render, LADDER, RULES.max_bytes, ctx)
    files, details = [], []
    for p, enc in zip(pack.stickers, encoded):
        rel = f"{p.index + 1:02d}_{slug(p.label)}.png"
        write_file(stage, rel, enc.data)
        files.append(record(rel, "sticker", enc, label=p.label, emojis=p.emojis))
        details.append({"file": rel, "name": discord_sticker_name(p.label, p.index),
                        "description": _description(p.label), "tags": "".join(p.emojis)[:TAGS_MAX]})
    data = (json.dumps({"stickers": details}, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    write_file(stage, DETAILS, data)
    files.append(FileRecord(DETAILS, "metadata", len(data)))
    return WriteResult(name=slug(pack.title, fallback="discord_stickers"), cover=None, files=files)


def _check_details(pack_dir: Path, files: list[str]) -> list[str]:
    path = pack_dir / DETAILS
    try:
        items = json.loads(path.read_text(encoding="utf-8"))["stickers"]
    except Exception as err:
        return [f"{DETAILS}: missing or malformed ({type(err).__name__})"]
    v = []
    if [i.get("file") for i in items] != files:
        v.append(f"{DETAILS}: does not list the pack's stickers in order")
    for i in items:
        f, name, desc, tags = i.get("file"), str(i.get("name", "")), str(i.get("description", "")), str(i.get("tags", ""))
        if not NAME_LEN[0] <= len(name) <= NAME_LEN[1]:
            v.append(f"{f}: sticker name {name!r} must be {NAME_LEN[0]}-{NAME_LEN[1]} characters")
        if desc and not 2 <= len(desc) <= DESCRIPTION_MAX:
            v.append(f"{f}: description must be empty or 2-{DESCRIPTION_MAX} characters")
        if not tags or len(tags) > TAGS_MAX:
            v.append(f"{f}: tags must be 1-{TAGS_MAX} characters")
    return v


def validate(pack_dir: Path) -> list[str]:
    pack_dir = Path(pack_dir)
    man, v = load_manifest(pack_dir, RULES)
    if man is None:
        return v
    stickers = man["stickers"]
    v += check_stickers(pack_dir, stickers, RULES, fmt="PNG", size=exact_size(SIDE, SIDE))
    v += _check_details(pack_dir, [s["file"] for s in stickers])
    return v
