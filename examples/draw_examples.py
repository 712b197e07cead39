"""Draw the example reference stickers shipped in examples/ (CC0: drawn by this script).

    python examples/draw_examples.py

`mochi.png` is a transparent RGBA sticker (its alpha channel is the mask);
`mochi_on_scene.jpg` is the same character on a busy background, to try the
built-in masking on a reference that has no alpha channel.
"""

from __future__ import annotations

import random
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

HERE = Path(__file__).resolve().parent
SIZE = 512


def draw_mochi(size: int = SIZE) -> Image.Image:
    """A round cream-coloured cat-like character with a red scarf, at 4x then downsampled (smooth edges)."""
    s = 4
    W = size * s
    img = Image.new("RGBA", (W, W), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    ink = (52, 40, 48, 255)
    body = (250, 236, 214, 255)
    lw = 9 * s

    def ell(box, fill, outline=ink, width=lw):
        d.ellipse([v * s for v in box], fill=fill, outline=outline, width=width)

    # ears
    for flip in (1, -1):
        cx = 256 + flip * 95
        pts = [(cx - flip * 60, 170), (cx + flip * 35, 70), (cx + flip * 55, 200)]
        d.polygon([(x * s, y * s) for x, y in pts], fill=body, outline=ink, width=lw)
        inner = [(cx - flip * 30, 168), (cx + flip * 28, 105), (cx + flip * 38, 185)]
        d.polygon([(x * s, y * s) for x, y in inner], fill=(246, 170, 180, 255))
    ell((96, 120, 416, 440), body)  # head/body
    ell((150, 395, 230, 455), body)  # feet
    ell((282, 395, 362, 455), body)
    ell((96, 120, 416, 440), None)  # re-stroke the outline over the feet
    # scarf
    d.rounded_rectangle([140 * s, 330 * s, 372 * s, 372 * s], radius=20 * s, fill=(214, 58, 62, 255),
                        outline=ink, width=lw)
    d.polygon([(300 * s, 360 * s), (345 * s, 430 * s), (300 * s, 440 * s), (280 * s, 365 * s)],
              fill=(214, 58, 62, 255), outline=ink)
    # face
    for cx in (205, 307):
        ell((cx - 18, 235, cx + 18, 275), ink, width=0)
        ell((cx - 8, 242, cx + 2, 252), (255, 255, 255, 255), outline=None, width=0)
    for cx in (175, 337):
        ell((cx - 22, 282, cx + 22, 302), (246, 160, 170, 200), outline=None, width=0)
    d.arc([236 * s, 270 * s, 262 * s, 300 * s], 0, 180, fill=ink, width=6 * s)
    d.arc([250 * s, 270 * s, 276 * s, 300 * s], 0, 180, fill=ink, width=6 * s)
    return img.resize((size, size), Image.LANCZOS)


def busy_scene(size: int = SIZE, seed: int = 7) -> Image.Image:
    rng = random.Random(seed)
    bg = Image.new("RGB", (size, size), (120, 170, 210))
    d = ImageDraw.Draw(bg)
    for _ in range(60):
        x, y = rng.randrange(size), rng.randrange(size)
        r = rng.randrange(10, 70)
        colour = tuple(rng.randrange(40, 230) for _ in range(3))
        if rng.random() < 0.5:
            d.ellipse([x - r, y - r, x + r, y + r], fill=colour)
        else:
            d.rectangle([x - r, y - r, x + r // 2, y + r // 3], fill=colour)
    return bg.filter(ImageFilter.GaussianBlur(1.2))


def main() -> None:
    mochi = draw_mochi()
    mochi.save(HERE / "mochi.png", optimize=True)
    scene = busy_scene()
    scene.paste(mochi, (0, 0), mochi)
    scene.save(HERE / "mochi_on_scene.jpg", quality=92)
    print("wrote", HERE / "mochi.png", HERE / "mochi_on_scene.jpg")


if __name__ == "__main__":
    main()
