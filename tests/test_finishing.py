"""Sticker finishing: cut-out, outline, shadow, trim, fit on canvas, transparency kept."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from seal_engine.errors import InputError
from seal_engine.finishing import FinishSettings, finish_sticker, fit_on_canvas, parse_color, trim

DATA = Path(__file__).parent / "data" / "stickers"


def disc_image(size=200, bg=(40, 120, 200, 255)):
    im = Image.new("RGBA", (size, size), bg)
    ImageDraw.Draw(im).ellipse((60, 50, 140, 130), fill=(250, 220, 0, 255), outline=(0, 0, 0, 255), width=4)
    mask = Image.new("L", (size, size), 0)
    ImageDraw.Draw(mask).ellipse((60, 50, 140, 130), fill=255)
    return im, mask


def test_outline_width_and_trim():
    im, mask = disc_image()
    out = finish_sticker(im, FinishSettings(outline_px=8, margin=0), mask=mask)
    assert out.mode == "RGBA"
    # disc 81 px wide + 2 x 8 px outline (anti-aliased edge)
    assert abs(out.width - 97) <= 2 and abs(out.height - 97) <= 2
    arr = np.asarray(out)
    mid = out.height // 2
    row = arr[mid]
    first = int(np.argmax(row[:, 3] > 128))
    assert (row[first + 2, :3] > 240).all()  # white outline
    assert arr[0, 0, 3] == 0  # corners transparent
    # the background colour did not survive anywhere opaque
    opaque = arr[arr[..., 3] > 200][:, :3].astype(int)
    assert (np.abs(opaque - [40, 120, 200]).sum(axis=1) < 30).sum() == 0


def test_outline_is_antialiased():
    im, mask = disc_image()
    alpha = np.asarray(finish_sticker(im, FinishSettings(outline_px=8), mask=mask))[..., 3]
    partial = ((alpha > 10) & (alpha < 245)).sum()
    assert partial > 40  # a soft edge all round, not a staircase


def test_no_outline_no_trim_keeps_size():
    im, mask = disc_image()
    out = finish_sticker(im, FinishSettings(outline_px=0, trim=False, margin=0), mask=mask)
    assert out.size == im.size
    assert np.asarray(out)[0, 0, 3] == 0 and np.asarray(out)[90, 100, 3] == 255


def test_shadow_adds_soft_dark_pixels():
    im, mask = disc_image()
    plain = finish_sticker(im, FinishSettings(), mask=mask)
    shadowed = finish_sticker(im, FinishSettings(shadow=True), mask=mask)
    assert shadowed.width > plain.width
    a = np.asarray(shadowed)
    soft = (a[..., 3] > 0) & (a[..., 3] < 120) & (a[..., :3].max(axis=2) < 30)
    assert soft.sum() > 100


def test_fit_on_canvas_keeps_aspect_and_margin():
    wide = Image.new("RGBA", (300, 100), (255, 0, 0, 255))
    out = fit_on_canvas(wide, (512, 512), 16)
    assert out.size == (512, 512)
    box = out.getchannel("A").getbbox()
    assert box[0] == 16 and box[2] == 496
    assert abs((box[3] - box[1]) - 160) <= 1  # 480 / 3
    assert np.asarray(out)[0, 0, 3] == 0
    with pytest.raises(InputError):
        fit_on_canvas(wide, (20, 20), 10)


def test_resize_has_no_dark_fringe():
    im = Image.new("RGBA", (100, 100), (0, 0, 0, 0))
    ImageDraw.Draw(im).ellipse((10, 10, 90, 90), fill=(255, 255, 255, 255))
    out = np.asarray(fit_on_canvas(im, (37, 37), 0))
    edge = out[(out[..., 3] > 0) & (out[..., 3] < 255)]
    assert edge[:, :3].min() > 240  # premultiplied resize: edge pixels stay white


def test_finish_real_fixture_with_auto_mask():
    im = Image.open(DATA / "images" / "dev-000-gradient.jpg").convert("RGBA")
    out = finish_sticker(im, FinishSettings(size=(512, 512), margin=16))
    assert out.size == (512, 512) and out.mode == "RGBA"
    box = out.getchannel("A").getbbox()
    assert min(box[0], box[1]) >= 15 and max(box[2], box[3]) <= 497
    assert 16 in (box[0], box[1])  # touches the margin on the long side: fitted, not floating


def test_settings_validation():
    with pytest.raises(InputError):
        FinishSettings(outline_px=-1)
    with pytest.raises(InputError):
        FinishSettings(size=(30, 30), margin=16)
    assert parse_color("white") == (255, 255, 255, 255)
    assert parse_color("#ff000080") == (255, 0, 0, 128)
    with pytest.raises(InputError):
        parse_color("not-a-colour")
    im, mask = disc_image()
    with pytest.raises(InputError, match="must match"):
        finish_sticker(im, mask=mask.resize((10, 10)))
    with pytest.raises(InputError, match="No subject"):
        finish_sticker(im, mask=Image.new("L", im.size, 0))
    with pytest.raises(InputError):
        trim(Image.new("RGBA", (10, 10)))
