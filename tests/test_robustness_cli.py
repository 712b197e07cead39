"""Bad inputs, bad options and bad disks through the CLI (issue 16): one stderr line, exit 2, nothing left.

Every case here was a traceback, a deleted user folder, a hang, a memory blow-up or a late refusal
before. Disk failures are injected (`OSError` with EROFS / EACCES / ENOSPC) because the suite may run
as root, where chmod 555 does not stop writes; the chmod case runs too where it means something.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from seal_engine.cli import main

DATA = Path(__file__).parent / "data"
STICKERS = sorted((DATA / "export").glob("*.png"))
REFERENCE = DATA / "pack" / "mochi.png"
AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


# ---------------------------------------------------------------- helpers
def run_cli(argv) -> int:
    try:
        return main([str(a) for a in argv])
    except SystemExit as exc:  # argparse refuses some values itself
        return int(exc.code)


def one_line(capsys, code: int, *needles: str) -> str:
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle.lower() in err.lower(), err
    return err


def sticker_dir(tmp_path: Path, n: int = 3) -> Path:
    folder = tmp_path / "stickers"
    folder.mkdir()
    for i in range(n):
        shutil.copy(STICKERS[i % len(STICKERS)], folder / f"{i + 1:02d}_happy.png")
    return folder


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in Path(folder).rglob("*") if p.name.startswith(".") or p.suffix == ".tmp")


def export_args(src: Path, out: Path, *extra) -> list:
    return ["export", src, "--platform", "telegram", "--title", "T", "--author", "A", "-o", out, *extra]


@pytest.fixture
def no_model_load(monkeypatch):
    """Fail the test if anything tries to load a model: the refusal must come first."""
    def refuse(*a, **k):
        raise AssertionError("the model was loaded before the options were checked")

    monkeypatch.setattr("seal_engine.loading.load_pipeline", refuse)


@pytest.fixture
def preset_file(tmp_path) -> Path:
    from seal_engine.attributes import Preset, StickerSpec

    path = tmp_path / "one.json"
    path.write_text(json.dumps(Preset("one", [StickerSpec("Happy", "😀", {"emotion": "happy"})]).to_dict()))
    return path


def pack_args(preset: Path, out: Path, *extra) -> list:
    return ["pack", REFERENCE, "--preset", preset, "--model", "/nonexistent/model", "-o", out, *extra]


# ---------------------------------------------------------------- 1. --overwrite replaces only our folders
def test_export_overwrite_refuses_a_users_folder(tmp_path, capsys):
    docs = tmp_path / "Documents"
    docs.mkdir()
    (docs / "thesis.txt").write_text("years of work")
    (docs / "sub").mkdir()
    one_line(capsys, run_cli(export_args(sticker_dir(tmp_path), docs, "--overwrite")), "not written by SEAL",
             str(docs))
    assert (docs / "thesis.txt").read_text() == "years of work" and (docs / "sub").is_dir()
    assert leftovers(tmp_path) == []


def test_export_overwrite_refuses_a_file(tmp_path, capsys):
    target = tmp_path / "notes.txt"
    target.write_text("mine")
    one_line(capsys, run_cli(export_args(sticker_dir(tmp_path), target, "--overwrite")), str(target))
    assert target.read_text() == "mine"


def test_export_overwrite_replaces_an_earlier_pack(tmp_path, capsys):
    src, out = sticker_dir(tmp_path), tmp_path / "pack"
    assert run_cli(export_args(src, out)) == 0
    assert run_cli(export_args(src, out, "--overwrite")) == 0
    assert (out / "pack.json").is_file() and leftovers(tmp_path) == []


def test_personalize_overwrite_refuses_a_users_folder(tmp_path, capsys, no_model_load):
    docs = tmp_path / "Documents"
    docs.mkdir()
    (docs / "photo.jpg").write_bytes(b"jpeg")
    code = run_cli(["personalize", REFERENCE, "-o", docs, "--overwrite", "--model", "/nonexistent"])
    one_line(capsys, code, "not written by SEAL", "concept.json")
    assert (docs / "photo.jpg").read_bytes() == b"jpeg"


def test_personalize_overwrite_refuses_a_pack_folder(tmp_path, capsys, no_model_load):
    """Our own marker, but the wrong kind: a pack folder is not a concept folder."""
    pack = tmp_path / "pack"
    pack.mkdir()
    (pack / "pack.json").write_text("{}")
    code = run_cli(["personalize", REFERENCE, "-o", pack, "--overwrite", "--model", "/nonexistent"])
    one_line(capsys, code, "not written by SEAL")
    assert (pack / "pack.json").is_file()


def test_pack_refuses_to_replace_a_users_platform_folder(tmp_path, capsys, preset_file, no_model_load):
    out = tmp_path / "job"
    mine = out / "packs" / "telegram"
    mine.mkdir(parents=True)
    (mine / "keep.txt").write_text("mine")
    code = run_cli(pack_args(preset_file, out, "--platform", "telegram", "--title", "T"))
    one_line(capsys, code, "not written by SEAL")
    assert (mine / "keep.txt").read_text() == "mine"


def test_staged_dir_refuses_without_a_marker_even_when_asked(tmp_path):
    from seal_engine.atomic import staged_dir
    from seal_engine.errors import InputError

    folder = tmp_path / "f"
    folder.mkdir()
    (folder / "x").write_text("x")
    with pytest.raises(InputError, match="not written by SEAL"):
        with staged_dir(folder, overwrite=True):
            pass
    assert (folder / "x").is_file() and leftovers(tmp_path) == []


# ---------------------------------------------------------------- 2. filesystem errors: one line, exit 2
def _failing(monkeypatch, module, name, code, under: Path):
    """Make module.name raise OSError(code) for paths under `under` only (the rest of the test runs normally)."""
    original = getattr(module, name)

    def fake(*args, **kwargs):
        where = kwargs.get("dir") or (args[0] if args else "")
        if str(where).startswith(str(under)):
            raise OSError(code, os.strerror(code), str(where))
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, fake)


@pytest.mark.parametrize("code, needle", [(errno.EROFS, "read-only"), (errno.EACCES, "permission denied")])
def test_export_to_unwritable_folder_is_one_line(tmp_path, capsys, monkeypatch, code, needle):
    src, parent = sticker_dir(tmp_path), tmp_path / "ro"
    parent.mkdir()
    _failing(monkeypatch, tempfile, "mkdtemp", code, parent)
    one_line(capsys, run_cli(export_args(src, parent / "pack")), needle, str(parent))
    assert list(parent.iterdir()) == []


def test_export_on_a_full_disk_is_one_line_and_leaves_nothing(tmp_path, capsys, monkeypatch):
    src, out = sticker_dir(tmp_path), tmp_path / "pack"

    def full(self, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", full)
    one_line(capsys, run_cli(export_args(src, out)), "disk is full", str(out))
    assert not out.exists() and leftovers(tmp_path) == []


@pytest.mark.skipif(AS_ROOT, reason="root writes through chmod 555; the injected cases above cover it")
def test_export_into_chmod_555_folder(tmp_path, capsys):
    src, parent = sticker_dir(tmp_path), tmp_path / "ro"
    parent.mkdir()
    parent.chmod(0o555)
    try:
        one_line(capsys, run_cli(export_args(src, parent / "pack")), "permission denied")
    finally:
        parent.chmod(0o755)


def test_mask_to_an_existing_folder_is_one_line(tmp_path, capsys):
    folder = tmp_path / "out"
    folder.mkdir()
    one_line(capsys, run_cli(["mask", STICKERS[0], "-o", folder]), "is a folder", str(folder))
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize("code, needle", [(errno.ENOSPC, "disk is full"), (errno.EROFS, "read-only"),
                                          (errno.EACCES, "permission denied")])
def test_mask_write_failures_are_one_line(tmp_path, capsys, monkeypatch, code, needle):
    out = tmp_path / "m" / "mask.png"
    _failing(monkeypatch, tempfile, "mkstemp", code, tmp_path / "m")
    one_line(capsys, run_cli(["mask", STICKERS[0], "-o", out]), needle, str(out))
    assert not out.exists() and leftovers(tmp_path) == []


def test_mask_fsync_on_full_disk_leaves_no_temp_file(tmp_path, capsys, monkeypatch):
    out = tmp_path / "mask.png"

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    one_line(capsys, run_cli(["mask", STICKERS[0], "-o", out]), "disk is full", str(out))
    assert not out.exists() and leftovers(tmp_path) == []


def test_finish_full_disk_half_way_removes_what_it_wrote(tmp_path, capsys, monkeypatch):
    out = tmp_path / "finished"
    real = os.fsync
    calls = {"n": 0}

    def full_on_second(fd):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(fd)

    monkeypatch.setattr(os, "fsync", full_on_second)
    code = run_cli(["finish", STICKERS[0], STICKERS[1], "-o", out, "--method", "alpha"])
    one_line(capsys, code, "disk is full")
    assert not out.exists() or list(out.iterdir()) == []


def test_pack_to_an_existing_file_is_refused_before_loading(tmp_path, capsys, preset_file, no_model_load):
    target = tmp_path / "out.txt"
    target.write_text("mine")
    one_line(capsys, run_cli(pack_args(preset_file, target)), "is a file", str(target))
    assert target.read_text() == "mine"


def test_any_os_error_reaching_the_cli_is_one_line_naming_the_path(tmp_path, capsys, monkeypatch):
    def boom(args):
        raise PermissionError(errno.EACCES, "Permission denied", "/some/where/file.png")

    import seal_engine.cli.commands.validate as validate

    monkeypatch.setattr(validate, "run", boom)
    one_line(capsys, run_cli(["validate", tmp_path, "--platform", "line"]), "/some/where/file.png")


# ---------------------------------------------------------------- 3. bounded sizes, special and huge files
@pytest.fixture
def no_image_read(monkeypatch):
    def refuse(*a, **k):
        raise AssertionError("the image was read before the options were checked")

    monkeypatch.setattr("seal_engine.intake.load_image", refuse)


@pytest.mark.parametrize("option, value", [("--margin", "100000"), ("--outline", "100000"),
                                           ("--size", "100000x100000"), ("--margin", "-1"), ("--outline", "-5")])
def test_finish_huge_or_negative_sizes_refused_before_anything(tmp_path, capsys, no_image_read, option, value):
    out = tmp_path / "out"
    one_line(capsys, run_cli(["finish", STICKERS[0], "-o", out, option, value]))
    assert not out.exists()


@pytest.mark.parametrize("kw", [dict(margin=float("nan")), dict(outline_px=float("inf")), dict(outline_px=2.5),
                                dict(size=(10**9, 512)), dict(outline_px=True)])
def test_finish_settings_refuse_non_finite_and_unbounded(kw):
    from seal_engine.errors import InputError
    from seal_engine.finishing import FinishSettings

    with pytest.raises(InputError):
        FinishSettings(**kw)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this OS")
def test_fifo_input_is_refused_without_hanging(tmp_path, capsys):
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    one_line(capsys, run_cli(["mask", fifo, "-o", tmp_path / "m.png"]), "not a regular file")


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")
def test_device_input_is_refused(tmp_path, capsys):
    one_line(capsys, run_cli(["mask", "/dev/zero", "-o", tmp_path / "m.png"]), "not a regular file")


def test_huge_file_is_refused_before_it_is_read(tmp_path, capsys, monkeypatch):
    from seal_engine.intake import DEFAULT_MAX_BYTES

    big = tmp_path / "huge.png"
    with open(big, "wb") as fh:  # sparse: no disk used
        fh.truncate(DEFAULT_MAX_BYTES + 1)
    real_open = open

    def guarded_open(file, mode="r", *a, **k):
        if str(file) == str(big):
            raise AssertionError("the huge file was opened")
        return real_open(file, mode, *a, **k)

    monkeypatch.setattr("builtins.open", guarded_open)
    one_line(capsys, run_cli(["mask", big, "-o", tmp_path / "m.png"]), "more than the limit")


def test_reads_are_bounded_even_if_the_size_lies(tmp_path):
    from seal_engine.errors import ImageError
    from seal_engine.intake import load_image

    with pytest.raises(ImageError, match="limit"):
        load_image(STICKERS[0], max_bytes=100)


def test_damaged_png_is_called_damaged_not_foreign(tmp_path, capsys):
    bad = tmp_path / "bad.png"
    data = bytearray(STICKERS[0].read_bytes())
    data[12:29] = b"\x00" * 17  # wreck the IHDR chunk, keep the PNG signature
    bad.write_bytes(bytes(data))
    err = one_line(capsys, run_cli(["mask", bad, "-o", tmp_path / "m.png"]))
    assert "damaged" in err or "corrupted" in err, err
    assert "not an image file" not in err


# ---------------------------------------------------------------- 6. NaN and zero options
@pytest.mark.parametrize("extra, needle", [
    (["--attention-weight", "nan"], "finite"), (["--attention-weight", "inf"], "finite"),
    (["--attention-weight", "-1"], "attention"), (["--steps", "0"], "at least 1"), (["--seed", "-3"], "seed"),
    (["--batch", "0"], "batch"), (["--lora-rank", "0"], "rank"),
])
def test_personalize_bad_numbers_refused_before_loading(tmp_path, capsys, no_model_load, extra, needle):
    out = tmp_path / "concept"
    code = run_cli(["personalize", REFERENCE, "-o", out, "--model", "/nonexistent", *extra])
    one_line(capsys, code, needle)
    assert not out.exists()


@pytest.mark.parametrize("kw", [dict(max_shift=float("nan")), dict(embedding_lr=float("nan")),
                                dict(weight_decay=float("inf")), dict(union_probs=(0.5, float("nan"), 0.2)),
                                dict(embedding_steps=0, lora_steps=0), dict(scale_range=(0.5, float("inf")))])
def test_config_validate_refuses_non_finite_values(kw):
    from seal_engine.errors import InputError

    try:  # the config module moves into the personalize package (seal_engine/personalize/config.py)
        from seal_engine.personalize.config import PersonalizeConfig
    except ImportError:
        from seal_engine.personalize.config import PersonalizeConfig

    with pytest.raises(InputError):
        PersonalizeConfig(**kw).validate()


# ---------------------------------------------------------------- 8/10. early checks, no empty folder
@pytest.mark.parametrize("extra, needle", [
    (["--platform", "line", "--title", "T"], "LINE packs need exactly"),
    (["--platform", "telegram", "--title", "x" * 65], "at most 64"),
    (["--platform", "telegram", "--title", "T", "--author", ""], "needs an author"),
    (["--train-steps", "0"], "--train-steps"), (["--steps", "0"], "--steps"), (["--seed", "-1"], "seed"),
    (["--size", "100"], "multiples of 8"), (["--variants", "0"], "variants"), (["--outline", "100000"], "outline"),
])
def test_pack_refuses_before_loading_and_leaves_no_folder(tmp_path, capsys, preset_file, no_model_load, extra,
                                                          needle):
    out = tmp_path / "job"
    one_line(capsys, run_cli(pack_args(preset_file, out, *extra)), needle)
    assert not out.exists()


def test_pack_with_a_missing_model_leaves_no_empty_folder(tmp_path, capsys, preset_file):
    out = tmp_path / "job"
    one_line(capsys, run_cli(pack_args(preset_file, out)), "nonexistent")
    assert not out.exists()


# ---------------------------------------------------------------- 9. damaged concept and model files
def _concept(folder: Path, embeds: dict, lora: bytes | None = None) -> Path:
    from safetensors.numpy import save_file

    folder.mkdir()
    files = {"embeddings": "learned_embeds.safetensors"}
    save_file(embeds, str(folder / "learned_embeds.safetensors"))
    if lora is not None:
        (folder / "pytorch_lora_weights.safetensors").write_bytes(lora)
        files["lora"] = "pytorch_lora_weights.safetensors"
    (folder / "concept.json").write_text(json.dumps({
        "format_version": 1, "tokens": {"identity": {"token": "<x>", "strings": ["<x>"]}},
        "base_model": {"architecture": "sd15"}, "files": files}))
    return folder


def _generate_with(concept: Path, tmp_path: Path) -> list:
    return ["generate", "--model", "/nonexistent", "--concept", concept, "--prompt", "a <char>", "-o",
            tmp_path / "imgs"]


def test_truncated_embeddings_are_one_line(tmp_path, capsys, no_model_load):
    concept = _concept(tmp_path / "c", {"<x>": np.zeros((2, 32), np.float32)})
    path = concept / "learned_embeds.safetensors"
    path.write_bytes(path.read_bytes()[:-40])
    one_line(capsys, run_cli(_generate_with(concept, tmp_path)), "damaged", "learned_embeds")


def test_truncated_lora_is_one_line(tmp_path, capsys, no_model_load):
    from safetensors.numpy import save

    lora = save({"unet.down.lora_A.weight": np.zeros((4, 64), np.float32)})
    concept = _concept(tmp_path / "c", {"<x>": np.zeros((2, 32), np.float32)}, lora=lora[: len(lora) // 2])
    one_line(capsys, run_cli(_generate_with(concept, tmp_path)), "damaged", "pytorch_lora_weights")


def test_nan_embeddings_are_refused(tmp_path, capsys, no_model_load):
    concept = _concept(tmp_path / "c", {"<x>": np.full((2, 32), np.nan, np.float32)})
    one_line(capsys, run_cli(_generate_with(concept, tmp_path)), "non-finite")


def test_pack_with_damaged_concept_refused_before_loading(tmp_path, capsys, preset_file, no_model_load):
    concept = _concept(tmp_path / "c", {"<x>": np.zeros((2, 32), np.float32)})
    (concept / "learned_embeds.safetensors").write_bytes(b"\x08\x00\x00")
    out = tmp_path / "job"
    one_line(capsys, run_cli(pack_args(preset_file, out, "--concept", concept)), "damaged")
    assert not out.exists()


def test_embeddings_file_given_as_model_is_named_for_what_it_is(tmp_path, capsys):
    from safetensors.numpy import save_file

    emb = tmp_path / "learned_embeds.safetensors"
    save_file({"<x>": np.zeros((2, 32), np.float32)}, str(emb))
    err = one_line(capsys, run_cli(["generate", "--model", emb, "--prompt", "x", "-o", tmp_path / "o"]),
                   "not a Stable Diffusion checkpoint", "embeddings")
    assert "not cached" not in err


def test_truncated_checkpoint_is_one_line(tmp_path, capsys):
    ckpt = tmp_path / "model.safetensors"
    ckpt.write_bytes(b"\xff" * 64)
    one_line(capsys, run_cli(["generate", "--model", ckpt, "--prompt", "x", "-o", tmp_path / "o"]), "damaged")


# ---------------------------------------------------------------- 11. stale staging, labels, wording
def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_staging_of_a_dead_process_is_swept_live_one_kept(tmp_path, capsys):
    src, out = sticker_dir(tmp_path), tmp_path / "packs" / "tg"
    out.parent.mkdir()
    dead = out.parent / f".tg.staging-{_dead_pid()}-abc"
    dead.mkdir()
    (dead / "partial.webp").write_bytes(b"x")
    dead_tmp = out.parent / f".pack.json.{_dead_pid()}.xyz.tmp"
    dead_tmp.write_bytes(b"x")
    live = out.parent / f".tg.staging-{os.getpid()}-def"
    live.mkdir()
    assert run_cli(export_args(src, out)) == 0
    assert not dead.exists() and not dead_tmp.exists() and live.is_dir()


def test_reexported_pack_stickers_keep_plain_labels(tmp_path, capsys):
    src, out = sticker_dir(tmp_path), tmp_path / "pack"
    assert run_cli(["export", src, "--platform", "png", "--title", "T", "--author", "A", "-o", out]) == 0
    labels = [s["label"] for s in json.loads((out / "pack.json").read_text())["stickers"]]
    assert labels == ["happy"] * 3
    files = [s["file"] for s in json.loads((out / "pack.json").read_text())["stickers"]]
    assert not any("01_01" in f for f in files)


def test_missing_author_reads_an_author(tmp_path, capsys):
    one_line(capsys, run_cli(["export", sticker_dir(tmp_path), "--platform", "telegram", "--title", "T",
                              "--author", "", "-o", tmp_path / "p"]), "needs an author")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this OS")
def test_fifo_emoji_map_and_preset_are_refused_without_hanging(tmp_path, capsys, no_model_load):
    fifo = tmp_path / "map.json"
    os.mkfifo(fifo)
    code = run_cli(export_args(sticker_dir(tmp_path), tmp_path / "p", "--emoji-map", fifo))
    one_line(capsys, code, "not a regular file")
    one_line(capsys, run_cli(pack_args(fifo, tmp_path / "job")), "not a regular file")
    assert not (tmp_path / "p").exists() and not (tmp_path / "job").exists()
