"""Names, identifiers, text limits and emoji parsing for the exporters."""

from __future__ import annotations

import json

import pytest

from seal_engine.errors import InputError
from seal_engine.export.emoji import choose_emojis, default_emoji, is_emoji, load_emoji_map, split_emojis
from seal_engine.export.names import (TELEGRAM_SHORT_NAME_RE, WHATSAPP_IDENTIFIER_RE, check_text, clean_text,
                                      telegram_short_name, text_width, whatsapp_identifier)


@pytest.mark.parametrize("title", ["Seal Friends", "  __hello__world__ ", "42 cats!!", "Ünïcødé ☃ pack", "日本語",
                                   "a" * 200, "..//..\\evil"])
def test_identifiers_are_sanitised(title):
    assert TELEGRAM_SHORT_NAME_RE.match(telegram_short_name(title))
    ident = whatsapp_identifier(title)
    assert WHATSAPP_IDENTIFIER_RE.match(ident) and ".." not in ident and "/" not in ident


def test_text_limits_and_cleaning():
    assert clean_text("  Seal\n\tFriends\x00  ") == "Seal Friends"
    with pytest.raises(InputError, match="at most 64"):
        check_text("x" * 65, field="title", platform="Telegram", max_len=64)
    with pytest.raises(InputError, match="needs a title"):
        check_text(" \x07 ", field="title", platform="Telegram", max_len=64)
    assert text_width("あいう", asian_double=True) == 6
    with pytest.raises(InputError, match="count as 2"):
        check_text("あ" * 21, field="title", platform="LINE", max_len=40, asian_double=True)
    assert check_text("a" * 40, field="title", platform="LINE", max_len=40, asian_double=True)


def test_emoji_splitting_and_checking():
    assert split_emojis("👍🏽❤️👨‍👩‍👧🇯🇵1️⃣") == ["👍🏽", "❤️", "👨‍👩‍👧", "🇯🇵", "1️⃣"]
    assert split_emojis("😀, 😢 😠") == ["😀", "😢", "😠"]
    assert not is_emoji("smile") and not is_emoji(":)") and not is_emoji("1")
    assert default_emoji("very happy seal") == "😄" and default_emoji("xyz") == "🙂"


def test_emoji_counts_per_platform():
    assert choose_emojis("sad", ["😢", "😭", "😿", "💧"], lo=1, hi=3) == ["😢", "😭", "😿"]
    assert choose_emojis("sad", ["😢", "😭"], lo=1, hi=1) == ["😢"]
    assert choose_emojis("angry", [], lo=1, hi=20) == ["😠"]
    assert choose_emojis("x", ["😀", "😀"], lo=1, hi=3) == ["😀"]
    with pytest.raises(InputError, match="not an emoji"):
        choose_emojis("x", ["abc"], lo=1, hi=3)


def test_emoji_map_file(tmp_path):
    path = tmp_path / "map.json"
    path.write_text(json.dumps({"happy": "😄😂", "sad": ["😢"]}), encoding="utf-8")
    assert load_emoji_map(path) == {"happy": ["😄", "😂"], "sad": ["😢"]}
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(InputError, match="not valid JSON"):
        load_emoji_map(path)
    path.write_text(json.dumps({"a": "hello"}), encoding="utf-8")
    with pytest.raises(InputError, match="not an emoji"):
        load_emoji_map(path)
    with pytest.raises(InputError, match="does not exist"):
        load_emoji_map(tmp_path / "missing.json")
