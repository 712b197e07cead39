"""Telegram regular stickers: PNG, one side exactly 512 px, <= 512,000 bytes, 1-20 emoji.

Rules (specs/platforms.md): PNG or WebP; one side exactly 512 and the other
<= 512 with the aspect kept; 512,000 bytes per file (the older Bot API text --
current pages give no limit, so we keep the stricter number); 1-20 emoji per
sticker; set short name of ASCII letters, digits and '_', starting with a
letter, no '__', 1-64 chars; title 1-64 chars; up to 120 stickers per set;
100x100 set thumbnail <= 128 KB (we use 128,000 bytes) in the stickers' format.
We write PNG: the @Stickers bot accepts it everywhere, and lossless PNG fits the
budget for nearly every sticker; the ladder then goes down in palette colours.
Resolution cannot drop (one side must stay 512).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from .base import ExportContext, PlatformRules, Prepared, PreparedPack, WriteResult, encode_stickers, record, write_file
from .canvas import fit_long_side, fit_square, margin_for
from .checks import check_image_file, check_stickers, exact_size, load_manifest
from .encoding import Codec, best_fit, build_ladder
from .names import TELEGRAM_SHORT_NAME_RE, file_stem, telegram_short_name

SIDE = 512
THUMB_SIDE = 100
THUMB_MAX_BYTES = 128_000
RULES = PlatformRules(key="telegram", display="Telegram", min_count=1, max_count=120,
                      emoji_min=1, emoji_max=20, title_max=64, author_max=None, max_bytes=512_000)
LADDER = build_ladder(Codec.PNG)
THUMB = "thumb.png"


def _render(p: Prepared, size: Optional[tuple[int, int]]) -> "object":
    return fit_long_side(p.image, SIDE, margin_for(SIDE))


def write_pack(stage: Path, pack: PreparedPack, ctx: ExportContext) -> WriteResult:
    encoded = encode_stickers(pack.stickers, _render, LADDER, RULES.max_bytes, ctx)
    files = []
    for p, enc in zip(pack.stickers, encoded):
        rel = file_stem(p.index, p.label) + ".png"
        write_file(stage, rel, enc.data)
        files.append(record(rel, "sticker", enc, label=p.label, emojis=p.emojis))
    thumb_img = fit_square(pack.stickers[0].image, THUMB_SIDE, margin=2)
    thumb = best_fit(thumb_img, LADDER, THUMB_MAX_BYTES, label="The set thumbnail")
    write_file(stage, THUMB, thumb.data)
    files.append(record(THUMB, "thumbnail", thumb))
    return WriteResult(name=telegram_short_name(pack.title), cover=THUMB, files=files)


def _one_side_512(w: int, h: int) -> Optional[str]:
    if max(w, h) != SIDE or min(w, h) < 1:
        return f"is {w}x{h}; one side must be exactly {SIDE} and the other at most {SIDE}"
    return None


def validate(pack_dir: Path) -> list[str]:
    man, v = load_manifest(pack_dir, RULES)
    if man is None:
        return v
    name = man.get("name")
    if not isinstance(name, str) or not TELEGRAM_SHORT_NAME_RE.match(name):
        v.append(f"set short name {name!r}: must be 1-64 ASCII letters, digits or '_', start with a letter, no '__'")
    stickers = man["stickers"]
    v += check_stickers(pack_dir, stickers, RULES, fmt="PNG", size=_one_side_512)
    cover = man.get("cover")
    if not cover:
        v.append("set thumbnail is missing (pack.json 'cover' is empty)")
    else:
        v += check_image_file(pack_dir, cover, fmt="PNG", max_bytes=THUMB_MAX_BYTES,
                              size=exact_size(THUMB_SIDE, THUMB_SIDE))
    return v
