"""Fitting one image under a byte budget: an ordered ladder of encoder settings.

The platforms cap every file's bytes. A good exporter returns the *best*
encoding that fits, not the first: the ladder lists settings from best to worst
quality (lossless first, then quality steps, then colour counts, then -- only
where the platform allows other pixel sizes -- smaller resolutions), sizes fall
almost monotonically along it, so a binary search finds the first rung that fits
in ~log2(len) encodes instead of a linear scan. Everything is encoded in memory;
nothing touches the disk until the whole pack is ready.

Resolution is the last resort and is searched as an outer loop: every rung at
the full size is tried (binary search) before any smaller size is considered,
so "quality, then colours, then resolution" holds even though a small lossless
image can be bigger than a large low-colour one.
"""

from __future__ import annotations

import enum
import io
from dataclasses import dataclass
from typing import Callable, Optional

from PIL import Image

from ..errors import ExportError

Size = tuple[int, int]


class Codec(enum.Enum):
    PNG = "png"
    WEBP = "webp"

    @property
    def pil_format(self) -> str:
        return self.value.upper()

    @property
    def suffix(self) -> str:
        return "." + self.value


#: WebP lossy quality steps, best first (Pillow's 0..100 scale).
WEBP_QUALITIES = tuple(range(100, -1, -5))
#: Colour counts for palette PNG (and, past quality 0, for posterised lossy WebP).
PNG_COLOURS = (256, 128, 64, 32, 16, 8, 4)
WEBP_COLOURS = (256, 64, 32, 16, 8)
#: libwebp effort: method 4 is ~100x faster than 6 for <2% bigger files.
WEBP_METHOD = 4
#: Alpha below this is "fully transparent" when building a palette.
TRANSPARENT_BELOW = 8


@dataclass(frozen=True)
class Rung:
    """One encoder setting. `size` None means the platform's full canvas."""

    codec: Codec
    lossless: bool = True
    quality: Optional[int] = None  # WebP lossy quality
    colours: Optional[int] = None  # palette size after quantising (alpha kept in the palette)
    size: Optional[Size] = None

    def describe(self) -> str:
        parts = [self.codec.value]
        if self.lossless and self.colours is None:
            parts.append("lossless")
        if self.quality is not None:
            parts.append(f"q{self.quality}")
        if self.colours is not None:
            parts.append(f"{self.colours} colours")
        if self.size is not None:
            parts.append(f"@{self.size[0]}x{self.size[1]}")
        return " ".join(parts)


def build_ladder(codec: Codec, sizes: tuple[Optional[Size], ...] = (None,)) -> list[Rung]:
    """The ordered ladder for a codec; `sizes` lists the allowed canvases, largest first."""
    rungs: list[Rung] = []
    for size in sizes:
        if codec is Codec.PNG:
            rungs.append(Rung(codec, lossless=True, size=size))
            rungs += [Rung(codec, lossless=True, colours=c, size=size) for c in PNG_COLOURS]
        else:
            rungs.append(Rung(codec, lossless=True, size=size))
            rungs += [Rung(codec, lossless=False, quality=q, size=size) for q in WEBP_QUALITIES]
            rungs += [Rung(codec, lossless=False, quality=0, colours=c, size=size) for c in WEBP_COLOURS]
    return rungs


def quantise(image: Image.Image, colours: int) -> Image.Image:
    """RGBA -> palette image whose palette carries alpha, transparency guaranteed.

    Pillow's fast octree (the only RGBA quantiser without libimagequant) merges
    dark opaque pixels with the transparent background below ~32 colours, which
    punches holes in a sticker. So one palette entry is reserved for "fully
    transparent" and only the visible pixels are quantised into the others.
    """
    import numpy as np

    rgba = np.asarray(image.convert("RGBA"))
    visible = rgba[..., 3] >= TRANSPARENT_BELOW
    index = np.zeros(rgba.shape[:2], dtype=np.uint8)
    palette = [0, 0, 0, 0]
    if visible.any():
        strip = Image.fromarray(np.ascontiguousarray(rgba[visible][None, :, :]), "RGBA")
        q = strip.quantize(colors=max(1, colours - 1), method=Image.Quantize.FASTOCTREE)
        used = q.getpalette(rawmode="RGBA") or []
        index[visible] = np.asarray(q, dtype=np.uint8)[0] + 1
        palette += used[: 4 * 255]
    out = Image.fromarray(index, "P")
    out.putpalette(palette, rawmode="RGBA")
    return out


def encode(image: Image.Image, rung: Rung, *, dpi: Optional[int] = None) -> bytes:
    """Encode an RGBA image with one rung's setting, in memory."""
    buf = io.BytesIO()
    extra = {"dpi": (dpi, dpi)} if dpi else {}
    if rung.codec is Codec.PNG:
        im = quantise(image, rung.colours) if rung.colours else image
        im.save(buf, format="PNG", compress_level=9 if rung.colours else 6, **extra)
    elif rung.lossless:
        image.save(buf, format="WEBP", lossless=True, quality=50, method=WEBP_METHOD, exact=False)
    else:
        im = quantise(image, rung.colours).convert("RGBA") if rung.colours else image
        im.save(buf, format="WEBP", quality=rung.quality, method=WEBP_METHOD, alpha_quality=100)
    return buf.getvalue()


HOPELESS_RATIO = {Codec.PNG: 1.6, Codec.WEBP: 3.0}


def encode_fast_lossless(image: Image.Image, codec: Codec) -> bytes:
    buf = io.BytesIO()
    if codec is Codec.PNG:
        image.save(buf, format="PNG", compress_level=1)
    else:
        image.save(buf, format="WEBP", lossless=True, quality=0, method=0, exact=False)
    return buf.getvalue()


@dataclass
class Encoded:
    data: bytes
    rung: Rung
    index: int  # position in the ladder (0 = best)
    size: Size
    tries: int  # encodes spent finding it

    @property
    def nbytes(self) -> int:
        return len(self.data)


Render = Callable[[Optional[Size]], Image.Image]


class _Search:
    """Memoises renders and encodes so the binary search never encodes a rung twice."""

    def __init__(self, render: Render, ladder: list[Rung], max_bytes: Optional[int], dpi: Optional[int]):
        self.render, self.ladder, self.max_bytes, self.dpi = render, ladder, max_bytes, dpi
        self.images: dict[Optional[Size], Image.Image] = {}
        self.cache: dict[int, bytes] = {}

    def data(self, i: int) -> bytes:
        if i not in self.cache:
            size = self.ladder[i].size
            if size not in self.images:
                self.images[size] = self.render(size)
            self.cache[i] = encode(self.images[size], self.ladder[i], dpi=self.dpi)
        return self.cache[i]

    def fits(self, i: int) -> bool:
        if i not in self.cache and self._hopeless_lossless(i):
            return False
        data = self.data(i)
        return self.max_bytes is None or len(data) <= self.max_bytes

    def _hopeless_lossless(self, i: int) -> bool:
        """Skip the slow full-effort lossless encode when a fastest-effort one is far over budget.

        Effort only changes a lossless file's bytes, not its pixels, and full
        effort makes files up to 2.4x (WebP) / 1.2x (PNG) smaller than the
        fastest setting on the fixture stickers (measured), so a fast file over
        3x / 1.6x the budget cannot fit. This cuts the cost of incompressible
        stickers, where lossless never fits.
        """
        rung = self.ladder[i]
        if self.max_bytes is None or not rung.lossless or rung.colours is not None:
            return False
        size = rung.size
        if size not in self.images:
            self.images[size] = self.render(size)
        quick = encode_fast_lossless(self.images[size], rung.codec)
        if len(quick) > HOPELESS_RATIO[rung.codec] * self.max_bytes:
            self.cache[i] = quick
            return True
        return False

    def result(self, i: int) -> Encoded:
        size = self.ladder[i].size
        im = self.images[size]
        return Encoded(self.cache[i], self.ladder[i], i, im.size, len(self.cache))


def _groups(ladder: list[Rung]) -> list[range]:
    """Consecutive runs of rungs sharing one canvas size (the outer resolution loop)."""
    out, start = [], 0
    for i in range(1, len(ladder) + 1):
        if i == len(ladder) or ladder[i].size != ladder[start].size:
            out.append(range(start, i))
            start = i
    return out


def _too_big(label: str, search: _Search) -> ExportError:
    smallest = min(len(d) for d in search.cache.values())
    return ExportError(
        f"{label} cannot be made smaller than {smallest:,} bytes even at the lowest setting "
        f"({search.ladder[-1].describe()}), over the {search.max_bytes:,}-byte limit; simplify the image."
    )


def best_fit(render: Render | Image.Image, ladder: list[Rung], max_bytes: Optional[int], *,
             label: str = "The image", dpi: Optional[int] = None) -> Encoded:
    """Best-quality rung under `max_bytes`: lossless kept when it fits, else a binary search.

    Within each canvas size: test the first rung (lossless); if it does not fit,
    bisect between a known failure `lo` and a virtual success past the end.
    Raises ExportError (one sentence) when no rung at any size fits.
    """
    search = _Search(_as_render(render), ladder, max_bytes, dpi)
    for group in _groups(ladder):
        if search.fits(group.start):
            return search.result(group.start)
        lo, hi = group.start, group.stop  # lo fails; hi == stop means "none tested fits yet"
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if search.fits(mid):
                hi = mid
            else:
                lo = mid
        if hi < group.stop:
            return search.result(hi)
    raise _too_big(label, search)


def best_fit_linear(render: Render | Image.Image, ladder: list[Rung], max_bytes: Optional[int], *,
                    label: str = "The image", dpi: Optional[int] = None) -> Encoded:
    """Reference: encode every rung in order, keep the first that fits (slow; benchmarks only)."""
    search = _Search(_as_render(render), ladder, max_bytes, dpi)
    for i in range(len(ladder)):
        search.data(i)
    for i in range(len(ladder)):
        if search.fits(i):
            return search.result(i)
    raise _too_big(label, search)


def _as_render(render: Render | Image.Image) -> Render:
    if isinstance(render, Image.Image):
        image = render
        return lambda size: image if size is None else image.resize(size, Image.Resampling.LANCZOS)
    return render
