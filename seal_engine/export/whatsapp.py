"""WhatsApp: 512x512 WebP <= 100,000 bytes, 96x96 tray PNG <= 50,000 bytes, 3-30 per pack.

Rules (specs/platforms.md): static WebP exactly 512x512; the reference code
says 100 * 1024 bytes, the converter 100,000 -- we keep 100,000; tray icon 96x96
PNG <= 50,000 bytes; 1-3 emoji per sticker; identifier of letters, digits,
`_ - . , '` and space, no '..', <= 128 chars; name and publisher required,
<= 128 chars; accessibility_text <= 125 chars. A pack holds 3-30 stickers, so a
larger set is split into several packs, each its own `.wastickers` zip
(title.txt and author.txt ending in a newline, the tray PNG, the WebP files) and
its own entry in `contents.json` (the sample app's format). Every WebP is
encoded here (some other encoders' files are refused by WhatsApp).
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import zipfile
from pathlib import Path
from typing import Any, Optional

from .base import ExportContext, FileRecord, PlatformRules, Prepared, PreparedPack, WriteResult, encode_stickers, record, write_file
from .canvas import fit_square, margin_for
from .checks import check_emojis, check_image_bytes, check_image_file, exact_size, load_manifest, open_zip
from .encoding import Codec, best_fit, build_ladder
from .names import WHATSAPP_IDENTIFIER_RE, file_stem, whatsapp_identifier

SIDE = 512
TRAY_SIDE = 96
TRAY_MAX_BYTES = 50_000
PACK_MAX = 30
PACK_MIN = 3
TEXT_MAX = 128
ACCESSIBILITY_MAX = 125
RULES = PlatformRules(key="whatsapp", display="WhatsApp", min_count=PACK_MIN, max_count=None,
                      emoji_min=1, emoji_max=3, title_max=TEXT_MAX - len(" (10/10)"), author_max=TEXT_MAX,
                      max_bytes=100_000)
LADDER = build_ladder(Codec.WEBP)
TRAY_LADDER = build_ladder(Codec.PNG)
TRAY = "tray.png"
CONTENTS = "contents.json"


def split_counts(n: int) -> list[int]:
    """Split n >= 3 stickers into as few packs of <= 30 as possible, sizes as even as possible."""
    packs = max(1, math.ceil(n / PACK_MAX))
    return [n // packs + (1 if i < n % packs else 0) for i in range(packs)]


def render_sticker(p: Prepared, size: Optional[tuple[int, int]]):
    return fit_square(p.image, SIDE, margin_for(SIDE))


def write_pack(stage: Path, pack: PreparedPack, ctx: ExportContext) -> WriteResult:
    encoded = encode_stickers(pack.stickers, render_sticker, LADDER, RULES.max_bytes, ctx)
    files, datas = [], {}
    for p, enc in zip(pack.stickers, encoded):
        rel = file_stem(p.index, p.label) + ".webp"
        write_file(stage, rel, enc.data)
        datas[rel] = enc.data
        files.append(record(rel, "sticker", enc, label=p.label, emojis=p.emojis))
    tray = best_fit(fit_square(pack.stickers[0].image, TRAY_SIDE, margin=2), TRAY_LADDER,
                    TRAY_MAX_BYTES, label="The tray icon")
    write_file(stage, TRAY, tray.data)
    files.append(record(TRAY, "tray", tray))

    identifier = whatsapp_identifier(pack.title)[:120].rstrip(".")
    version = hashlib.sha256(b"".join(datas.values()) + tray.data).hexdigest()[:12]
    sticker_files = [f for f in files if f.role == "sticker"]
    counts = split_counts(len(sticker_files))
    packs, archives, start = [], [], 0
    for k, count in enumerate(counts):
        chunk = sticker_files[start:start + count]
        start += count
        pid = identifier if len(counts) == 1 else f"{identifier}_{k + 1}"
        title = pack.title if len(counts) == 1 else f"{pack.title} ({k + 1}/{len(counts)})"
        packs.append({
            "identifier": pid, "name": title, "publisher": pack.author, "tray_image_file": TRAY,
            "image_data_version": version, "avoid_cache": False, "publisher_email": "",
            "publisher_website": "", "privacy_policy_website": "", "license_agreement_website": "",
            "animated_sticker_pack": False,
            "stickers": [{"image_file": f.file, "emojis": f.emojis,
                          "accessibility_text": f.label[:ACCESSIBILITY_MAX]} for f in chunk],
        })
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("title.txt", title + "\n")
            zf.writestr("author.txt", pack.author + "\n")
            zf.writestr(TRAY, tray.data)
            for f in chunk:
                zf.writestr(f.file, datas[f.file])
        rel = f"{pid}.wastickers"
        write_file(stage, rel, buf.getvalue())
        archives.append(rel)
        files.append(FileRecord(rel, "wastickers", len(buf.getvalue()), f"{count} stickers"))
    contents = {"android_play_store_link": "", "ios_app_store_link": "", "sticker_packs": packs}
    data = (json.dumps(contents, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    write_file(stage, CONTENTS, data)
    files.append(FileRecord(CONTENTS, "metadata", len(data)))
    return WriteResult(name=identifier, cover=TRAY, files=files, extra_manifest={"wastickers": archives})


def _check_identifier(ident: Any, what: str) -> list[str]:
    if not isinstance(ident, str) or not WHATSAPP_IDENTIFIER_RE.match(ident) or ".." in ident:
        return [f"{what} {ident!r}: must be 1-128 letters, digits, _ - . , ' or spaces, without '..'"]
    return []


def _check_sticker_bytes(data: bytes, name: str) -> list[str]:
    return check_image_bytes(data, name, fmt="WEBP", max_bytes=RULES.max_bytes, size=exact_size(SIDE, SIDE))


def _check_tray_bytes(data: bytes, name: str) -> list[str]:
    return check_image_bytes(data, name, fmt="PNG", max_bytes=TRAY_MAX_BYTES, size=exact_size(TRAY_SIDE, TRAY_SIDE))


def _check_text(value: Any, what: str) -> list[str]:
    if not isinstance(value, str) or not value.strip():
        return [f"{what} is empty; WhatsApp requires it"]
    if len(value) > TEXT_MAX:
        return [f"{what} is {len(value)} characters, over WhatsApp's {TEXT_MAX}"]
    return []


def _check_contents(pack_dir: Path) -> list[str]:
    path = pack_dir / CONTENTS
    if not path.is_file():
        return [f"{CONTENTS}: file is missing"]
    try:
        contents = json.loads(path.read_text(encoding="utf-8"))
        packs = contents["sticker_packs"]
        assert isinstance(packs, list) and packs
    except Exception as err:  # any malformed shape is one violation
        return [f"{CONTENTS}: has no list of sticker_packs ({type(err).__name__})"]
    v: list[str] = []
    for i, p in enumerate(packs):
        where = f"{CONTENTS} pack {i + 1}"
        if not isinstance(p, dict):
            v.append(f"{where}: is not an object")
            continue
        for key in ("identifier", "name", "publisher", "tray_image_file", "image_data_version", "stickers"):
            if key not in p:
                v.append(f"{where}: field {key!r} is missing")
        v += _check_identifier(p.get("identifier"), f"{where} identifier")
        v += _check_text(p.get("name"), f"{where} name")
        v += _check_text(p.get("publisher"), f"{where} publisher")
        if p.get("animated_sticker_pack"):
            v.append(f"{where}: marked animated but the stickers are static")
        for key in ("publisher_website", "privacy_policy_website", "license_agreement_website"):
            link = p.get(key) or ""
            if link and not str(link).startswith(("http://", "https://")):
                v.append(f"{where}: {key} {link!r} must be an http(s) link")
        tray = p.get("tray_image_file")
        if isinstance(tray, str) and not (pack_dir / tray).is_file():
            v.append(f"{where}: tray_image_file {tray!r} is missing")
        stickers = p.get("stickers") or []
        if not PACK_MIN <= len(stickers) <= PACK_MAX:
            v.append(f"{where}: has {len(stickers)} stickers, WhatsApp packs need {PACK_MIN}-{PACK_MAX}")
        for s in stickers:
            f = s.get("image_file", "?") if isinstance(s, dict) else "?"
            if not (pack_dir / f).is_file():
                v.append(f"{where}: sticker {f!r} is missing")
            v += [f"{CONTENTS} {m}" for m in check_emojis({"file": f, "emojis": s.get("emojis")}, RULES)]
            if len(str(s.get("accessibility_text", ""))) > ACCESSIBILITY_MAX:
                v.append(f"{where}: {f} accessibility_text is over {ACCESSIBILITY_MAX} characters")
    return v


def _check_wastickers(pack_dir: Path, rel: str) -> tuple[list[str], int]:
    zf, v = open_zip(pack_dir / rel, rel)
    if zf is None:
        return v, 0
    with zf:
        names = zf.namelist()
        for txt in ("title.txt", "author.txt"):
            if txt not in names:
                v.append(f"{rel}: {txt} is missing")
                continue
            text = zf.read(txt).decode("utf-8", "replace")
            if not text.endswith("\n"):
                v.append(f"{rel}: {txt} must end with a newline")
            v += [f"{rel}: {m}" for m in _check_text(text.strip(), txt)]
        pngs = [n for n in names if n.lower().endswith(".png")]
        webps = [n for n in names if n.lower().endswith(".webp")]
        others = [n for n in names if n not in pngs + webps + ["title.txt", "author.txt"]]
        if len(pngs) != 1:
            v.append(f"{rel}: must hold exactly one tray PNG, found {len(pngs)}")
        for n in pngs:
            v += _check_tray_bytes(zf.read(n), f"{rel}:{n}")
        if not PACK_MIN <= len(webps) <= PACK_MAX:
            v.append(f"{rel}: has {len(webps)} stickers, a .wastickers file needs {PACK_MIN}-{PACK_MAX}")
        for n in webps:
            v += _check_sticker_bytes(zf.read(n), f"{rel}:{n}")
        v += [f"{rel}: unexpected member {n}" for n in others]
    return v, len(webps)


def validate(pack_dir: Path) -> list[str]:
    pack_dir = Path(pack_dir)
    man, v = load_manifest(pack_dir, RULES)
    if man is None:
        return v
    v += _check_identifier(man.get("name"), "identifier")
    for fld in ("title", "author"):
        if isinstance(man.get(fld), str) and len(man[fld]) > TEXT_MAX:
            v.append(f"{fld} is {len(man[fld])} characters, over WhatsApp's {TEXT_MAX}")
    stickers = man["stickers"]
    if len(stickers) < PACK_MIN:
        v.append(f"pack: WhatsApp packs need at least {PACK_MIN} stickers, not {len(stickers)}")
    for s in stickers:
        v += check_emojis(s, RULES)
        v += check_image_file(pack_dir, s["file"], fmt="WEBP", max_bytes=RULES.max_bytes, size=exact_size(SIDE, SIDE))
    cover = man.get("cover")
    if not cover:
        v.append("tray icon is missing (pack.json 'cover' is empty)")
    else:
        v += check_image_file(pack_dir, cover, fmt="PNG", max_bytes=TRAY_MAX_BYTES,
                              size=exact_size(TRAY_SIDE, TRAY_SIDE))
    v += _check_contents(pack_dir)
    archives = man.get("wastickers") or sorted(p.name for p in pack_dir.glob("*.wastickers"))
    if not archives:
        v.append("no .wastickers file in the pack")
    total = 0
    for rel in archives:
        found, n = _check_wastickers(pack_dir, rel)
        v += found
        total += n
    if archives and total != len(stickers):
        v.append(f".wastickers files hold {total} stickers, the pack has {len(stickers)}")
    return v
