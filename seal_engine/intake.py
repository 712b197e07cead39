"""Image intake: the one door every user-supplied image goes through.

The CLI, the app and the exporters all call `load_image`, so that every path
accepts the same formats, normalises them the same way (8-bit RGBA, EXIF
orientation applied, first frame of an animation) and refuses broken files with
the same one-sentence `ImageError` -- before anything is written anywhere.
"""

from __future__ import annotations

import hashlib
import io
import warnings
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import ImageError

#: About 50 megapixels: any real photo or render, far below a decompression bomb.
DEFAULT_MAX_PIXELS = 50_000_000
#: Smaller than this carries too little detail to learn or finish a sticker from.
DEFAULT_MIN_SIDE = 64

#: 200 MB: larger than any real sticker reference or render; checked before the file is read.
DEFAULT_MAX_BYTES = 200 * 1024 * 1024

#: Raster formats we accept (MPO is how some cameras label their JPEGs).
ACCEPTED_FORMATS = ("PNG", "JPEG", "MPO", "WEBP", "GIF", "BMP", "TIFF")
_FORMAT_NAMES = "PNG, JPEG, WebP, GIF, BMP or TIFF"


def load_image(
    source: str | Path | bytes,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    min_side: int = DEFAULT_MIN_SIDE,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Image.Image:
    """Read an image file (or its bytes) into a fresh 8-bit RGBA image.

    Raises `ImageError` with one specific sentence for empty, missing,
    truncated, corrupted, vector (SVG), non-image, oversized or too-small input.
    """
    name, data = _read_source(source, max_bytes)
    if not data:
        raise ImageError(f"{name} is empty (0 bytes); choose an image file with content.")
    if _looks_like_svg(name, data):
        raise ImageError(f"{name} is an SVG vector drawing, not a raster image; export it as PNG first.")

    with warnings.catch_warnings():
        # We enforce our own pixel cap below; Pillow's warning would only be noise.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            im = Image.open(io.BytesIO(data), formats=_accepted_formats())
        except Image.DecompressionBombError:
            raise ImageError(
                f"{name} has too many pixels to open safely (a decompression bomb?); "
                f"the limit is {max_pixels:,} pixels."
            ) from None
        except UnidentifiedImageError:
            kind = _signature_format(data)
            if kind:  # the header says it is an image, but Pillow could not parse it: damaged, not foreign
                raise ImageError(f"{name} starts like a {kind} file but is damaged and cannot be read; "
                                 f"re-export or re-download it.") from None
            raise ImageError(f"{name} is not an image file this app can read ({_FORMAT_NAMES}).") from None
        except (OSError, SyntaxError, ValueError, EOFError, zlib.error) as err:
            raise ImageError(f"{name} is corrupted and cannot be read ({_short(err)}).") from None

        width, height = im.size
        if width * height > max_pixels:
            raise ImageError(
                f"{name} is {width}x{height} = {width * height:,} pixels, more than the limit of "
                f"{max_pixels:,}; scale it down first."
            )
        if min(width, height) < min_side:
            raise ImageError(
                f"{name} is only {width}x{height} pixels; images need at least {min_side} pixels on each side."
            )
        try:
            im.seek(0)  # animations: the first frame is the reference
            im.load()
        except OSError as err:
            if "truncated" in str(err).lower() or isinstance(err, EOFError):
                raise ImageError(f"{name} is truncated (the file ends early); re-export or re-download it.") from None
            raise ImageError(f"{name} is corrupted and cannot be decoded ({_short(err)}).") from None
        except (SyntaxError, ValueError, EOFError, zlib.error, Image.DecompressionBombError) as err:
            if isinstance(err, EOFError):
                raise ImageError(f"{name} is truncated (the file ends early); re-export or re-download it.") from None
            raise ImageError(f"{name} is corrupted and cannot be decoded ({_short(err)}).") from None

        try:
            im = ImageOps.exif_transpose(im) or im
        except Exception:  # a broken EXIF block should not lose the picture
            pass
        return to_rgba8(im)


def to_rgba8(im: Image.Image) -> Image.Image:
    """Normalise any Pillow mode to 8-bit RGBA.

    Pillow's own `convert("RGBA")` clips 16/32-bit integer and float images to
    0..255 instead of scaling them, so those are rescaled here by hand.
    """
    mode = im.mode
    if mode == "RGBA":
        return im.copy()
    if mode.startswith("I;16") or mode in ("I", "F"):
        arr = np.asarray(im, dtype=np.float64)
        if mode == "F":
            scale = 255.0 if float(np.nanmax(arr, initial=0.0)) <= 1.0 else 1.0
        elif mode.startswith("I;16"):
            scale = 255.0 / 65535.0
        else:
            peak = float(arr.max(initial=0.0))
            scale = 255.0 / 65535.0 if peak > 255 else 1.0
        gray = np.clip(np.nan_to_num(arr) * scale + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(gray).convert("RGBA")
    if mode == "P" and "transparency" in im.info:
        return im.convert("RGBA")
    if mode in ("LA", "La", "PA", "RGBa"):
        return im.convert("RGBA")
    if mode in ("CMYK", "YCbCr", "LAB", "HSV", "1", "L", "P", "RGB", "RGBX"):
        return im.convert("RGB").convert("RGBA") if mode != "RGB" else im.convert("RGBA")
    return im.convert("RGBA")


def image_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes (identifies a reference image in a concept)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _accepted_formats() -> list[str]:
    Image.init()  # registers every plugin, so MPO/WebP are known before we filter
    return [fmt for fmt in ACCEPTED_FORMATS if fmt in Image.OPEN]


_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "PNG"), (b"\xff\xd8\xff", "JPEG"), (b"GIF87a", "GIF"), (b"GIF89a", "GIF"),
    (b"BM", "BMP"), (b"II*\x00", "TIFF"), (b"MM\x00*", "TIFF"),
)


def _signature_format(data: bytes) -> str | None:
    """The image format a file's first bytes announce (None: not an image we know)."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP"
    for magic, kind in _SIGNATURES:
        if data.startswith(magic):
            return kind
    return None


def _read_source(source: str | Path | bytes, max_bytes: int = DEFAULT_MAX_BYTES) -> tuple[str, bytes]:
    """The file's bytes, refusing special files (a FIFO would hang the read) and anything over `max_bytes`
    before reading it, and reading at most `max_bytes + 1` even if the file grows meanwhile."""
    import stat

    if isinstance(source, (bytes, bytearray, memoryview)):
        if len(source) > max_bytes:
            raise ImageError(f"The image is {len(source):,} bytes, more than the limit of {max_bytes:,}.")
        return "The image", bytes(source)
    path = Path(source)
    name = path.name or str(path)
    try:
        st = path.stat()
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(str(path))
        if not stat.S_ISREG(st.st_mode):
            raise ImageError(f"{path} is not a regular file (a pipe, socket or device); give an image file.")
        if st.st_size > max_bytes:
            raise ImageError(f"{name} is {st.st_size:,} bytes, more than the limit of {max_bytes:,} for an image; "
                             f"scale it down or re-save it first.")
        with open(path, "rb") as fh:
            head = fh.read(4096)
            if head and not _signature_format(head) and not _looks_like_svg(name, head):
                # not an image by its first bytes: refuse without reading (and holding) the rest of the file
                raise ImageError(f"{name} is not an image file this app can read ({_FORMAT_NAMES}).")
            data = head + fh.read(max_bytes + 1 - len(head))
        if len(data) > max_bytes:
            raise ImageError(f"{name} is more than the limit of {max_bytes:,} bytes for an image.")
        return name, data
    except FileNotFoundError:
        raise ImageError(f"{path} does not exist.") from None
    except IsADirectoryError:
        raise ImageError(f"{path} is a folder, not an image file.") from None
    except PermissionError:
        raise ImageError(f"{path} cannot be read (permission denied).") from None
    except OSError as err:
        raise ImageError(f"{path} cannot be read ({_short(err)}).") from None


def _looks_like_svg(name: str, data: bytes) -> bool:
    if name.lower().endswith((".svg", ".svgz")):
        return True
    head = data[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith(b"<svg") or (head.startswith(b"<?xml") and b"<svg" in head)


def _short(err: BaseException) -> str:
    text = " ".join(str(err).split()) or type(err).__name__
    return text[:120]

