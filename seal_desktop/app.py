"""`seal-desktop` entry point. Only Qt and the Qt-free stores load at start-up; torch and
diffusers are imported by the worker thread a moment after the window shows (warm-up)."""

from __future__ import annotations

import multiprocessing
import sys
from typing import Optional, Sequence

WARMUP_DELAY_MS = 500


def create_app(argv: Optional[Sequence[str]] = None):
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication

    from seal_engine.attributes import resources_dir

    app = QApplication.instance() or QApplication(list(argv or sys.argv))
    app.setApplicationName("SEAL Sticker Studio")
    app.setOrganizationName("SEAL")
    res = resources_dir()
    icon = res / "icons" / "seal-sticker-studio.png"
    if icon.is_file():
        app.setWindowIcon(QIcon(str(icon)))
    style = res / "styles" / "app.qss"
    if style.is_file():
        app.setStyleSheet(style.read_text(encoding="utf-8"))
    return app


def main(argv: Optional[Sequence[str]] = None) -> int:
    multiprocessing.freeze_support()
    args = list(sys.argv[1:] if argv is None else argv)
    if "--self-test" in args:  # headless check of an installed build: no window, no Qt (packaging)
        from seal_engine.self_test import main as self_test

        return self_test()
    app = create_app(argv)
    from seal_engine.paths import seal_home

    from . import single_instance

    home = seal_home()
    instance = single_instance.SingleInstance(home)
    if not instance.acquire():  # before the library opens: never touch the running instance's jobs
        activated = instance.notify_running()
        single_instance.tell_already_running(home, activated)
        return 0
    try:
        from .ui.main_window import MainWindow

        from .first_run import run_first_run_if_needed  # packaging: choose or download a model once

        run_first_run_if_needed()
        window = MainWindow()
        instance.activated.connect(lambda: single_instance.bring_to_front(window))
        window.show()
        from PySide6.QtCore import QTimer

        QTimer.singleShot(WARMUP_DELAY_MS, window.controller.warm_up)  # after the first paint
        return app.exec()
    finally:
        instance.release()


if __name__ == "__main__":
    sys.exit(main())
