"""Names, identifiers and text limits per platform.

User text (titles, authors) is cleaned (control characters removed, whitespace
collapsed) but never silently shortened: a title over the limit is refused with
the limit in the message, so the creator picks the words. Identifiers derived
from the title (Telegram short name, WhatsApp identifier, file names) are
sanitised to the platform's alphabet automatically.
"""

from __future__ import annotations

import re
import unicodedata

from ..errors import InputError

TELEGRAM_SHORT_NAME_RE = re.compile(r"^[A-Za-z](?!.*__)[A-Za-z0-9_]{0,63}$")
WHATSAPP_IDENTIFIER_RE = re.compile(r"^[A-Za-z0-9_\-.,' ]{1,128}$")


def clean_text(text: str) -> str:
    """NFC, no control/format characters (ZWJ kept for emoji), single spaces, stripped."""
    text = unicodedata.normalize("NFC", str(text))
    kept = "".join(
        " " if ch.isspace() else ch
        for ch in text
        if ch.isspace() or ch == "\u200d" or not unicodedata.category(ch).startswith("C")
    )
    return " ".join(kept.split())


def text_width(text: str, *, asian_double: bool = False) -> int:
    """Characters counted the platform's way (LINE counts wide East Asian characters twice)."""
    if not asian_double:
        return len(text)
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def check_text(value: str, *, field: str, platform: str, max_len: int | None, min_len: int = 1,
               asian_double: bool = False) -> str:
    """Clean `value` and enforce the platform's length limits (InputError otherwise)."""
    text = clean_text(value or "")
    width = text_width(text, asian_double=asian_double)
    counted = " (wide Asian characters count as 2)" if asian_double else ""
    if width < min_len:
        if min_len == 1:
            article = "an" if field[:1].lower() in "aeiou" else "a"
            raise InputError(f"{platform} needs {article} {field}; give one with --{field}.")
        raise InputError(f"The {field} {text!r} is too short; {platform} needs at least {min_len} characters.")
    if max_len is not None and width > max_len:
        raise InputError(
            f"The {field} is {width} characters{counted}; {platform} allows at most {max_len}, so shorten it."
        )
    return text


def ascii_words(text: str) -> list[str]:
    """Transliterate to ASCII (accents dropped) and split into alphanumeric words."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.findall(r"[A-Za-z0-9]+", ascii_text)


def slug(text: str, *, max_len: int = 40, fallback: str = "sticker") -> str:
    """Lower-case ASCII file-name stem: words joined by '_' (never empty)."""
    s = "_".join(w.lower() for w in ascii_words(text))[:max_len].strip("_")
    return s or fallback


def telegram_short_name(title: str) -> str:
    """Letters, digits and '_', starting with a letter, no '__', 1-64 chars."""
    s = "_".join(ascii_words(title))
    if not s or not s[0].isalpha():
        s = "seal_" + s
    s = re.sub(r"_+", "_", s)[:64].rstrip("_")
    assert TELEGRAM_SHORT_NAME_RE.match(s), s
    return s


def whatsapp_identifier(title: str) -> str:
    """Letters, digits, '_', '-', '.', no '..', <= 128 chars (a safe subset of the allowed set,
    chosen so the identifier is also a portable file name)."""
    s = re.sub(r"[^A-Za-z0-9_\-.]+", "_", "_".join(ascii_words(title)))
    s = re.sub(r"\.{2,}", ".", s).strip("._-")[:128].rstrip(".")
    return s or "seal_stickers"


def discord_sticker_name(label: str, index: int) -> str:
    """2-30 characters; Discord allows spaces and most symbols but we keep it plain."""
    name = " ".join(ascii_words(label))[:30].strip()
    if len(name) < 2:
        name = f"sticker {index + 1}"
    return name


def file_stem(index: int, label: str, *, width: int = 2) -> str:
    """'03_happy_seal': numbered so the platform keeps the creator's order."""
    return f"{index + 1:0{width}d}_{slug(label)}"
