"""Validators catch every kind of violation: write a clean pack, break it, see the line."""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from pathlib import Path
from typing import Callable

import pytest
from PIL import Image

from export_helpers import fixture_stickers, noisy_sticker
from seal_engine.errors import InputError
from seal_engine.export import PLATFORMS, export_pack, validate_pack

COUNT = {"line": 8, "whatsapp": 3}


@pytest.fixture(scope="module")
def clean_packs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("clean")
    return {p: export_pack(fixture_stickers(COUNT.get(p, 3), emojis=["😀"]), p, title="Seal Friends", author="Tests",
                           out_dir=root / p).pack_dir for p in PLATFORMS}


def broken(clean_packs, tmp_path, platform: str, mutate: Callable[[Path, dict], None]) -> list[str]:
    pack = tmp_path / platform
    shutil.copytree(clean_packs[platform], pack)
    man = json.loads((pack / "pack.json").read_text(encoding="utf-8"))
    mutate(pack, man)
    if (pack / "pack.json").exists():
        (pack / "pack.json").write_text(json.dumps(man, ensure_ascii=False), encoding="utf-8")
    return validate_pack(pack, platform)


def first(pack: Path, man: dict) -> Path:
    return pack / man["stickers"][0]["file"]


def save(path: Path, image: Image.Image, fmt: str, **kw) -> None:
    buf = io.BytesIO()
    image.save(buf, fmt, **kw)
    path.write_bytes(buf.getvalue())


def rewrite_zip(path: Path, drop: str = "", replace: dict[str, bytes] | None = None) -> None:
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist() if n != drop}
    members.update(replace or {})
    with zipfile.ZipFile(path, "w") as zf:
        for n, d in members.items():
            zf.writestr(n, d)


def test_clean_packs_are_clean(clean_packs):
    for platform, pack in clean_packs.items():
        assert validate_pack(pack, platform) == [], platform


CASES: dict[str, tuple[str, Callable[[Path, dict], None], str]] = {
    "wrong size": ("telegram", lambda p, m: save(first(p, m), Image.new("RGBA", (500, 500)), "PNG"),
                   "one side must be exactly 512"),
    "too many bytes": ("telegram", lambda p, m: save(first(p, m), noisy_sticker(1, (512, 512)), "PNG"),
                       "over the 512,000-byte limit"),
    "animated": ("telegram", lambda p, m: Image.new("RGBA", (512, 512)).save(
        first(p, m), "PNG", save_all=True, append_images=[Image.new("RGBA", (512, 512), (255, 0, 0, 255))]),
        "is animated"),
    "no emoji": ("telegram", lambda p, m: m["stickers"][0].update(emojis=[]), "has 0 emoji"),
    "too many emoji": ("telegram", lambda p, m: m["stickers"][0].update(emojis=["😀"] * 21), "has 21 emoji"),
    "text not emoji": ("telegram", lambda p, m: m["stickers"][0].update(emojis=["abc"]), "'abc' is not an emoji"),
    "bad short name": ("telegram", lambda p, m: m.update(name="bad__name"), "set short name"),
    "title too long": ("telegram", lambda p, m: m.update(title="x" * 65), "title is 65 characters"),
    "thumbnail size": ("telegram", lambda p, m: save(p / m["cover"], Image.new("RGBA", (90, 100)), "PNG"),
                       "must be exactly 100x100"),
    "missing file": ("telegram", lambda p, m: first(p, m).unlink(), "file is missing"),
    "wrong format": ("whatsapp", lambda p, m: save(first(p, m), Image.new("RGBA", (512, 512)), "PNG"),
                     "is PNG, must be WEBP"),
    "no alpha": ("whatsapp", lambda p, m: save(first(p, m), Image.new("RGB", (512, 512)), "WEBP"),
                 "has no transparency"),
    "too few": ("whatsapp", lambda p, m: m.update(stickers=m["stickers"][:2]), "need at least 3"),
    "tray too big": ("whatsapp", lambda p, m: save(p / "tray.png", noisy_sticker(2, (96, 96)).resize((128, 128)),
                                                   "PNG"), "must be exactly 96x96"),
    "title.txt newline": ("whatsapp", lambda p, m: rewrite_zip(p / m["wastickers"][0],
                                                               replace={"title.txt": b"Seal Friends"}),
                          "title.txt must end with a newline"),
    "wastickers count": ("whatsapp", lambda p, m: rewrite_zip(p / m["wastickers"][0], drop=m["stickers"][0]["file"]),
                         "a .wastickers file needs 3-30"),
    "identifier": ("whatsapp", lambda p, m: m.update(name="a..b/c"), "identifier 'a..b/c'"),
    "link": ("whatsapp", lambda p, m: (p / "contents.json").write_text(
        (p / "contents.json").read_text().replace('"publisher_website": ""', '"publisher_website": "ftp://x"')),
        "must be an http(s) link"),
    "signal one emoji": ("signal", lambda p, m: m["stickers"][0].update(emojis=["😀", "😂"]), "Signal needs 1"),
    "signal cover": ("signal", lambda p, m: m.update(cover=None), "cover is missing"),
    "line odd size": ("line", lambda p, m: save(first(p, m), Image.new("RGBA", (371, 320)), "PNG", dpi=(72, 72)),
                      "larger than 370x320; width and height must be even"),
    "line margin": ("line", lambda p, m: save(first(p, m), Image.new("RGBA", (300, 300), (0, 0, 0, 255)), "PNG",
                                              dpi=(72, 72)), "LINE needs a 10 px margin"),
    "line dpi": ("line", lambda p, m: save(first(p, m), Image.open(first(p, m)).copy(), "PNG", dpi=(30, 30)),
                 "must be at least 72"),
    "line count": ("line", lambda p, m: m.update(stickers=m["stickers"][:7]), "exactly 8, 16, 24, 32 or 40"),
    "line zip member": ("line", lambda p, m: rewrite_zip(p / m["zip"], drop="tab.png"), "tab.png is missing"),
    "line tab size": ("line", lambda p, m: save(p / "tab.png", Image.new("RGBA", (96, 96)), "PNG", dpi=(72, 72)),
                      "must be exactly 96x74"),
    "discord size": ("discord", lambda p, m: save(first(p, m), Image.new("RGBA", (300, 300)), "PNG"),
                     "must be exactly 320x320"),
    "discord name": ("discord", lambda p, m: (p / "stickers.json").write_text(
        (p / "stickers.json").read_text().replace('"name": "happy seal 1"', '"name": "' + "n" * 31 + '"')),
        "must be 2-30 characters"),
    "imessage size": ("imessage", lambda p, m: save(first(p, m), Image.new("RGBA", (400, 400)), "PNG"),
                      "300x300, 408x408 or 618x618"),
    "imessage contents": ("imessage", lambda p, m: (p / m["stickerpack"] / "Contents.json").unlink(),
                          "Contents.json: missing or malformed"),
    "plain zip": ("png", lambda p, m: rewrite_zip(p / m["zip"], drop=m["stickers"][0]["file"]), "is missing"),
    "plain format": ("webp", lambda p, m: save(first(p, m), Image.new("RGBA", (64, 64)), "PNG"), "must be WEBP"),
    "platform mismatch": ("signal", lambda p, m: m.update(platform="telegram"), "expected 'signal'"),
    "no manifest": ("discord", lambda p, m: (p / "pack.json").unlink(), "pack.json is missing"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_violation_is_reported(case, clean_packs, tmp_path):
    platform, mutate, expected = CASES[case]
    violations = broken(clean_packs, tmp_path, platform, mutate)
    assert any(expected in v for v in violations), violations


def test_missing_folder_is_bad_input(tmp_path):
    with pytest.raises(InputError, match="not a folder"):
        validate_pack(tmp_path / "nope", "telegram")
