"""iMessage: an Xcode `.stickerpack` folder of PNGs, 408x408 (regular) <= 500,000 bytes.

Rules (specs/platforms.md): PNG, APNG, GIF or JPEG; small 300x300, regular
408x408, large 618x618; under 500 KB per file (we use <= 500,000 bytes);
description (accessibility label) <= 150 characters. The pack is the
`<Name>.stickerpack` folder Xcode keeps inside `Stickers.xcassets`: its
`Contents.json` sets grid-size "regular", and each sticker is a
`<name>.sticker` folder with its own `Contents.json` and PNG. iMessage accepts
the smaller 300x300 too, so the ladder may drop to it as its last resort.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

from .base import (ExportContext, FileRecord, PlatformRules, Prepared, PreparedPack, WriteResult, encode_stickers,
                   record, write_file)
from .canvas import fit_square, margin_for
from .checks import check_stickers, load_manifest
from .encoding import Codec, build_ladder
from .names import file_stem, slug

SIDES = {300: "small", 408: "regular", 618: "large"}
SIDE = 408
RULES = PlatformRules(key="imessage", display="iMessage", min_count=1, emoji_min=1, emoji_max=1, max_bytes=500_000)
LADDER = build_ladder(Codec.PNG, sizes=((SIDE, SIDE), (300, 300)))
DESCRIPTION_MAX = 150
XCODE_INFO = {"author": "xcode", "version": 1}


def _render(p: Prepared, size: Optional[tuple[int, int]]):
    side = (size or (SIDE, SIDE))[0]
    return fit_square(p.image, side, margin_for(side))


def _json(obj) -> bytes:
    return (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def write_pack(stage: Path, pack: PreparedPack, ctx: ExportContext) -> WriteResult:
    encoded = encode_stickers(pack.stickers, _render, LADDER, RULES.max_bytes, ctx)
    name = slug(pack.title, fallback="stickers")
    root = f"{name}.stickerpack"
    files, entries = [], []
    for p, enc in zip(pack.stickers, encoded):
        stem = file_stem(p.index, p.label)
        rel = f"{root}/{stem}.sticker/{stem}.png"
        write_file(stage, rel, enc.data)
        meta = {"info": XCODE_INFO, "properties": {"filename": f"{stem}.png",
                                                   "accessibility-label": p.label[:DESCRIPTION_MAX]}}
        write_file(stage, f"{root}/{stem}.sticker/Contents.json", _json(meta))
        entries.append({"filename": f"{stem}.sticker"})
        files.append(record(rel, "sticker", enc, label=p.label, emojis=p.emojis))
    data = _json({"info": XCODE_INFO, "properties": {"grid-size": SIDES[SIDE]}, "stickers": entries})
    write_file(stage, f"{root}/Contents.json", data)
    files.append(FileRecord(f"{root}/Contents.json", "metadata", len(data)))
    return WriteResult(name=name, cover=None, files=files, extra_manifest={"stickerpack": root})


def _square_side(w: int, h: int) -> Optional[str]:
    if w != h or w not in SIDES:
        return f"is {w}x{h}; iMessage stickers are 300x300, 408x408 or 618x618"
    return None


def validate(pack_dir: Path) -> list[str]:
    pack_dir = Path(pack_dir)
    man, v = load_manifest(pack_dir, RULES)
    if man is None:
        return v
    stickers = man["stickers"]
    v += check_stickers(pack_dir, stickers, RULES, fmt="PNG", size=_square_side, emojis=False)
    for s in stickers:
        if len(str(s.get("label", ""))) > DESCRIPTION_MAX:
            v.append(f"{s['file']}: description is over {DESCRIPTION_MAX} characters")
    root = man.get("stickerpack")
    if not isinstance(root, str) or not root.endswith(".stickerpack"):
        return v + ["pack.json has no '.stickerpack' folder name"]
    try:
        contents = json.loads((pack_dir / root / "Contents.json").read_text(encoding="utf-8"))
        listed = [e["filename"] for e in contents["stickers"]]
        grid = contents["properties"]["grid-size"]
    except Exception as err:
        return v + [f"{root}/Contents.json: missing or malformed ({type(err).__name__})"]
    if grid not in SIDES.values():
        v.append(f"{root}/Contents.json: grid-size {grid!r} must be small, regular or large")
    if len(listed) != len(stickers):
        v.append(f"{root}/Contents.json lists {len(listed)} stickers, the pack has {len(stickers)}")
    for folder in listed:
        try:
            meta = json.loads((pack_dir / root / folder / "Contents.json").read_text(encoding="utf-8"))
            png = meta["properties"]["filename"]
        except Exception as err:
            v.append(f"{root}/{folder}/Contents.json: missing or malformed ({type(err).__name__})")
            continue
        if not (pack_dir / root / folder / png).is_file():
            v.append(f"{root}/{folder}: {png} is missing")
        if len(str(meta["properties"].get("accessibility-label", ""))) > DESCRIPTION_MAX:
            v.append(f"{root}/{folder}: accessibility-label is over {DESCRIPTION_MAX} characters")
    return v
