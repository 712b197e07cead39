"""Signal: 512x512 WebP <= 300,000 bytes, exactly one emoji each, a cover, 1-200 per pack.

Rules (specs/platforms.md): Signal's sticker creator takes PNG, WebP or APNG,
fits each into 512x512 and stores WebP; the limit is 300 KiB, we keep the
stricter 300,000 bytes; 1-200 stickers; a cover is required (we write
`cover.webp` from the first sticker); exactly one emoji per sticker; title and
author required (Signal documents no length limit for them).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from .base import ExportContext, PlatformRules, Prepared, PreparedPack, WriteResult, encode_stickers, record, write_file
from .canvas import fit_square, margin_for
from .checks import check_image_file, check_stickers, exact_size, load_manifest
from .encoding import Codec, best_fit, build_ladder
from .names import file_stem, slug

SIDE = 512
RULES = PlatformRules(key="signal", display="Signal", min_count=1, max_count=200,
                      emoji_min=1, emoji_max=1, max_bytes=300_000)
LADDER = build_ladder(Codec.WEBP)
COVER = "cover.webp"


def _render(p: Prepared, size: Optional[tuple[int, int]]):
    return fit_square(p.image, SIDE, margin_for(SIDE))


def write_pack(stage: Path, pack: PreparedPack, ctx: ExportContext) -> WriteResult:
    encoded = encode_stickers(pack.stickers, _render, LADDER, RULES.max_bytes, ctx)
    files = []
    for p, enc in zip(pack.stickers, encoded):
        rel = file_stem(p.index, p.label) + ".webp"
        write_file(stage, rel, enc.data)
        files.append(record(rel, "sticker", enc, label=p.label, emojis=p.emojis))
    cover = best_fit(_render(pack.stickers[0], None), LADDER, RULES.max_bytes, label="The cover")
    write_file(stage, COVER, cover.data)
    files.append(record(COVER, "cover", cover))
    return WriteResult(name=slug(pack.title, fallback="signal_stickers"), cover=COVER, files=files)


def validate(pack_dir: Path) -> list[str]:
    man, v = load_manifest(pack_dir, RULES)
    if man is None:
        return v
    stickers = man["stickers"]
    v += check_stickers(pack_dir, stickers, RULES, fmt="WEBP", size=exact_size(SIDE, SIDE))
    cover = man.get("cover")
    if not cover:
        v.append("cover is missing (pack.json 'cover' is empty); Signal requires one")
    else:
        v += check_image_file(pack_dir, cover, fmt="WEBP", max_bytes=RULES.max_bytes, size=exact_size(SIDE, SIDE))
    return v
