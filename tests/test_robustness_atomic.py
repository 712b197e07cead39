"""Staging folders, kills and locks (issue 16): nothing half-done survives a kill, a second run waits."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import tracemalloc
from pathlib import Path

import pytest

from seal_engine.atomic import pid_alive, staged_dir, sweep_stale
from seal_engine.errors import Cancelled, ImageError
from seal_engine.progress import CancelToken

CHILD = """
import sys, time
from pathlib import Path
from seal_engine.cli import _terminate_like_ctrl_c
from seal_engine.atomic import staged_dir
_terminate_like_ctrl_c()
with staged_dir(Path(sys.argv[1])) as stage:
    (stage / "half.bin").write_bytes(b"x" * 1000)
    print("staged", flush=True)
    time.sleep(60)
"""


def _staged_child(final: Path) -> subprocess.Popen:
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(final)], stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "staged"
    return child


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="POSIX signals")
def test_sigterm_removes_the_staging_folder_at_once(tmp_path):
    child = _staged_child(tmp_path / "pack")
    assert [p for p in tmp_path.iterdir() if ".staging-" in p.name]
    child.send_signal(signal.SIGTERM)
    child.wait(30)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="POSIX signals")
def test_kill_9_staging_is_swept_by_the_next_run(tmp_path):
    child = _staged_child(tmp_path / "pack")
    child.kill()
    child.wait(30)
    left = [p for p in tmp_path.iterdir() if ".staging-" in p.name]
    assert len(left) == 1 and not pid_alive(child.pid)
    with staged_dir(tmp_path / "other") as stage:
        (stage / "pack.json").write_text("{}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other"]


def test_sweep_keeps_unrelated_and_live_entries(tmp_path):
    keep = [tmp_path / ".hidden", tmp_path / "photo.staging-1-x", tmp_path / f".a.staging-{os.getpid()}-x"]
    for p in keep:
        p.mkdir()
    assert sweep_stale(tmp_path) == [] and all(p.exists() for p in keep)


def test_non_image_is_refused_from_its_first_bytes_without_reading_it_all(tmp_path):
    from seal_engine.intake import load_image

    junk = tmp_path / "video.png"
    with open(junk, "wb") as fh:
        fh.write(b"\x00\x00\x00\x18ftypmp42")
        fh.truncate(100 * 1024 * 1024)  # sparse 100 MB
    tracemalloc.start()
    try:
        with pytest.raises(ImageError, match="not an image file"):
            load_image(junk)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * 1024 * 1024, peak


def test_a_second_holder_waits_says_so_and_can_cancel(tmp_path, monkeypatch):
    from seal_engine.locks import concept_lock

    events, order = [], []
    with concept_lock("k"):
        token = CancelToken()

        def second():
            try:
                with concept_lock("k", progress=events.append, cancel=token):
                    order.append("second")
            except Cancelled:
                order.append("cancelled")

        t = threading.Thread(target=second)
        t.start()
        while not events:
            time.sleep(0.05)
        token.cancel()
        t.join(10)
    assert order == ["cancelled"] and "Another run" in events[0].message

    def third():
        with concept_lock("k", progress=events.append):
            order.append("third")

    with concept_lock("k"):
        t = threading.Thread(target=third)
        t.start()
        time.sleep(0.5)
        order.append("first done")
    t.join(10)
    assert order == ["cancelled", "first done", "third"]


def test_lock_files_stay_out_of_the_users_folders(tmp_path, isolated_seal_home):
    from seal_engine.locks import output_lock

    out = tmp_path / "my-output"
    with output_lock(out):
        pass
    assert [p.name for p in tmp_path.iterdir()] == ["seal-home"]  # no lock file, no folder beside the output
    assert list((isolated_seal_home / "locks").glob("output-*.lock"))


def test_concept_overwrite_needs_a_concept_folder(tmp_path):
    """The engine's own rule (not only the CLI's): a concept replaces only a folder with concept.json."""
    from PIL import Image

    from seal_engine.concept import write_concept
    from seal_engine.errors import InputError

    torch = pytest.importorskip("torch")
    target = tmp_path / "c"
    target.mkdir()
    (target / "pack.json").write_text("{}")  # SEAL's, but a pack
    image = Image.new("RGBA", (8, 8))
    kw = dict(identity_embeds={"<x>": torch.zeros(2, 4)}, context_embeds=None, lora_writer=None, reference=image,
              mask=image.getchannel("A"), overwrite=True)
    meta = {"format_version": 1, "tokens": {"identity": {"token": "<x>", "strings": ["<x>"]}},
            "base_model": {"architecture": "sd15"}}
    with pytest.raises(InputError, match="not written by SEAL"):
        write_concept(target, meta, **kw)
    assert [p.name for p in target.iterdir()] == ["pack.json"]
    (target / "pack.json").unlink()
    (target / "concept.json").write_text("{}")
    write_concept(target, meta, **kw)
    assert (target / "learned_embeds.safetensors").is_file()


def test_a_kill_mid_swap_puts_the_old_folder_back(tmp_path):
    """Killed after the old pack was moved aside and before the new one moved in: the old one returns."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    trash = tmp_path / f".pack.old-{proc.pid}-x"
    (trash / "pack").mkdir(parents=True)
    (trash / "pack" / "pack.json").write_text("{}")
    assert sweep_stale(tmp_path) == [trash]
    assert (tmp_path / "pack" / "pack.json").is_file() and not trash.exists()


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_written_files_and_folders_get_the_umask_mode_not_the_temp_files_private_one(tmp_path):
    import importlib

    import seal_engine.atomic as atomic

    old = os.umask(0o022)
    try:
        importlib.reload(atomic)  # the module reads the umask at import
        new = tmp_path / "new.json"
        atomic.atomic_write_json(new, {"a": 1})
        assert new.stat().st_mode & 0o777 == 0o644  # mkstemp alone gives 0600
        kept = tmp_path / "kept.txt"
        kept.write_text("x")
        kept.chmod(0o640)
        atomic.atomic_write_text(kept, "y")
        assert kept.stat().st_mode & 0o777 == 0o640  # a replaced file keeps its mode
        with atomic.staged_dir(tmp_path / "pack") as stage:
            atomic.atomic_write_text(stage / "pack.json", "{}")
        assert (tmp_path / "pack").stat().st_mode & 0o777 == 0o755  # mkdtemp alone gives 0700
        assert (tmp_path / "pack" / "pack.json").stat().st_mode & 0o777 == 0o644
    finally:
        os.umask(old)
        importlib.reload(atomic)
