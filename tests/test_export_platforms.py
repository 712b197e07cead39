"""Each platform's exporter writes a pack its own validator finds clean, atomically."""

from __future__ import annotations

import dataclasses
import json
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from export_helpers import fixture_stickers, noisy_sticker
from seal_engine.errors import Cancelled, ExportError, InputError, ValidationError
from seal_engine.export import PLATFORMS, StickerInput, export_pack, validate_pack, whatsapp
from seal_engine.progress import CancelToken

COUNT = {"line": 8, "whatsapp": 3}


def _leftovers(parent: Path) -> list[str]:
    return [p.name for p in parent.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("platform", list(PLATFORMS))
def test_fixture_pack_is_clean(platform, tmp_path):
    n = COUNT.get(platform, 4)
    events = []
    result = export_pack(fixture_stickers(n), platform, title="Seal Friends", author="SEAL Tests",
                         out_dir=tmp_path / "pack", progress=events.append)
    assert validate_pack(tmp_path / "pack", platform) == []
    man = json.loads((tmp_path / "pack" / "pack.json").read_text(encoding="utf-8"))
    assert man["platform"] == platform and man["title"] == "Seal Friends" and man["author"] == "SEAL Tests"
    assert man["name"] == result.name and len(man["stickers"]) == n == len(result.stickers)
    assert man["cover"] is None or (tmp_path / "pack" / man["cover"]).is_file()
    for s in man["stickers"]:
        assert s["emojis"] and s["label"] and (tmp_path / "pack" / s["file"]).is_file()
    assert all(r.encoding for r in result.stickers) and events and events[-1].step == n
    assert _leftovers(tmp_path) == []


def test_noisy_stickers_are_squeezed_under_each_budget(tmp_path):
    stickers = [StickerInput(noisy_sticker(i), label=f"noise {i}", emojis=["🎉"]) for i in range(3)]
    for platform in ("whatsapp", "telegram", "imessage"):
        result = export_pack(stickers, platform, title="Noise", author="Tests", out_dir=tmp_path / platform)
        assert validate_pack(tmp_path / platform, platform) == []
        rules = PLATFORMS[platform].RULES
        for rec in result.stickers:
            assert rec.bytes <= rules.max_bytes
            assert platform == "imessage" or rec.ladder_index > 0, rec.encoding  # lossless is too big
    # WhatsApp's budget forces lossy WebP; transparency of the corners survives
    webp = Image.open(tmp_path / "whatsapp" / result_file(tmp_path / "whatsapp"))
    assert webp.mode == "RGBA" and webp.getpixel((0, 0))[3] == 0 and webp.getpixel((256, 256))[3] == 255


def result_file(pack: Path) -> str:
    return json.loads((pack / "pack.json").read_text(encoding="utf-8"))["stickers"][0]["file"]


def test_telegram_keeps_one_side_512(tmp_path):
    wide = Image.new("RGBA", (600, 300), (255, 0, 0, 255))
    export_pack([StickerInput(wide, "wide")], "telegram", title="T", author="A", out_dir=tmp_path / "p")
    assert Image.open(tmp_path / "p" / result_file(tmp_path / "p")).size == (512, 272)  # 480x240 content + 16 px margin


def test_whatsapp_large_set_is_split(tmp_path):
    result = export_pack(fixture_stickers(31), "whatsapp", title="Big set", author="A", out_dir=tmp_path / "p")
    archives = sorted((tmp_path / "p").glob("*.wastickers"))
    assert [a.name for a in archives] == ["Big_set_1.wastickers", "Big_set_2.wastickers"]
    sizes = []
    for a in archives:
        with zipfile.ZipFile(a) as zf:
            assert zf.read("title.txt").decode().endswith("\n") and zf.read("author.txt") == b"A\n"
            sizes.append(len([n for n in zf.namelist() if n.endswith(".webp")]))
    assert sizes == [16, 15] and len(result.stickers) == 31
    assert whatsapp.split_counts(60) == [30, 30] and whatsapp.split_counts(61) == [21, 20, 20]


@pytest.mark.parametrize("platform,n,match", [
    ("whatsapp", 2, "at least 3"), ("line", 7, "exactly 8, 16, 24, 32 or 40"), ("line", 41, "not 41"),
    ("telegram", 121, "at most 120"), ("signal", 201, "at most 200"), ("discord", 0, "at least 1"),
])
def test_counts_out_of_range(platform, n, match, tmp_path):
    with pytest.raises(ExportError, match=match):
        export_pack(fixture_stickers(n), platform, title="T", author="A", out_dir=tmp_path / "p")
    assert not (tmp_path / "p").exists() and _leftovers(tmp_path) == []


@pytest.mark.parametrize("platform,title,match", [
    ("telegram", "x" * 65, "at most 64"), ("line", "あ" * 21, "at most 40"), ("whatsapp", "", "needs a title"),
])
def test_titles_too_long_or_empty(platform, title, match, tmp_path):
    with pytest.raises(InputError, match=match):
        export_pack(fixture_stickers(COUNT.get(platform, 3)), platform, title=title, author="A", out_dir=tmp_path / "p")
    assert not (tmp_path / "p").exists()


def test_illegal_characters_are_sanitised(tmp_path):
    title = "Ünïcødé / pack?? __ 🦭 ..\\evil\n"
    tg = export_pack(fixture_stickers(1), "telegram", title=title, author="A", out_dir=tmp_path / "tg")
    wa = export_pack(fixture_stickers(3), "whatsapp", title=title, author="A", out_dir=tmp_path / "wa")
    assert tg.name == "Unicde_pack_evil" and wa.name == "Unicde_pack_evil"  # ø has no ASCII form
    assert tg.title == "Ünïcødé / pack?? __ 🦭 ..\\evil"  # text cleaned (newline), never rewritten
    assert validate_pack(tmp_path / "wa", "whatsapp") == []


def test_sticker_that_cannot_fit_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(whatsapp, "RULES", dataclasses.replace(whatsapp.RULES, max_bytes=1_000))
    stickers = [StickerInput(noisy_sticker(5), "noise")] + fixture_stickers(2)
    with pytest.raises(ExportError, match="Sticker 1 \\(noise\\).*lowest setting"):
        export_pack(stickers, "whatsapp", title="T", author="A", out_dir=tmp_path / "p")
    assert list(tmp_path.iterdir()) == []


def test_existing_pack_dir_is_untouched(tmp_path):
    out = tmp_path / "p"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(InputError, match="already exists"):
        export_pack(fixture_stickers(3), "signal", title="T", author="A", out_dir=out)
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    with pytest.raises(InputError, match="not written by SEAL"):  # --overwrite never deletes a user's folder
        export_pack(fixture_stickers(3), "signal", title="T", author="A", out_dir=out, overwrite=True)
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    pack = tmp_path / "pack"
    export_pack(fixture_stickers(3), "signal", title="T", author="A", out_dir=pack)
    (pack / "extra.txt").write_text("old")
    export_pack(fixture_stickers(3), "signal", title="T2", author="A", out_dir=pack, overwrite=True)
    assert not (pack / "extra.txt").exists() and validate_pack(pack, "signal") == []


def test_failed_overwrite_keeps_the_old_pack(tmp_path, monkeypatch):
    out = tmp_path / "p"
    out.mkdir()
    (out / "pack.json").write_text("{}")  # a pack this tool wrote earlier
    (out / "keep.txt").write_text("mine")
    monkeypatch.setattr(whatsapp, "validate", lambda d: ["broken on purpose"])
    with pytest.raises(ValidationError, match="broken on purpose") as err:
        export_pack(fixture_stickers(3), "whatsapp", title="T", author="A", out_dir=out, overwrite=True)
    assert err.value.violations == ["broken on purpose"]
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt", "pack.json"] and _leftovers(tmp_path) == []


def test_cancel_leaves_nothing(tmp_path):
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        export_pack(fixture_stickers(3), "whatsapp", title="T", author="A", out_dir=tmp_path / "p", cancel=token)
    assert list(tmp_path.iterdir()) == []


def test_bad_image_file_is_refused(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    with pytest.raises(InputError, match="bad.png"):
        export_pack([StickerInput(bad, "bad")], "telegram", title="T", author="A", out_dir=tmp_path / "p")
    assert not (tmp_path / "p").exists()


def test_emoji_rules_per_platform(tmp_path):
    st = fixture_stickers(3, emojis=["😀", "😂", "🥲", "😎"])
    sig = export_pack(st, "signal", title="T", author="A", out_dir=tmp_path / "s")
    wa = export_pack(st, "whatsapp", title="T", author="A", out_dir=tmp_path / "w")
    tg = export_pack(st, "telegram", title="T", author="A", out_dir=tmp_path / "t")
    assert [r.emojis for r in sig.stickers][0] == ["😀"]
    assert [r.emojis for r in wa.stickers][0] == ["😀", "😂", "🥲"]
    assert [r.emojis for r in tg.stickers][0] == ["😀", "😂", "🥲", "😎"]


def test_unknown_platform(tmp_path):
    with pytest.raises(InputError, match="Unknown platform"):
        export_pack(fixture_stickers(3), "myspace", title="T", author="A", out_dir=tmp_path / "p")
