"""`seal personalize` and `seal generate --concept`: the happy path and one-line errors with exit 2."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from personalize_helpers import reference_image, single_torch_thread  # noqa: F401
from seal_engine.cli import main


@pytest.fixture()
def ref_png(tmp_path):
    path = tmp_path / "ref.png"
    reference_image().save(path)
    return path


def _code(argv):
    try:
        return main(argv)
    except SystemExit as exc:  # argparse rejects bad option values before run()
        return exc.code


def _one_line_error(capsys, code):
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


def test_personalize_then_generate(tmp_path, ref_png, tiny_sd15_dir, capsys):
    out = tmp_path / "concept"
    code = main(["personalize", str(ref_png), "--model", str(tiny_sd15_dir), "-o", str(out), "--steps", "4",
                 "--class-word", "cat", "--no-split-merge", "--layers", "all", "--seed", "5"])
    assert code == 0
    meta = json.loads((out / "concept.json").read_text())
    assert meta["seed"] == 5 and meta["steps"]["total"] == 4 and meta["tokens"]["context"] is None
    assert meta["lora"]["preset"] == "all" and meta["class_word"] == "cat"
    assert "mask: alpha" in capsys.readouterr().out
    code = main(["generate", "--model", str(tiny_sd15_dir), "--concept", str(out), "--prompt",
                 "a sticker of <char>, waving", "--steps", "2", "-o", str(tmp_path / "imgs")])
    assert code == 0
    record = json.loads((tmp_path / "imgs" / "seed-0.json").read_text())
    assert record["prompt"] == "a sticker of <seal-id> cat, waving" and record["concept"]["path"].endswith("concept")


def test_mask_file_is_used(tmp_path, tiny_sd15_dir, capsys):
    opaque = tmp_path / "opaque.png"
    Image.new("RGB", (64, 64), (0, 0, 200)).save(opaque)
    mask = tmp_path / "mask.png"
    reference_image().getchannel("A").save(mask)
    code = main(["personalize", str(opaque), "--model", str(tiny_sd15_dir), "-o", str(tmp_path / "c"),
                 "--mask", str(mask), "--steps", "2", "--base", "ti"])
    assert code == 0 and "mask: file" in capsys.readouterr().out
    assert Image.open(tmp_path / "c" / "mask.png").getextrema() == (0, 255)


def test_error_paths_exit_2_with_one_line(tmp_path, ref_png, tiny_sd15_dir, capsys):
    model = ["--model", str(tiny_sd15_dir)]
    err = _one_line_error(capsys, _code(["personalize", str(tmp_path / "nope.png"), *model, "-o", str(tmp_path / "a")]))
    assert "nope.png" in err
    (tmp_path / "taken").mkdir()
    err = _one_line_error(capsys, _code(["personalize", str(ref_png), *model, "-o", str(tmp_path / "taken")]))
    assert "already exists" in err
    _one_line_error(capsys, _code(["personalize", str(ref_png), *model, "-o", str(tmp_path / "b"), "--steps", "0"]))
    _one_line_error(capsys, _code(["personalize", str(ref_png), *model, "-o", str(tmp_path / "b"), "--layers", "x"]))
    _one_line_error(capsys, _code(["personalize", str(ref_png), *model, "-o", str(tmp_path / "b"),
                                  "--layer-pattern", "no.such.layer", "--steps", "2"]))
    _one_line_error(capsys, _code(["personalize", str(ref_png), *model, "-o", str(tmp_path / "b"), "--vectors", "0"]))
    assert not (tmp_path / "b").exists()
    err = _one_line_error(capsys, _code(["generate", *model, "--concept", str(tmp_path / "none"), "--prompt",
                                        "a <char>", "-o", str(tmp_path / "g")]))
    assert "not a concept folder" in err
    (tmp_path / "fake").mkdir()
    (tmp_path / "fake" / "concept.json").write_text("{}")
    err = _one_line_error(capsys, _code(["generate", *model, "--concept", str(tmp_path / "fake"), "--prompt",
                                         "a cat", "-o", str(tmp_path / "g")]))
    assert "not a SEAL concept" in err


def test_start_and_hold_switches_are_on_off_or_left_to_the_schedule():
    from seal_engine.cli import build_parser

    def parsed(*flags):
        args = build_parser().parse_args(["personalize", "ref.png", "-o", "out", *flags])
        return args.image_start, args.context_hold

    assert parsed() == (None, None)  # the schedule decides
    assert parsed("--image-start", "--no-context-hold") == (True, False)
    assert parsed("--no-image-start", "--context-hold") == (False, True)


def test_edited_views_are_on_off_or_left_to_the_schedule_on_the_command_line():
    from seal_engine.cli import build_parser
    from seal_engine.personalize import PersonalizeConfig

    parse = build_parser().parse_args
    assert parse(["personalize", "ref.png", "-o", "out"]).edited_views is None
    assert parse(["personalize", "ref.png", "-o", "out", "--edited-views"]).edited_views is True
    assert parse(["personalize", "ref.png", "-o", "out", "--no-edited-views"]).edited_views is False
    assert PersonalizeConfig(schedule="paper").uses_edited_views
    assert not PersonalizeConfig(schedule="quality").uses_edited_views
    assert not PersonalizeConfig(schedule="paper", edited_views=False).uses_edited_views
