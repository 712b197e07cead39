"""The byte-budget ladder: lossless kept when it fits, best rung otherwise, transparency kept."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
from PIL import Image

from export_helpers import FIXTURES, noisy_sticker
from seal_engine.errors import ExportError
from seal_engine.export.encoding import Codec, best_fit, best_fit_linear, build_ladder, encode

WEBP = build_ladder(Codec.WEBP)
PNG = build_ladder(Codec.PNG)


def _alpha(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGBA").getchannel("A"), dtype=np.int16)


def test_ladder_is_ordered_best_first():
    assert WEBP[0].lossless and WEBP[0].quality is None
    qualities = [r.quality for r in WEBP if r.quality is not None and r.colours is None]
    assert qualities == sorted(qualities, reverse=True)
    colours = [r.colours for r in PNG[1:]]
    assert colours == sorted(colours, reverse=True)
    sized = build_ladder(Codec.PNG, sizes=((408, 408), (300, 300)))
    assert [r.size for r in sized] == [(408, 408)] * len(PNG) + [(300, 300)] * len(PNG)


def test_lossless_is_kept_when_it_fits():
    image = Image.open(FIXTURES[0]).convert("RGBA")
    enc = best_fit(image, WEBP, 100_000)
    assert enc.index == 0 and enc.rung.lossless and enc.tries == 1
    assert np.array_equal(_alpha(enc.data), np.asarray(image.getchannel("A"), dtype=np.int16))


@pytest.mark.parametrize("codec,budget", [(Codec.WEBP, 100_000), (Codec.WEBP, 40_000), (Codec.PNG, 300_000)])
def test_binary_search_matches_linear_scan_within_one_step(codec, budget):
    image = noisy_sticker(1, (512, 512))
    ladder = build_ladder(codec)
    fast = best_fit(image, ladder, budget)
    slow = best_fit_linear(image, ladder, budget)
    assert fast.nbytes <= budget and slow.nbytes <= budget
    assert slow.index <= fast.index <= slow.index + 1
    assert fast.index > 0  # noise never fits lossless
    assert fast.tries <= math.ceil(math.log2(len(ladder))) + 1  # a bisection, not a scan


def test_transparency_survives_every_rung():
    image = Image.open(FIXTURES[1]).convert("RGBA")
    want = np.asarray(image.getchannel("A"), dtype=np.int16)
    for rung in WEBP[::4] + PNG:
        got = _alpha(encode(image, rung))
        assert got.shape == want.shape
        assert got[want == 0].max() <= 8, rung.describe()  # background stays transparent
        assert got[want == 255].min() >= 200, rung.describe()  # subject stays opaque


def test_nothing_fits_is_one_clear_error():
    with pytest.raises(ExportError, match="lowest setting") as err:
        best_fit(noisy_sticker(2, (512, 512)), WEBP, 500, label="Sticker 1 (noise)")
    assert "Sticker 1 (noise)" in str(err.value) and "\n" not in str(err.value)


def test_resolution_is_the_last_resort():
    image = noisy_sticker(3, (408, 408))
    ladder = build_ladder(Codec.PNG, sizes=((408, 408), (300, 300)))
    assert best_fit(image, ladder, 300_000).size == (408, 408)  # colours go before pixels
    only_lossless = [r for r in ladder if r.colours is None]
    small = len(encode(image.resize((300, 300), Image.Resampling.LANCZOS), only_lossless[1]))
    shrunk = best_fit(image, only_lossless, small + 10)
    assert shrunk.size == (300, 300) and shrunk.index == 1
