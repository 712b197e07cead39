"""The main window: library on the left, character / presets / results tabs in the
middle, the queue on the right. Image files dropped anywhere on it become characters."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Optional

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QLabel, QMainWindow, QMessageBox, QSplitter, QTabWidget

from seal_engine.errors import SealError

from ..controller import AppContext, QueueController
from .character_view import CharacterView
from .errors import show_error, show_error_info
from .library_panel import LibraryPanel
from .presets_tab import PresetsTab
from .queue_panel import QueuePanel
from .results_view import ResultsView

IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.webp *.gif *.bmp *.tif *.tiff)"


class MainWindow(QMainWindow):
    def __init__(self, ctx: Optional[AppContext] = None, *, start_queue: bool = True) -> None:
        super().__init__()
        self.setWindowTitle("SEAL Sticker Studio")
        self.resize(1440, 860)
        self.setAcceptDrops(True)
        self.error_boxes: list[QMessageBox] = []
        self.ctx = ctx or AppContext.open()
        self.controller = QueueController(self.ctx, self)
        self.confirm_close = self._ask_close  # replaced in tests
        self._shut = False

        self.library = LibraryPanel(self.controller)
        self.character = CharacterView(self.controller)
        self.presets = PresetsTab(self.controller)
        self.results = ResultsView(self.controller)
        self.queue = QueuePanel(self.controller)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.character, "Character")
        self.tabs.addTab(self.presets, "Presets")
        self.tabs.addTab(self.results, "Results")
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.library)
        split.addWidget(self.tabs)
        split.addWidget(self.queue)
        split.setStretchFactor(1, 1)
        split.setSizes([300, 820, 320])
        split.setChildrenCollapsible(False)
        self.setCentralWidget(split)

        self.library.characterSelected.connect(self._character_selected)
        self.library.addRequested.connect(self.add_dialog)
        self.character.changed.connect(lambda cid: self.library.refresh(cid))
        self.character.jobQueued.connect(lambda _id: self.statusBar().showMessage("Job added to the queue.", 4000))
        self.presets.presetsChanged.connect(self.character.reload_presets)
        self.results.exportRequested.connect(self.open_export)
        self.queue.showResults.connect(self.show_results)
        self.controller.errorRaised.connect(lambda title, info: show_error_info(self, title, info))
        self.controller.charactersChanged.connect(lambda: self.library.refresh())
        self.controller.jobFinished.connect(self._job_finished)
        self._menus()
        self.status_label = QLabel()
        self.statusBar().addPermanentWidget(self.status_label)
        self._update_status()
        self.controller.changed.connect(self._update_status)
        if self.controller.interrupted:
            ids = ", ".join(f"#{i}" for i in self.controller.interrupted)
            self.statusBar().showMessage(f"Job(s) {ids} were interrupted when the app last closed; "
                                         "select one and choose Retry as copy.", 15000)
        self.controller.paused = not start_queue
        self.controller._pump()

    def _menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        add = QAction("&Add characters…", self, shortcut=QKeySequence.StandardKey.Open)
        add.triggered.connect(self.add_dialog)
        settings = QAction("&Settings…", self, shortcut=QKeySequence("Ctrl+,"))
        settings.triggered.connect(self.open_settings)
        quit_ = QAction("&Quit", self, shortcut=QKeySequence.StandardKey.Quit)
        quit_.triggered.connect(self.close)
        for a in (add, settings):
            file_menu.addAction(a)
        file_menu.addSeparator()
        file_menu.addAction(quit_)
        queue_menu = self.menuBar().addMenu("&Queue")
        run = QAction("Add &job for the selected character", self, shortcut=QKeySequence("Ctrl+Return"))
        run.triggered.connect(self.character.queue_job)
        cancel = QAction("Cancel &pending jobs", self)
        cancel.triggered.connect(self.controller.cancel_pending)
        queue_menu.addAction(run)
        queue_menu.addAction(cancel)

    # ---- characters -------------------------------------------------------------
    def _character_selected(self, character: Any) -> None:
        self.character.set_character(character)
        self.presets.set_class_word(character.class_word if character else "character")

    def add_dialog(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Add characters from images", "", IMAGE_FILTER)
        if paths:
            self.add_files([Path(p) for p in paths])

    def add_files(self, paths: Iterable[Path]) -> list[Any]:
        """Add each image as a character; broken files are listed in one copyable error."""
        added, problems = [], []
        for path in paths:
            try:
                added.append(self.ctx.characters.add_image(Path(path)))
            except SealError as err:
                problems.append(str(err))
        if added:
            self.library.refresh(added[-1].id)
            self.tabs.setCurrentWidget(self.character)
            self.statusBar().showMessage(f"Added {len(added)} character(s).", 5000)
        if problems:
            title = "Some files were not added" if added else "Nothing was added"
            show_error(self, title, "\n".join(problems), kind="input")
        return added

    def dragEnterEvent(self, event: Any) -> None:  # noqa: N802 - Qt API
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dragMoveEvent(self, event: Any) -> None:  # noqa: N802 - Qt API
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: Any) -> None:  # noqa: N802 - Qt API
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.add_files(paths)

    # ---- jobs, results, export ---------------------------------------------------
    def show_results(self, job_id: int) -> None:
        self.results.show_job(job_id)
        self.tabs.setCurrentWidget(self.results)

    def _job_finished(self, job_id: int, status: str) -> None:
        self.statusBar().showMessage(f"Job #{job_id} {status}.", 6000)
        if status == "completed" and self.results.job_id in (None, job_id):
            self.results.show_job(job_id)

    def open_export(self, job_id: int) -> Any:
        from .export_dialog import ExportDialog

        dialog = ExportDialog(self.controller, job_id, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def open_settings(self) -> Any:
        from .settings_dialog import SettingsDialog

        dialog = SettingsDialog(self.controller, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(self.character.load_defaults)
        dialog.accepted.connect(self._update_status)
        dialog.open()
        return dialog

    def _update_status(self) -> None:
        s = self.ctx.settings
        jobs = self.ctx.jobs
        pending = len(jobs.pending())
        self.status_label.setText(f"Model: {s.model} · device {s.device} · {pending} pending")

    # ---- closing ----------------------------------------------------------------
    def _ask_close(self) -> bool:
        answer = QMessageBox.question(self, "A job is running",
                                      "A job is still running. Cancel it and quit?\n"
                                      "Pending jobs stay in the queue for next time.",
                                      QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                      QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes

    def closeEvent(self, event: Any) -> None:  # noqa: N802 - Qt API
        if self.controller.busy and not self.confirm_close():
            event.ignore()
            return
        self.shutdown()
        event.accept()

    def shutdown(self) -> None:
        """Cancel running work and join every thread; safe to call twice."""
        if self._shut:
            return
        self._shut = True
        self.controller.shutdown()
        self.ctx.db.close()
