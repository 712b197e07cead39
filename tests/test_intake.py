"""Image intake: every bad-inputs fixture handled as its index says, modes normalised."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from seal_engine.errors import ImageError
from seal_engine.intake import image_sha256, load_image, to_rgba8

DATA = Path(__file__).parent / "data" / "intake"
INDEX = json.loads((DATA / "index.json").read_text())
OK = [e["file"] for e in INDEX if e["expect"] == "ok"]
REFUSE = [e["file"] for e in INDEX if e["expect"] == "refuse"]

# the specific words each refusal must use (a clear, specific sentence, not a generic failure)
REFUSAL_WORDS = {
    "empty.png": "empty",
    "truncated.png": "truncated",
    "text-named.png": "not an image",
    "bomb-40000.png": "too many pixels",
    "tiny-8px.png": "at least",
    "vector.svg": "SVG",
}


def test_index_is_fully_covered():
    assert set(OK) | set(REFUSE) == {e["file"] for e in INDEX}
    assert set(REFUSE) == set(REFUSAL_WORDS), "a new refuse fixture needs its expected wording here"


@pytest.mark.parametrize("name", OK)
def test_ok_fixtures_load_as_rgba8(name):
    im = load_image(DATA / name)
    assert im.mode == "RGBA" and im.size == (256, 256)
    arr = np.asarray(im)
    assert arr.dtype == np.uint8
    # every fixture is a face with two dark eyes on a lighter disc: the picture survived
    assert arr[..., :3].max() > 100 and (arr[..., 3] == 255).any()


@pytest.mark.parametrize("name", REFUSE)
def test_refused_fixtures_raise_one_specific_sentence(name):
    with pytest.raises(ImageError) as info:
        load_image(DATA / name)
    msg = str(info.value)
    assert REFUSAL_WORDS[name].lower() in msg.lower()
    assert "\n" not in msg and name in msg


@pytest.mark.parametrize("name", REFUSE + OK)
def test_bytes_source_behaves_like_path(name):
    data = (DATA / name).read_bytes()
    if name == "vector.svg":  # no file name to go by: the content is sniffed
        data = b"  " + data
    if name in REFUSE:
        with pytest.raises(ImageError):
            load_image(data)
    else:
        assert load_image(data).mode == "RGBA"


def test_exif_orientation_applied():
    raw = Image.open(DATA / "exif-rotated.jpg")
    assert raw.getexif().get(0x0112) == 6
    fixed = np.asarray(load_image(DATA / "exif-rotated.jpg").convert("L")) < 60
    plain = np.asarray(raw.convert("L")) < 60
    # the eyes (dark dots inside the face) are side by side horizontally once rotated
    ys, xs = np.nonzero(fixed[60:200, 60:200])
    ry, rx = np.nonzero(plain[60:200, 60:200])
    assert xs.std() > ys.std() and ry.std() > rx.std()


def test_sixteen_bit_is_scaled_not_clipped():
    im = load_image(DATA / "gray16.png")
    arr = np.asarray(im)[..., 0]
    raw = np.asarray(Image.open(DATA / "gray16.png"), dtype=np.int64)
    assert raw.max() > 255  # really 16-bit
    assert abs(int(arr.max()) - int(raw.max()) // 257) <= 1


def test_palette_transparency_and_la_keep_alpha():
    for name in ("palette-transparent.png", "la.png", "lossless-alpha.webp"):
        alpha = np.asarray(load_image(DATA / name))[..., 3]
        assert alpha.min() == 0 and alpha.max() == 255, name


def test_cmyk_colours_converted():
    rgb = np.asarray(load_image(DATA / "cmyk.jpg"))[128, 100, :3].astype(int)
    ref = np.asarray(load_image(DATA / "lossless-alpha.webp"))[128, 100, :3].astype(int)
    assert np.abs(rgb - ref).max() < 40  # same blue face as the WebP twin, not inverted


def test_gif_first_frame():
    gif = Image.open(DATA / "animated.gif")
    assert gif.n_frames > 1
    first = np.asarray(gif.convert("RGBA"))
    assert np.array_equal(np.asarray(load_image(DATA / "animated.gif")), first)


def test_pixel_cap_and_min_side_are_parameters():
    buf = io.BytesIO()
    Image.new("RGB", (300, 200), "red").save(buf, "PNG")
    with pytest.raises(ImageError, match="limit"):
        load_image(buf.getvalue(), max_pixels=50_000)
    with pytest.raises(ImageError, match="at least 256"):
        load_image(buf.getvalue(), min_side=256)
    assert load_image(buf.getvalue()).size == (300, 200)


def test_missing_and_folder(tmp_path):
    with pytest.raises(ImageError, match="does not exist"):
        load_image(tmp_path / "nope.png")
    with pytest.raises(ImageError, match="folder"):
        load_image(tmp_path)


def test_corrupted_png_body(tmp_path):
    data = bytearray((DATA / "la.png").read_bytes())
    data[60:120] = b"\x00" * 60  # damage the compressed data, keep the header
    bad = tmp_path / "bad.png"
    bad.write_bytes(bytes(data))
    with pytest.raises(ImageError, match="corrupted|truncated"):
        load_image(bad)


@pytest.mark.parametrize("mode", ["1", "L", "P", "RGB", "CMYK", "I", "F", "LA", "RGBa"])
def test_every_mode_normalises(mode):
    src = Image.new("RGB", (80, 80), (200, 100, 50)).convert(mode)
    out = to_rgba8(src)
    assert out.mode == "RGBA" and out.size == (80, 80)


def test_sha256(tmp_path):
    p = tmp_path / "a.bin"
    p.write_bytes(b"abc")
    assert image_sha256(p) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
