"""`seal export` and `seal validate` through seal_engine.cli.main."""

from __future__ import annotations

import json
import shutil

import pytest

from export_helpers import FIXTURES
from seal_engine.cli import main


def _sticker_dir(tmp_path, n=3):
    folder = tmp_path / "stickers"
    folder.mkdir()
    for i in range(n):
        shutil.copy(FIXTURES[i % len(FIXTURES)], folder / f"{i + 1:02d}_happy.png")
    return folder


def test_export_then_validate(tmp_path, capsys):
    folder = _sticker_dir(tmp_path)
    emoji_map = tmp_path / "emoji.json"
    emoji_map.write_text(json.dumps({"01_happy": "😂🎉", "02_happy.png": ["😢"]}), encoding="utf-8")
    out = tmp_path / "pack"
    rc = main(["export", str(folder), "--platform", "whatsapp", "--title", "Seal Friends", "--author", "Me",
               "-o", str(out), "--emoji-map", str(emoji_map)])
    assert rc == 0 and "whatsapp pack 'Seal_Friends': 3 stickers" in capsys.readouterr().out
    man = json.loads((out / "pack.json").read_text(encoding="utf-8"))
    assert [s["emojis"] for s in man["stickers"]] == [["😂", "🎉"], ["😢"], ["😄"]]
    assert main(["validate", str(out), "--platform", "whatsapp"]) == 0
    assert "clean" in capsys.readouterr().out
    # the same pack does not follow Signal's rules: one line per violation, exit 1
    assert main(["validate", str(out), "--platform", "signal"]) == 1
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines and all("\n" not in line for line in lines) and any("platform 'whatsapp'" in l for l in lines)


def test_bad_input_exits_2(tmp_path, capsys):
    folder = _sticker_dir(tmp_path, n=2)
    assert main(["validate", str(tmp_path / "missing"), "--platform", "line"]) == 2
    assert main(["export", str(tmp_path / "missing"), "--platform", "line", "--title", "T", "--author", "A",
                 "-o", str(tmp_path / "p")]) == 2
    assert main(["export", str(folder), "--platform", "whatsapp", "--title", "T", "--author", "A",
                 "-o", str(tmp_path / "p")]) == 2
    err = capsys.readouterr().err
    assert "WhatsApp packs need at least 3 stickers, not 2." in err and "Traceback" not in err
    assert not (tmp_path / "p").exists()
    with pytest.raises(SystemExit) as exit_info:  # argparse refuses unknown choices itself
        main(["export", str(folder), "--platform", "myspace", "--title", "T", "--author", "A", "-o", "x"])
    assert exit_info.value.code == 2


def test_existing_output_needs_overwrite(tmp_path, capsys):
    folder = _sticker_dir(tmp_path)
    out = tmp_path / "pack"
    out.mkdir()
    args = ["export", str(folder), "--platform", "telegram", "--title", "T", "--author", "A", "-o", str(out)]
    assert main(args) == 2 and "already exists" in capsys.readouterr().err
    assert list(out.iterdir()) == []
    assert main(args + ["--overwrite"]) == 0
    assert main(["validate", str(out), "--platform", "telegram"]) == 0
