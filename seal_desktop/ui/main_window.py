"""The main window: library on the left, character / presets / results tabs in the
middle, the queue on the right. Image files dropped anywhere on it become characters."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Optional

from PySide6.QtCore import QByteArray, Qt
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (QApplication, QFileDialog, QFrame, QLabel, QMainWindow, QMessageBox, QPushButton,
                               QScrollArea, QSplitter, QSystemTrayIcon, QTabWidget)

from seal_engine.errors import SealError

from ..controller import AppContext, QueueController
from .character_view import CharacterView
from . import ui_state
from .errors import ask, show_error, show_error_info
from .library_panel import LibraryPanel
from .presets_tab import PresetsTab
from .queue_panel import QueuePanel
from .results_view import ResultsView

IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.webp *.gif *.bmp *.tif *.tiff)"
DEFAULT_SIZE = (1440, 860)


def scrolling(widget: Any) -> QScrollArea:
    """A tab that scrolls instead of forcing its minimum size on the window (laptop screens)."""
    area = QScrollArea()
    area.setWidget(widget)
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
    return area


MODEL_LABEL_MAX = 40


def model_label(model: str) -> str:
    """The status bar's name for a model: whole when short, else the last part of the hub id or path
    (cutting off the front made the default read "…le-diffusion-v1-5/stable-diffusion-v1-5")."""
    text = model.strip()
    if len(text) <= MODEL_LABEL_MAX:
        return text
    name = Path(text.replace("\\", "/")).name or text
    return name if len(name) <= MODEL_LABEL_MAX else name[:MODEL_LABEL_MAX - 1] + "…"


class MainWindow(QMainWindow):
    def __init__(self, ctx: Optional[AppContext] = None, *, start_queue: bool = True) -> None:
        super().__init__()
        self.setWindowTitle("SEAL Sticker Studio")
        self.setAcceptDrops(True)
        self.error_boxes: list[QMessageBox] = []
        self.ctx = ctx or AppContext.open()
        self.controller = QueueController(self.ctx, self)
        self.controller.confirm = lambda title, text: self.confirm(title, text)
        self.confirm_close = self._ask_close  # replaced in tests
        self.confirm = self._ask  # every other confirmation (remove, cancel, empty trash); replaced in tests
        self.tray: Optional[QSystemTrayIcon] = None
        self._shut = False

        self.library = LibraryPanel(self.controller)
        self.character = CharacterView(self.controller)
        self.presets = PresetsTab(self.controller)
        self.results = ResultsView(self.controller)
        self.queue = QueuePanel(self.controller)
        self.tabs = QTabWidget()
        self.tabs.addTab(scrolling(self.character), "Character")
        self.tabs.addTab(self.presets, "Presets")
        self.tabs.addTab(self.results, "Results")
        self.split = split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.library)
        split.addWidget(self.tabs)
        split.addWidget(self.queue)
        split.setStretchFactor(1, 1)
        split.setSizes([250, 820, 300])
        split.setChildrenCollapsible(False)
        self.setCentralWidget(split)
        self._restore_geometry()

        self.library.characterSelected.connect(self._character_selected)
        self.library.addRequested.connect(self.add_dialog)
        self.library.confirm_leave = self.character.maybe_keep_edits
        self.library.deleteRequested.connect(self._delete_character)
        self.character.changed.connect(lambda cid: self.library.refresh(cid))
        self.character.jobQueued.connect(lambda _id: self.statusBar().showMessage("Job added to the queue.", 4000))
        self.presets.presetsChanged.connect(self.character.reload_presets)
        self.results.exportRequested.connect(self.open_export)
        self.queue.showResults.connect(self.show_results)
        self.controller.errorRaised.connect(lambda title, info: show_error_info(self, title, info))
        self.controller.charactersChanged.connect(lambda: self.library.refresh())
        self.controller.jobFinished.connect(self._job_finished)
        self.controller.notice.connect(lambda text: self.statusBar().showMessage(text, 10000))
        self._menus()
        self.status_label = QLabel()
        self.undo_button = QPushButton("Undo")
        self.undo_button.setVisible(False)
        self.undo_button.clicked.connect(self.controller.undo)
        self.controller.undoChanged.connect(self._undo_changed)
        self.statusBar().addPermanentWidget(self.undo_button)
        self.statusBar().addPermanentWidget(self.status_label)
        self._update_status()
        self.controller.changed.connect(self._update_status)
        self.controller.pausedChanged.connect(lambda _p: self._update_status())
        # the list's first refresh ran before this connection: show the character it selected
        self._character_selected(self.library.current_character())
        if self.controller.interrupted:
            ids = ", ".join(f"#{i}" for i in self.controller.interrupted)
            self.statusBar().showMessage(f"Job(s) {ids} were interrupted when the app last closed; "
                                         "select one and choose Retry: it continues where it stopped.", 15000)
        waiting = self.ctx.jobs.pending()
        if not start_queue:
            self.controller.paused = True
        elif waiting:  # jobs left from last time wait for the user (the docs promise it)
            self.controller.paused_at_launch = True
            self.controller.paused = True
            self.statusBar().showMessage(f"{len(waiting)} job(s) from last time are waiting: Queue ▸ Resume queue "
                                         "(or Resume queue in the queue panel) starts them.", 15000)
        self.controller._pump()

    # ---- geometry -----------------------------------------------------------------
    def _restore_geometry(self) -> None:
        """The last geometry when there is one, else a default that fits the screen."""
        geometry, splitter = ui_state.value("geometry"), ui_state.value("splitter")
        if isinstance(geometry, QByteArray) and self.restoreGeometry(geometry):
            if isinstance(splitter, QByteArray):
                self.split.restoreState(splitter)
            tab = ui_state.value("tab")
            if tab is not None and str(tab).isdigit():
                self.tabs.setCurrentIndex(int(tab))
            return
        screen = QGuiApplication.primaryScreen()
        w, h = DEFAULT_SIZE
        if screen is not None:
            area = screen.availableGeometry()
            w, h = min(w, int(area.width() * 0.94)), min(h, int(area.height() * 0.92))
        self.resize(w, h)

    def save_geometry(self) -> None:
        ui_state.set_value("geometry", self.saveGeometry())
        ui_state.set_value("splitter", self.split.saveState())
        ui_state.set_value("tab", self.tabs.currentIndex())

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
        self.pause_action = QAction("Pause &queue", self, checkable=True)
        self.pause_action.setToolTip("Finish the running job, then start no other until you resume")
        self.pause_action.toggled.connect(self.controller.set_paused)
        self.controller.pausedChanged.connect(self._paused_changed)
        queue_menu.addAction(run)
        queue_menu.addAction(self.pause_action)
        queue_menu.addAction(cancel)
        edit_menu = self.menuBar().addMenu("&Edit")
        self.undo_action = QAction("&Undo", self, shortcut=QKeySequence.StandardKey.Undo)
        self.undo_action.setEnabled(False)
        self.undo_action.triggered.connect(self.controller.undo)
        empty = QAction("&Empty trash…", self)
        empty.triggered.connect(self.empty_trash)
        edit_menu.addAction(self.undo_action)
        edit_menu.addSeparator()
        edit_menu.addAction(empty)

    def _paused_changed(self, paused: bool) -> None:
        self.pause_action.blockSignals(True)
        self.pause_action.setChecked(paused)
        self.pause_action.blockSignals(False)

    def _undo_changed(self, text: str) -> None:
        self.undo_action.setEnabled(bool(text))
        self.undo_action.setText(f"&Undo {text}" if text else "&Undo")
        self.undo_button.setVisible(bool(text))
        self.undo_button.setText(f"Undo: {text}" if text else "Undo")

    def empty_trash(self) -> int:
        size = self.ctx.trash.size_bytes()
        n = len(self.ctx.trash.entries())
        if not n:
            self.statusBar().showMessage("The trash is empty.", 4000)
            return 0
        if not self.confirm("Empty the trash?", f"Delete {n} removed item(s) ({size / 1e6:.1f} MB) for good? "
                            "This cannot be undone."):
            return 0
        gone = self.controller.empty_trash()
        self.statusBar().showMessage(f"Trash emptied ({gone} item(s)).", 5000)
        return gone

    def _ask(self, title: str, text: str) -> bool:
        return ask(self, title, text, yes="OK")

    # ---- characters -------------------------------------------------------------
    def _character_selected(self, character: Any) -> None:
        shown = self.character.character
        if character is not None and shown is not None and character.id == shown.id and self.character.dirty:
            self.character.refresh_concepts(character)  # reloaded under typed edits: keep the edits
        else:
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
        job = self.ctx.jobs.get(job_id)
        n = len(self.ctx.jobs.results(job_id)) if job else 0
        text = {"completed": f"Job #{job_id} finished: {n} sticker(s) ready in Results.",
                "cancelled": f"Job #{job_id} cancelled; {n} sticker(s) kept. Retry continues from there.",
                }.get(status, f"Job #{job_id} {status}.")
        self.statusBar().showMessage(text, 10000)
        self.notify("SEAL Sticker Studio", text)
        if status == "completed" and self.results.job_id in (None, job_id):
            self.results.show_job(job_id)

    def notify(self, title: str, text: str) -> None:
        """A tray message where the desktop has a tray, and the taskbar entry flashes either way."""
        self.last_notification = text
        if QSystemTrayIcon.isSystemTrayAvailable():
            if self.tray is None:
                self.tray = QSystemTrayIcon(self.windowIcon() or QApplication.windowIcon(), self)
                self.tray.setToolTip("SEAL Sticker Studio")
            self.tray.show()
            self.tray.showMessage(title, text, QSystemTrayIcon.MessageIcon.Information, 6000)
        QApplication.alert(self)

    def _delete_character(self, character_id: int) -> None:
        self.controller.delete_character(character_id)

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
        paused = " (queue paused)" if self.controller.paused and pending else ""
        model = model_label(s.model)
        engine = " · preparing the engine…" if self.controller.warming else ""
        self.status_label.setText(f"Model: {model} · device {s.device} · {pending} pending{paused}{engine}")
        self.status_label.setToolTip(s.model)

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
        if not self.character.maybe_keep_edits() or not self.presets.maybe_keep_edits():
            event.ignore()
            return
        self.save_geometry()
        self.shutdown()
        event.accept()

    def shutdown(self) -> None:
        """Cancel running work and join every thread; safe to call twice."""
        if self._shut:
            return
        self._shut = True
        if self.tray is not None:
            self.tray.hide()
        self.controller.shutdown()
        self.ctx.db.close()
