"""Seeds a demo SEAL_HOME (two characters, one finished tiny-model job) and grabs the main
screens of the real window. Run under Xvfb:

    xvfb-run -a -s "-screen 0 1600x1000x24" python docs/screenshots/make_screenshots.py

`--running` grabs the whole screen (so anything off-screen would show) while a job runs:
the window filling the screen, learning with its loss line, stickers streaming into Results:

    xvfb-run -a -s "-screen 0 1366x768x24" python docs/screenshots/make_screenshots.py --running
    xvfb-run -a -s "-screen 0 1920x1080x24" python docs/screenshots/make_screenshots.py --running
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
OUT = Path(__file__).resolve().parent
FIXTURES = Path(os.environ.get("SEAL_FIXTURES", ROOT.parent / "shared" / "fixtures" / "stickers" / "images"))


def add_demo_characters(window: Any) -> list[Any]:
    """Three fixture characters with names, class words and tags, the first one selected."""
    added = window.add_files([FIXTURES / "dev-000-transparent.png", FIXTURES / "dev-005-white.png",
                              FIXTURES / "dev-010-gradient.jpg"])
    store = window.ctx.characters
    store.update(added[0].id, name="Bubbles", class_word="seal", tags="sea, blue, cute",
                 notes="Round grey seal; keep the whiskers.")
    store.update(added[1].id, name="Pip", class_word="bird", tags="bird")
    store.update(added[2].id, name="Momo", class_word="character", tags="face")
    window.library.refresh(added[0].id)
    return added


def main() -> None:
    home = Path(tempfile.mkdtemp(prefix="seal-demo-"))
    os.environ["SEAL_HOME"] = str(home)
    os.environ["SEAL_SKIP_FIRST_RUN"] = "1"
    from PySide6.QtCore import QEventLoop, QTimer

    from seal_desktop.app import create_app
    from seal_desktop.ui.main_window import MainWindow
    from seal_engine.testing import save_tiny_model

    app = create_app(["demo"])
    model = save_tiny_model(home / "tiny-model")
    window = MainWindow()
    window.resize(1440, 860)
    window.show()
    added = add_demo_characters(window)
    store = window.ctx.characters
    preset = window.ctx.presets.get("Daily emotions").to_dict()
    preset["items"] = preset["items"][:8]
    loop = QEventLoop()
    window.controller.jobFinished.connect(lambda *_: loop.quit())
    character = store.get(added[0].id)
    job = window.controller.enqueue(character, preset, model=str(model), steps=4, variants=2, schedule="fast",
                                    personalize={"embedding_steps": 2, "lora_steps": 2, "augment_bank": 2,
                                                 "probe_attention": False})
    loop.exec()
    window.controller.paused = True
    window.controller.enqueue(store.get(added[1].id), window.ctx.presets.get("Actions").to_dict(), model=str(model))
    window.controller.enqueue(store.get(added[2].id), window.ctx.presets.get("LINE 16").to_dict(), model=str(model))

    def settle(ms: int = 300) -> None:
        QTimer.singleShot(ms, loop.quit)
        loop.exec()

    window.library.refresh(added[0].id)
    window.queue.refresh()
    window.tabs.setCurrentWidget(window.character)
    settle()
    window.grab().save(str(OUT / "main-character.png"))
    window.tabs.setCurrentWidget(window.presets)
    window.presets.refresh("Reactions and replies")
    window.presets.table.setCurrentCell(2, 3)
    settle()
    window.grab().save(str(OUT / "presets.png"))
    window.show_results(job.id)
    settle(600)
    window.grab().save(str(OUT / "results.png"))
    dialog = window.open_export(job.id)
    settle()
    dialog.grab().save(str(OUT / "export.png"))
    dialog.close()
    settings = window.open_settings()
    settle()
    settings.grab().save(str(OUT / "settings.png"))
    settings.close()
    window.shutdown()
    print("saved to", OUT)


def running() -> None:
    """Screens during a running job, grabbed from the whole screen at its own size."""
    home = Path(tempfile.mkdtemp(prefix="seal-running-"))
    os.environ["SEAL_HOME"] = str(home)
    os.environ["SEAL_SKIP_FIRST_RUN"] = "1"
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtGui import QGuiApplication

    from seal_desktop.app import create_app
    from seal_desktop.ui.main_window import MainWindow
    from seal_engine.testing import save_tiny_model

    app = create_app(["demo"])
    screen = QGuiApplication.primaryScreen()
    size = f"{screen.size().width()}x{screen.size().height()}"
    model = save_tiny_model(home / "tiny-model")
    window = MainWindow()
    window.setGeometry(screen.availableGeometry())
    window.show()
    added = add_demo_characters(window)
    store = window.ctx.characters
    loop = QEventLoop()

    def settle(ms: int = 300) -> None:
        QTimer.singleShot(ms, loop.quit)
        loop.exec()

    def until(check, timeout_ms: int = 300000) -> None:
        waited = 0
        while not check() and waited < timeout_ms:
            settle(100)
            waited += 100

    preset = window.ctx.presets.get("Daily emotions").to_dict()
    character = store.get(added[0].id)
    job = window.controller.enqueue(character, preset, model=str(model), steps=12, variants=2, schedule="fast",
                                    personalize={"embedding_steps": 60, "lora_steps": 60, "augment_bank": 2,
                                                 "probe_attention": False})
    window.controller.enqueue(store.get(added[1].id), window.ctx.presets.get("Actions").to_dict(), model=str(model))
    window.queue.refresh()
    window.queue.list.setCurrentRow(0)
    latest = lambda: window.controller.latest_progress(job.id) or {}  # noqa: E731
    until(lambda: latest().get("phase") in ("embeddings", "lora") and latest().get("losses"))
    window.tabs.setCurrentWidget(window.character)
    settle(600)
    screen.grabWindow(0).save(str(OUT / f"running-{size}-character.png"))
    until(lambda: len(window.ctx.jobs.results(job.id)) >= 5)
    window.show_results(job.id)
    settle(800)
    window.results.flush()
    screen.grabWindow(0).save(str(OUT / f"running-{size}-results.png"))
    first = window.ctx.jobs.results(job.id)[0]
    preview = window.results.open_preview(first.id)
    settle(400)
    screen.grabWindow(0).save(str(OUT / f"running-{size}-preview.png"))
    preview.close()
    window.tabs.setCurrentWidget(window.presets)
    window.presets.refresh("Reactions and replies")
    settle(400)
    screen.grabWindow(0).save(str(OUT / f"running-{size}-presets.png"))
    settings = window.open_settings()
    settle(400)
    screen.grabWindow(0).save(str(OUT / f"running-{size}-settings.png"))
    settings.close()
    print("window", window.geometry(), "screen", screen.availableGeometry(), "min", window.minimumSizeHint())
    window.controller.cancel(job.id)
    window.shutdown()
    print("saved to", OUT)


if __name__ == "__main__":
    running() if "--running" in sys.argv else main()
