"""Plain PNG or WebP sets for every other app: lossless, the stickers' own size, in a zip.

No platform rules apply, so there is no byte budget: every file is encoded
lossless (transparency kept) at the size it came in, numbered in order, and
zipped as `<name>.zip` for sharing. Two platform keys share this module:
`png` and `webp`.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Optional

from .base import (ExportContext, FileRecord, PlatformRules, Prepared, PreparedPack, WriteResult, encode_stickers,
                   record, write_file)
from .checks import check_count, check_image_bytes, check_image_file, load_manifest, open_zip
from .encoding import Codec, build_ladder
from .names import file_stem, slug


class PlainSet:
    """A plain set in one codec; `PNG` and `WEBP` below are the two registered platforms."""

    def __init__(self, codec: Codec):
        self.codec = codec
        self.RULES = PlatformRules(key=codec.value, display=f"Plain {codec.value.upper()}", min_count=1,
                                   emoji_min=1, emoji_max=3)
        self.LADDER = build_ladder(codec)[:1]  # lossless only

    @staticmethod
    def _render(p: Prepared, size: Optional[tuple[int, int]]):
        return p.image

    def write_pack(self, stage: Path, pack: PreparedPack, ctx: ExportContext) -> WriteResult:
        encoded = encode_stickers(pack.stickers, self._render, self.LADDER, None, ctx)
        files, members = [], {}
        for p, enc in zip(pack.stickers, encoded):
            rel = file_stem(p.index, p.label) + self.codec.suffix
            write_file(stage, rel, enc.data)
            members[rel] = enc.data
            files.append(record(rel, "sticker", enc, label=p.label, emojis=p.emojis))
        name = slug(pack.title, fallback="stickers")
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
            for rel, data in members.items():
                zf.writestr(rel, data)
        zip_rel = f"{name}-{self.codec.value}.zip"
        write_file(stage, zip_rel, buf.getvalue())
        files.append(FileRecord(zip_rel, "zip", len(buf.getvalue()), f"{len(members)} images"))
        return WriteResult(name=name, cover=files[0].file, files=files, extra_manifest={"zip": zip_rel})

    def validate(self, pack_dir: Path) -> list[str]:
        pack_dir = Path(pack_dir)
        man, v = load_manifest(pack_dir, self.RULES)
        if man is None:
            return v
        stickers = man["stickers"]
        v += check_count(len(stickers), self.RULES)
        fmt = self.codec.pil_format
        anything = lambda w, h: None  # noqa: E731 -- any size is fine for plain sets
        for s in stickers:
            v += check_image_file(pack_dir, s["file"], fmt=fmt, max_bytes=None, size=anything)
        zip_rel = man.get("zip")
        zf, found = open_zip(pack_dir / str(zip_rel), str(zip_rel))
        v += found
        if zf is not None:
            with zf:
                names = zf.namelist()
                want = [s["file"] for s in stickers]
                v += [f"{zip_rel}: {n} is missing" for n in want if n not in names]
                v += [f"{zip_rel}: unexpected member {n}" for n in names if n not in want]
                for n in names:
                    v += check_image_bytes(zf.read(n), f"{zip_rel}:{n}", fmt=fmt, max_bytes=None, size=anything)
        return v


PNG = PlainSet(Codec.PNG)
WEBP = PlainSet(Codec.WEBP)
