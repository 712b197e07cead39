"""Fitting a finished sticker onto a platform's canvas, aspect and transparency kept.

Written here rather than taken from `seal_engine.finishing.fit_on_canvas`
because several platforms need shapes a square canvas does not give: Telegram
wants one side exactly 512 and no padding, LINE wants a tight canvas with even
sides and a 10 px margin around the *content*. Pillow premultiplies alpha when
resizing RGBA, so edges do not pick up dark fringes.
"""

from __future__ import annotations

from PIL import Image

LANCZOS = Image.Resampling.LANCZOS


def trim(image: Image.Image) -> Image.Image:
    """Crop fully transparent borders (a blank image is returned unchanged)."""
    box = image.getchannel("A").getbbox()
    return image.crop(box) if box else image


def _scaled(image: Image.Image, max_w: int, max_h: int) -> Image.Image:
    w, h = image.size
    scale = min(max_w / w, max_h / h)
    size = (max(1, min(max_w, round(w * scale))), max(1, min(max_h, round(h * scale))))
    return image if size == image.size else image.resize(size, LANCZOS)


def margin_for(side: int) -> int:
    """WhatsApp's guideline margin (16 px on a 512 canvas), scaled to other canvases."""
    return max(2, round(side * 16 / 512))


def fit_square(image: Image.Image, side: int, margin: int = 0) -> Image.Image:
    """Trim, scale to fit inside the square minus `margin`, centre on a transparent side x side canvas.

    Trimming first makes every platform frame the sticker the same way whatever
    empty border the input carried (finishing adds its own; re-trimming is harmless).
    """
    inner = _scaled(trim(image), side - 2 * margin, side - 2 * margin)
    return _paste_centre(inner, (side, side))


def fit_box(image: Image.Image, width: int, height: int) -> Image.Image:
    """Scale to fit inside width x height and centre it on a canvas of exactly that size."""
    return _paste_centre(_scaled(image, width, height), (width, height))


def fit_long_side(image: Image.Image, side: int, margin: int = 0) -> Image.Image:
    """Trim, scale into side - 2*margin, pad by margin: the longer side is exactly `side` (Telegram)."""
    content = trim(image)
    w, h = content.size
    inner = side - 2 * margin
    if w >= h:
        size = (inner, max(1, min(inner, round(h * inner / w))))
    else:
        size = (max(1, min(inner, round(w * inner / h))), inner)
    if size != content.size:
        content = content.resize(size, LANCZOS)
    return _paste_centre(content, (size[0] + 2 * margin, size[1] + 2 * margin))


def fit_tight_even(image: Image.Image, max_w: int, max_h: int, margin: int) -> Image.Image:
    """Trim, scale into (max - 2*margin), then pad by >= margin to even sides <= max (LINE)."""
    content = _scaled(trim(image), max_w - 2 * margin, max_h - 2 * margin)
    w, h = content.size
    cw, ch = w + 2 * margin, h + 2 * margin
    cw, ch = cw + cw % 2, ch + ch % 2
    if cw > max_w or ch > max_h:  # odd max sizes: shrink content by one pixel instead
        content = content.resize((w - (cw - max_w), h - max(0, ch - max_h)), LANCZOS)
        cw, ch = min(cw, max_w), min(ch, max_h)
    return _paste_centre(content, (cw, ch))


def _paste_centre(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    canvas = Image.new("RGBA", size, (0, 0, 0, 0))
    canvas.alpha_composite(image, ((size[0] - image.width) // 2, (size[1] - image.height) // 2))
    return canvas
