"""`seal mask` and `seal finish`: every intake fixture through the CLI, clean errors, atomic output."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from seal_engine.cli import main

DATA = Path(__file__).parent / "data"
INTAKE = json.loads((DATA / "intake" / "index.json").read_text())


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err and "\n" not in err and "Traceback" not in err
    return err


@pytest.mark.parametrize("entry", INTAKE, ids=[e["file"] for e in INTAKE])
def test_seal_mask_every_intake_fixture(entry, tmp_path, capsys):
    out = tmp_path / "mask.png"
    rc = main(["mask", str(DATA / "intake" / entry["file"]), "-o", str(out)])
    if entry["expect"] == "ok":
        assert rc == 0
        mask = Image.open(out)
        assert mask.mode == "L" and mask.size == (256, 256)
        assert 0 < (np.asarray(mask) >= 128).mean() < 0.9  # found the face, not everything
    else:
        assert rc == 2
        _one_line_error(capsys)
        assert list(tmp_path.iterdir()) == []  # nothing written, no temp file left


@pytest.mark.parametrize("entry", INTAKE, ids=[e["file"] for e in INTAKE])
def test_seal_finish_every_intake_fixture(entry, tmp_path, capsys):
    out_dir = tmp_path / "out"
    rc = main(["finish", str(DATA / "intake" / entry["file"]), "-o", str(out_dir), "--size", "128x128"])
    if entry["expect"] == "ok":
        assert rc == 0
        written = list(out_dir.iterdir())
        assert len(written) == 1 and written[0].suffix == ".png"
        im = Image.open(written[0])
        assert im.mode == "RGBA" and im.size == (128, 128)
        assert np.asarray(im)[0, 0, 3] == 0
    else:
        assert rc == 2
        _one_line_error(capsys)
        assert not out_dir.exists() or list(out_dir.iterdir()) == []


def test_finish_refuses_batch_with_one_bad_file_and_writes_nothing(tmp_path, capsys):
    good = DATA / "intake" / "la.png"
    bad = DATA / "intake" / "truncated.png"
    out_dir = tmp_path / "out"
    assert main(["finish", str(good), str(bad), "-o", str(out_dir)]) == 2
    assert "truncated" in _one_line_error(capsys)
    assert not out_dir.exists() or list(out_dir.iterdir()) == []


def test_finish_options_and_duplicate_names(tmp_path):
    img = DATA / "stickers" / "images" / "dev-000-white.png"
    out_dir = tmp_path / "out"
    rc = main(["finish", str(img), str(img), "-o", str(out_dir), "--outline", "4", "--margin", "8",
               "--size", "256x200", "--shadow"])
    assert rc == 0
    names = sorted(p.name for p in out_dir.iterdir())
    assert names == ["dev-000-white-2.png", "dev-000-white.png"]
    im = Image.open(out_dir / names[0])
    assert im.size == (256, 200) and im.mode == "RGBA"


@pytest.mark.parametrize("argv,needle", [
    (["finish", "X", "-o", "D", "--size", "big"], "512x512"),
    (["finish", "X", "-o", "D", "--outline", "-3"], "outline"),
    (["mask", "X", "-o", "m.png", "--dilate", "-1"], "dilate"),
    (["mask", "X", "-o", "m.png", "--method", "sam"], "checkpoint"),
])
def test_bad_options_exit_2_with_one_line(argv, needle, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("SEAL_SAM_CHECKPOINT", raising=False)
    img = str(DATA / "stickers" / "images" / "dev-000-white.png")
    argv = [img if a == "X" else str(tmp_path / a) if a in ("D", "m.png") else a for a in argv]
    assert main(argv) == 2
    assert needle in _one_line_error(capsys)


def test_mask_methods_and_dilate(tmp_path):
    img = DATA / "stickers" / "images" / "dev-000-transparent.png"
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    assert main(["mask", str(img), "-o", str(a), "--method", "alpha"]) == 0
    assert main(["mask", str(img), "-o", str(b), "--method", "fallback", "--dilate", "3"]) == 0
    ma, mb = np.asarray(Image.open(a)) >= 128, np.asarray(Image.open(b)) >= 128
    assert ma.shape == (512, 512) and mb.sum() > ma.sum()


def test_mask_of_opaque_image_with_alpha_method_is_refused(tmp_path, capsys):
    img = DATA / "stickers" / "images" / "dev-000-white.png"
    assert main(["mask", str(img), "-o", str(tmp_path / "m.png"), "--method", "alpha"]) == 2
    assert "transparency" in _one_line_error(capsys)
    assert list(tmp_path.iterdir()) == []
