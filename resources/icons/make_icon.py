"""Draws the app icon (a round sticker with a peeled corner and a smiling seal face)
with Pillow, so the icon is reproducible and carries no third-party licence.

Run: python resources/icons/make_icon.py  -> seal-sticker-studio.png (+ .ico)
"""

from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

HERE = Path(__file__).resolve().parent
S = 1024


def draw() -> Image.Image:
    img = Image.new("RGBA", (S, S), (0, 0, 0, 0))
    shadow = Image.new("RGBA", (S, S), (0, 0, 0, 0))
    ImageDraw.Draw(shadow).ellipse((90, 120, 950, 980), fill=(0, 0, 0, 110))
    img = Image.alpha_composite(img, shadow.filter(ImageFilter.GaussianBlur(28)))
    d = ImageDraw.Draw(img)
    d.ellipse((70, 70, 954, 954), fill=(255, 255, 255, 255))  # sticker outline
    d.ellipse((120, 120, 904, 904), fill=(76, 141, 246, 255))  # body
    d.ellipse((230, 300, 794, 860), fill=(226, 236, 255, 255))  # face
    for x in (380, 644):  # eyes
        d.ellipse((x - 52, 470, x + 52, 574), fill=(30, 34, 48, 255))
        d.ellipse((x - 20, 488, x + 8, 516), fill=(255, 255, 255, 255))
    d.ellipse((472, 600, 552, 660), fill=(30, 34, 48, 255))  # nose
    d.arc((400, 600, 624, 760), 20, 160, fill=(30, 34, 48, 255), width=18)  # smile
    for x0, sign in ((300, -1), (724, 1)):  # whiskers
        for dy in (-20, 20):
            d.line((x0, 660 + dy, x0 + sign * 130, 640 + dy * 2), fill=(30, 34, 48, 255), width=10)
    d.ellipse((250, 600, 330, 660), fill=(255, 150, 170, 180))
    d.ellipse((694, 600, 774, 660), fill=(255, 150, 170, 180))
    # peeled corner
    d.polygon([(700, 954), (954, 700), (954, 954)], fill=(0, 0, 0, 0))
    d.polygon([(700, 954), (954, 700), (780, 780)], fill=(235, 238, 245, 255), outline=(200, 205, 215, 255))
    return img


def main() -> None:
    big = draw()
    big.resize((512, 512), Image.LANCZOS).save(HERE / "seal-sticker-studio.png")
    big.save(HERE / "seal-sticker-studio.ico", sizes=[(16, 16), (24, 24), (32, 32), (48, 48), (64, 64),
                                                       (128, 128), (256, 256)])


if __name__ == "__main__":
    main()
