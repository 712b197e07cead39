"""Desktop tests: offscreen Qt, SEAL_HOME in tmp_path, and no QThread may outlive a test."""

from __future__ import annotations

import gc
import os
from pathlib import Path

os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before any Qt import

import pytest  # noqa: E402

DATA = Path(__file__).resolve().parent.parent / "data" / "desktop"
GRACE_MS = 1000
TINY_PERSONALIZE = {"embedding_steps": 2, "lora_steps": 2, "augment_bank": 2, "probe_attention": False}


@pytest.fixture(autouse=True)
def seal_home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "seal-home"
    monkeypatch.setenv("SEAL_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def tiny_model(request, tmp_path_factory) -> Path:
    """The suite's shared tiny SD1.x pipeline when tests/conftest.py provides it, else our own."""
    try:
        return Path(request.getfixturevalue("tiny_sd15_dir"))
    except pytest.FixtureLookupError:
        from seal_engine.testing import save_tiny_model

        return save_tiny_model(tmp_path_factory.mktemp("models") / "tiny-sd15")


@pytest.fixture(autouse=True)
def no_thread_left(monkeypatch):
    """napari's guard: record every QThread started during the test; fail if one still runs after it."""
    from PySide6.QtCore import QThread

    started: list = []
    original = QThread.start

    def start(self, *args):
        started.append(self)
        return original(self, *args)

    monkeypatch.setattr(QThread, "start", start)
    yield
    for t in started:  # grace for a thread that already emitted its last signal and is returning
        if _alive(t):
            t.wait(GRACE_MS)
    running = [t for t in started if _alive(t)]
    for t in running:  # do not hang the session: let them end, then fail
        t.wait(10000)
    assert not running, f"QThread(s) left running after the test: {running}"
    from seal_desktop import gui_thread_gc

    gui_thread_gc.forget_finished()  # every worker has ended: automatic collection must be back
    assert not gui_thread_gc.holding() and gc.isenabled()


def _alive(thread) -> bool:
    try:
        return thread.isRunning()
    except RuntimeError:  # the C++ object is already deleted: not running
        return False


@pytest.fixture
def make_window(qtbot):
    """Open MainWindow(s) on the current SEAL_HOME; each is shut down (threads joined) at teardown."""
    from seal_desktop.controller import AppContext
    from seal_desktop.ui.main_window import MainWindow

    windows = []

    def make(start_queue: bool = True) -> MainWindow:
        window = MainWindow(AppContext.open(), start_queue=start_queue)
        window.confirm_close = lambda: True
        window.confirm = lambda title, text: True  # remove, cancel, empty trash: auto-answered
        window.library.confirm_delete = lambda name: True
        window.character.ask_unsaved = lambda what: "discard"  # unsaved edits: auto-answered
        window.presets.ask_unsaved = lambda what: "discard"
        qtbot.addWidget(window)
        window.show()
        windows.append(window)
        return window

    yield make
    for window in windows:
        window.shutdown()


@pytest.fixture(scope="session")
def learned_concepts(tiny_model, tmp_path_factory) -> Path:
    """Learn the test character once per session through the app's own job runner (the real
    personalization engine, tiny step counts); tests then start with it in the concept cache,
    exactly as a second job on the same character would."""
    from seal_desktop import engine_adapter as ea

    home = tmp_path_factory.mktemp("concept-home")
    previous = os.environ.get("SEAL_HOME")
    os.environ["SEAL_HOME"] = str(home)
    try:
        from seal_engine.intake import load_image

        mask = home / "mask.png"  # made exactly as the library makes a character's mask
        ea.compute_mask(load_image(DATA / "seal-transparent.png")).mask.save(mask)
        spec = ea.JobSpec(0, "seal", "character", DATA / "seal-transparent.png", mask,
                          {"name": "one", "items": [{"label": "Happy", "emoji": "😀",
                                                     "attributes": {"emotion": "happy"}}]},
                          str(tiny_model), {}, steps=1, variants=1, schedule="fast",
                          output_dir=home / "job", personalize_overrides=TINY_PERSONALIZE)
        ea.run_job(spec)
    finally:
        if previous is None:
            os.environ.pop("SEAL_HOME", None)
        else:
            os.environ["SEAL_HOME"] = previous
    return home / "concepts"


@pytest.fixture
def seeded_concepts(learned_concepts, seal_home) -> Path:
    import shutil

    target = seal_home / "concepts"
    shutil.copytree(learned_concepts, target, dirs_exist_ok=True)
    return target
