"""Emoji for every sticker: given by the preset item, an emoji-map file, or a default.

Emoji strings are split into user-perceived emoji by a small hand-written
grapheme splitter (ZWJ sequences, skin tones, variation selectors, flags,
keycaps, tag sequences) instead of pulling in the `regex` package for `\\X`:
that is all emoji need, and it keeps the engine's dependency list short.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import InputError

ZWJ = "\u200d"
VS16, VS15 = "\ufe0f", "\ufe0e"
KEYCAP = "\u20e3"

#: Label words -> emoji, for stickers that come without one (first match wins).
KEYWORD_EMOJI: tuple[tuple[tuple[str, ...], str], ...] = (
    (("laugh", "lol", "haha"), "😂"),
    (("happy", "joy", "smile", "glad", "yay"), "😄"),
    (("love", "heart", "kiss", "crush"), "😍"),
    (("sad", "cry", "tear", "upset"), "😢"),
    (("angry", "mad", "rage", "furious"), "😠"),
    (("surprise", "shock", "wow", "omg"), "😮"),
    (("sleep", "tired", "zzz", "bored"), "😴"),
    (("think", "hmm", "wonder", "confus"), "🤔"),
    (("cool", "sunglass"), "😎"),
    (("scared", "fear", "afraid"), "😱"),
    (("sick", "ill"), "🤒"),
    (("wink",), "😉"),
    (("hello", "hi", "wave", "bye"), "👋"),
    (("thanks", "thank", "pray", "please"), "🙏"),
    (("ok", "yes", "thumb", "like", "agree"), "👍"),
    (("no", "nope", "dislike"), "👎"),
    (("party", "celebrat", "congrat", "birthday"), "🎉"),
    (("eat", "food", "hungry"), "🍔"),
    (("coffee", "tea"), "☕"),
    (("run", "hurry", "late"), "🏃"),
    (("dance",), "💃"),
    (("music", "sing"), "🎵"),
)
DEFAULT_EMOJI = "🙂"


def _is_pictographic(ch: str) -> bool:
    cp = ord(ch)
    return (
        cp in (0x00A9, 0x00AE)
        or 0x203C <= cp <= 0x3299
        or 0x1F000 <= cp <= 0x1FAFF
    )


def _is_modifier(ch: str) -> bool:
    cp = ord(ch)
    return ch in (VS16, VS15, KEYCAP) or 0x1F3FB <= cp <= 0x1F3FF or 0xE0020 <= cp <= 0xE007F


def _is_regional(ch: str) -> bool:
    return 0x1F1E6 <= ord(ch) <= 0x1F1FF


def split_emojis(text: str) -> list[str]:
    """'👍🏽❤️👨‍👩‍👧' -> ['👍🏽', '❤️', '👨‍👩‍👧'] (whitespace and commas separate too)."""
    out: list[str] = []
    cur = ""
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isspace() or ch == ",":
            if cur:
                out.append(cur)
            cur = ""
        elif cur and (_is_modifier(ch) or ch == ZWJ or cur.endswith(ZWJ)):
            cur += ch
        elif cur and _is_regional(ch) and len(cur) == 1 and _is_regional(cur):
            cur += ch  # second half of a flag
        else:
            if cur:
                out.append(cur)
            cur = ch
        i += 1
    if cur:
        out.append(cur)
    return out


def is_emoji(item: str) -> bool:
    """True for one emoji (sequence); plain text such as 'smile' or ':)' is refused."""
    if not item or any(ch.isspace() for ch in item):
        return False
    head = item[0]
    if head in "0123456789#*":  # keycap: digit + (VS16) + U+20E3
        return item.endswith(KEYCAP) and all(c in (VS16, KEYCAP) for c in item[1:])
    if not (_is_pictographic(head) or _is_regional(head)):
        return False
    return all(_is_pictographic(c) or _is_regional(c) or _is_modifier(c) or c == ZWJ for c in item)


def parse_emojis(value: str | list[str], *, where: str) -> list[str]:
    """Parse a string or list of strings into emoji; refuse anything that is not emoji."""
    items: list[str] = []
    for part in [value] if isinstance(value, str) else list(value):
        if not isinstance(part, str):
            raise InputError(f"{where}: emoji must be text, got {part!r}.")
        items += split_emojis(part)
    bad = [i for i in items if not is_emoji(i)]
    if bad:
        raise InputError(f"{where}: {bad[0]!r} is not an emoji; use emoji characters such as 😄.")
    return items


def load_emoji_map(path: Path) -> dict[str, list[str]]:
    """Read a JSON object {file stem or label: "emoji(s)" or ["emoji", ...]}."""
    from ..fs_errors import read_small_file

    path = Path(path)
    data = read_small_file(path, what="Emoji map")  # no FIFO hang, no giant file read whole
    try:
        raw = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InputError(f"Emoji map {path} is not valid JSON ({err}).") from None
    if not isinstance(raw, dict):
        raise InputError(f"Emoji map {path} must be a JSON object mapping file names to emoji.")
    return {str(k): parse_emojis(v, where=f"Emoji map entry {k!r}") for k, v in raw.items()}


def default_emoji(label: str) -> str:
    """A sensible emoji guessed from the sticker's label words, else a neutral smile."""
    words = "".join(c if c.isalnum() else " " for c in label.lower()).split()
    for keys, emoji in KEYWORD_EMOJI:
        if any(w == k or (len(k) > 3 and w.startswith(k)) for w in words for k in keys):
            return emoji
    return DEFAULT_EMOJI


def choose_emojis(label: str, given: list[str], *, lo: int, hi: int) -> list[str]:
    """The sticker's emoji clipped to the platform's count: duplicates dropped, at most `hi`,
    padded with the default when fewer than `lo` (every platform needs at least one)."""
    out: list[str] = []
    for e in parse_emojis(list(given), where=f"Sticker {label!r}"):
        if e not in out:
            out.append(e)
    out = out[:hi]
    while len(out) < lo:
        extra = default_emoji(label) if default_emoji(label) not in out else DEFAULT_EMOJI
        if extra in out:
            break
        out.append(extra)
    return out
