"""First-run dialog: local model choices saved to the settings, cancel leaves no partial download.

No network: the download path runs with a substituted resolve function."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from seal_desktop.first_run import Choice, FirstRunDialog, hub_cache_folder, needs_first_run
from seal_desktop.settings import Settings, load_settings
from seal_engine.errors import ModelError
from seal_engine.model_source import DEFAULT_MODEL
from seal_engine.progress import ProgressEvent


@pytest.fixture
def paths(tmp_path):
    return tmp_path / "settings.json", tmp_path / "models"


def _dialog(qtbot, paths, resolve_fn=None, settings=None):
    settings_file, cache = paths
    dialog = FirstRunDialog(settings or Settings(), settings_file=settings_file, cache_dir=cache, resolve_fn=resolve_fn)
    qtbot.addWidget(dialog, before_close_func=lambda d: d.cancel_download() or d._finish_thread())
    dialog.show()
    return dialog


def test_default_settings_need_first_run_and_local_folder_does_not(tiny_model, paths):
    _, cache = paths
    assert needs_first_run(Settings(), cache)
    assert not needs_first_run(Settings(model_source="folder", model=str(tiny_model)), cache)
    assert needs_first_run(Settings(model_source="folder", model=str(tiny_model.parent / "nope")), cache)
    assert needs_first_run(Settings(model_source="file", model="/no/such/model.safetensors"), cache)


def test_dialog_explains_what_it_downloads(qtbot, paths):
    dialog = _dialog(qtbot, paths)
    text = " ".join(label.text() for label in dialog.findChildren(type(dialog.status)))
    assert DEFAULT_MODEL in text and "GB" in dialog.download_button.text()


def test_choosing_a_local_folder_saves_it(qtbot, paths, tiny_model):
    settings_file, _ = paths
    dialog = _dialog(qtbot, paths)
    assert dialog.choose_folder(tiny_model)
    assert dialog.choice is Choice.FOLDER and dialog.result() == dialog.DialogCode.Accepted
    saved = load_settings(settings_file)
    assert (saved.model_source, Path(saved.model)) == ("folder", tiny_model.resolve())
    assert not needs_first_run(saved)


def test_a_folder_without_model_index_is_refused(qtbot, paths, tmp_path):
    settings_file, _ = paths
    dialog = _dialog(qtbot, paths)
    assert not dialog.choose_folder(tmp_path)
    assert "model_index.json" in dialog.status.text()
    assert dialog.choice is None and not settings_file.exists()


def test_choosing_a_safetensors_file_saves_it(qtbot, paths, tmp_path):
    settings_file, _ = paths
    ckpt = tmp_path / "my-model.safetensors"
    ckpt.write_bytes(b"0")
    dialog = _dialog(qtbot, paths)
    assert not dialog.choose_file(tmp_path / "other.ckpt")
    assert dialog.choose_file(ckpt)
    saved = load_settings(settings_file)
    assert (saved.model_source, saved.model, dialog.choice) == ("file", str(ckpt.resolve()), Choice.FILE)


def _partial_download(cache: Path, repo_id: str) -> Path:
    """What huggingface_hub leaves mid-download: a snapshot with model_index.json and an .incomplete blob."""
    root = hub_cache_folder(repo_id, cache)
    (root / "refs").mkdir(parents=True)
    (root / "refs" / "main").write_text("abc")
    (root / "snapshots" / "abc").mkdir(parents=True)
    (root / "snapshots" / "abc" / "model_index.json").write_text("{}")
    (root / "blobs").mkdir()
    (root / "blobs" / "123.incomplete").write_bytes(b"x" * 1000)
    return root


def test_cancel_stops_the_download_and_leaves_nothing(qtbot, paths):
    settings_file, cache = paths
    started = threading.Event()

    def fake_resolve(repo_id, *, cache_dir, progress, cancel):
        _partial_download(Path(cache_dir), repo_id)
        started.set()
        for i in range(100000):  # "bytes" keep arriving until the token stops the download
            progress(ProgressEvent("download", i, 3_000_000_000, message="Downloading bytes"))
            cancel.raise_if_cancelled()
            threading.Event().wait(0.005)
        raise AssertionError("cancel was never seen")

    dialog = _dialog(qtbot, paths, fake_resolve)
    dialog.start_download()
    assert started.wait(10)
    qtbot.waitUntil(lambda: dialog.progress.maximum() == 1000 and dialog.status.text().startswith("Downloading"))
    assert not dialog.folder_button.isEnabled() and dialog.cancel_button.isVisible()
    with qtbot.waitSignal(dialog.thread.cancelled, timeout=10000):
        dialog.cancel_button.click()
    qtbot.waitUntil(lambda: dialog.thread is None)
    assert "cancelled" in dialog.status.text()
    assert not hub_cache_folder(DEFAULT_MODEL, cache).exists()
    assert dialog.choice is None and not settings_file.exists()
    assert dialog.download_button.isEnabled()  # the user may try again or pick a local model


def test_a_failed_download_says_why_and_cleans_up(qtbot, paths):
    _, cache = paths

    def fake_resolve(repo_id, *, cache_dir, progress, cancel):
        _partial_download(Path(cache_dir), repo_id)
        raise ModelError("The hub cannot be reached.")

    dialog = _dialog(qtbot, paths, fake_resolve)
    dialog.start_download()
    qtbot.waitUntil(lambda: dialog.thread is None)
    assert "cannot be reached" in dialog.status.text()
    assert not hub_cache_folder(DEFAULT_MODEL, cache).exists()


def test_a_finished_download_is_saved(qtbot, paths, tiny_model):
    settings_file, _ = paths
    seen = []

    def fake_resolve(repo_id, *, cache_dir, progress, cancel):
        seen.append(repo_id)
        progress(ProgressEvent("download", 10, 10))
        return tiny_model

    dialog = _dialog(qtbot, paths, fake_resolve)
    dialog.start_download()
    qtbot.waitUntil(lambda: dialog.choice is not None)
    assert seen == [DEFAULT_MODEL] and dialog.choice is Choice.DOWNLOADED
    saved = load_settings(settings_file)
    assert (saved.model_source, saved.model) == ("hub", DEFAULT_MODEL)


def test_closing_the_dialog_mid_download_cancels_it(qtbot, paths):
    _, cache = paths

    def fake_resolve(repo_id, *, cache_dir, progress, cancel):
        _partial_download(Path(cache_dir), repo_id)
        while True:
            cancel.raise_if_cancelled()
            threading.Event().wait(0.005)

    dialog = _dialog(qtbot, paths, fake_resolve)
    dialog.start_download()
    qtbot.waitUntil(lambda: hub_cache_folder(DEFAULT_MODEL, cache).exists())
    dialog.reject()
    assert dialog.thread is None and dialog.choice is Choice.SKIPPED
    assert not hub_cache_folder(DEFAULT_MODEL, cache).exists()


def test_skip_env_never_shows_the_dialog(monkeypatch):
    from seal_desktop.first_run import run_first_run_if_needed

    monkeypatch.setenv("SEAL_SKIP_FIRST_RUN", "1")
    assert run_first_run_if_needed() is None




def test_app_start_shows_the_dialog_only_without_a_usable_model(qtbot, monkeypatch, tiny_model):
    from seal_desktop import first_run
    from seal_desktop.settings import save_settings

    shown = []

    def fake_exec(dialog):
        shown.append(dialog)
        dialog.skip()
        return 0

    monkeypatch.setattr(first_run.FirstRunDialog, "exec", fake_exec)
    assert first_run.run_first_run_if_needed() is Choice.SKIPPED and len(shown) == 1
    for d in shown:
        d.deleteLater()
    save_settings(Settings(model_source="folder", model=str(tiny_model)))  # into SEAL_HOME (conftest)
    assert first_run.run_first_run_if_needed() is None and len(shown) == 1
