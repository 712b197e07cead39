"""Results gallery per job: stickers appear as they are made; keep/reject (rejected ones
are dimmed), a large preview comparing the variants of a sticker (double-click), drag a
sticker out to another app or copy it (Ctrl+C), regenerate one with a new seed and go
back to the previous version, adjust finishing and re-finish, open the folder, export."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from PySide6.QtCore import QMimeData, QSize, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QAction, QDesktopServices, QIcon, QImage, QKeySequence, QPainter, QPixmap
from PySide6.QtWidgets import (QAbstractItemView, QApplication, QComboBox, QDialog, QDialogButtonBox, QGridLayout,
                               QHBoxLayout, QLabel, QListView, QListWidget, QListWidgetItem, QPushButton,
                               QSizePolicy, QSpinBox, QVBoxLayout, QWidget)

from seal_engine.errors import SealError

from . import thumbs
from .errors import show_error

SIDE = 150


def dimmed(pixmap: QPixmap, opacity: float = 0.3) -> QPixmap:
    out = QPixmap(pixmap.size())
    out.fill(Qt.GlobalColor.transparent)
    p = QPainter(out)
    p.setOpacity(opacity)
    p.drawPixmap(0, 0, pixmap)
    p.end()
    return out


def sticker_mime(paths: list[Path]) -> QMimeData:
    """File URLs (file managers, chat apps) plus the first image itself (image editors)."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    if paths:
        image = QImage(str(paths[0]))
        if not image.isNull():
            mime.setImageData(image)
    return mime


class StickerGrid(QListWidget):
    """The gallery; dragging a sticker out hands other apps its PNG file."""

    def __init__(self, paths_of: Any) -> None:
        super().__init__()
        self.paths_of = paths_of
        self.setDragEnabled(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.setDefaultDropAction(Qt.DropAction.CopyAction)

    def mimeData(self, items: Any) -> QMimeData:  # noqa: N802 - Qt API
        return sticker_mime([p for p in (self.paths_of(i) for i in items) if p is not None and p.is_file()])

    def supportedDragActions(self) -> Qt.DropAction:  # noqa: N802 - Qt API
        return Qt.DropAction.CopyAction


class StickerPreview(QDialog):
    """One sticker large, next to its other variants (click one to compare, tick to keep)."""

    def __init__(self, view: "ResultsView", result_id: int) -> None:
        super().__init__(view.window())
        self.view = view
        self.setWindowTitle("Sticker preview")
        self.big = QLabel()
        self.big.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.big.setMinimumSize(256, 256)
        self.big.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.caption = QLabel()
        self.caption.setWordWrap(True)
        self.caption.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.variants = QListWidget()
        self.variants.setViewMode(QListView.ViewMode.IconMode)
        self.variants.setIconSize(QSize(112, 112))
        self.variants.setFlow(QListView.Flow.LeftToRight)
        self.variants.setWrapping(False)
        self.variants.setFixedHeight(160)
        self.variants.currentItemChanged.connect(lambda *_: self._show(self.variants.currentItem()))
        self.variants.itemChanged.connect(self._kept)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        copy = buttons.addButton("Copy image", QDialogButtonBox.ButtonRole.ActionRole)
        copy.clicked.connect(self._copy)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.big, 1)
        layout.addWidget(self.caption)
        layout.addWidget(QLabel("Variants of this sticker (tick the ones to keep):"))
        layout.addWidget(self.variants)
        layout.addWidget(buttons)
        self.resize(620, 700)
        result = view.jobs.result(result_id)
        siblings = [r for r in view.jobs.results(result.job_id) if r.item_index == result.item_index] if result else []
        for r in siblings:
            item = QListWidgetItem(thumbs.icon(r.finished_path, 112), f"v{r.variant + 1} · seed {r.seed}")
            item.setData(Qt.ItemDataRole.UserRole, r.id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if r.kept else Qt.CheckState.Unchecked)
            self.variants.addItem(item)
            if r.id == result_id:
                self.variants.setCurrentItem(item)

    def _show(self, item: Optional[QListWidgetItem]) -> None:
        r = self.view.jobs.result(item.data(Qt.ItemDataRole.UserRole)) if item else None
        if r is None:
            return
        self.current = r
        side = max(256, min(self.big.width(), self.big.height()) - 8)
        pix = QPixmap(str(r.finished_path))
        if not pix.isNull():
            self.big.setPixmap(pix.scaled(side, side, Qt.AspectRatioMode.KeepAspectRatio,
                                          Qt.TransformationMode.SmoothTransformation))
        history = f" · {len(r.history)} earlier version(s)" if r.history else ""
        self.caption.setText(f"{r.emoji} {r.label} · variant {r.variant + 1} · seed {r.seed}{history}\n{r.prompt}")

    def _kept(self, item: QListWidgetItem) -> None:
        self.view.set_kept(item.data(Qt.ItemDataRole.UserRole), item.checkState() == Qt.CheckState.Checked)

    def _copy(self) -> None:
        if getattr(self, "current", None) is not None:
            QApplication.clipboard().setMimeData(sticker_mime([self.current.finished_path]))

    def resizeEvent(self, event: Any) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(event)
        self._show(self.variants.currentItem())


class ResultsView(QWidget):
    exportRequested = Signal(int)

    def __init__(self, controller: Any, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.jobs = controller.ctx.jobs
        self.job_id: Optional[int] = None
        self._items: dict[int, tuple[QListWidgetItem, tuple]] = {}
        # a burst of streamed stickers refreshes the gallery once, and thumbnails are decoded one per
        # event-loop pass, so the window never freezes while a job fills it
        self._refresh_timer = QTimer(self, singleShot=True, interval=120)
        self._refresh_timer.timeout.connect(self.refresh)
        self._thumb_queue: list[tuple[int, QListWidgetItem, Path, bool]] = []
        self._thumb_timer = QTimer(self, singleShot=False, interval=0)
        self._thumb_timer.timeout.connect(self._next_thumb)
        self.job_combo = QComboBox()
        self.job_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.job_combo.setMinimumContentsLength(18)
        self.job_combo.currentIndexChanged.connect(self._job_chosen)
        self.summary = QLabel()
        self.summary.setObjectName("Hint")
        self.summary.setWordWrap(True)
        self.summary.setMinimumWidth(1)
        self.summary.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.grid = StickerGrid(self._path_of)
        self.grid.setViewMode(QListView.ViewMode.IconMode)
        self.grid.setIconSize(QSize(SIDE, SIDE))
        self.grid.setGridSize(QSize(SIDE + 28, SIDE + 46))
        self.grid.setResizeMode(QListView.ResizeMode.Adjust)
        self.grid.setMovement(QListView.Movement.Static)
        self.grid.setWordWrap(True)
        self.grid.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.grid.itemChanged.connect(self._kept_changed)
        self.grid.itemDoubleClicked.connect(lambda item: self.open_preview(item.data(Qt.ItemDataRole.UserRole)))
        self.grid.currentItemChanged.connect(lambda *_: self._update_buttons())
        self.grid.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        for text, slot, key in (("Preview and compare variants", self._preview_current, None),
                                ("Copy", self.copy_selected, QKeySequence.StandardKey.Copy),
                                ("Regenerate (new seed)", self.regenerate_selected, None),
                                ("Back to the previous version", self.revert_selected, None)):
            action = QAction(text, self.grid)
            if key is not None:
                action.setShortcut(key)
                action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
            action.triggered.connect(slot)
            self.grid.addAction(action)
        self.outline = QSpinBox(minimum=0, maximum=40, suffix=" px")
        self.margin = QSpinBox(minimum=0, maximum=120, suffix=" px")
        self.apply_btn = QPushButton("Apply finishing")
        self.apply_btn.clicked.connect(self.apply_finishing)
        self.regen_btn = QPushButton("Regenerate (new seed)")
        self.regen_btn.clicked.connect(self.regenerate_selected)
        self.revert_btn = QPushButton("Previous version")
        self.revert_btn.setToolTip("Go back to the sticker as it was before the last Regenerate")
        self.revert_btn.clicked.connect(self.revert_selected)
        self.folder_btn = QPushButton("Open folder")
        self.folder_btn.clicked.connect(self.open_folder)
        self.export_btn = QPushButton("Export pack…")
        self.export_btn.setObjectName("Primary")
        self.export_btn.clicked.connect(lambda: self.job_id is not None and self.exportRequested.emit(self.job_id))
        top = QGridLayout()
        top.addWidget(QLabel("Job"), 0, 0)
        top.addWidget(self.job_combo, 0, 1)
        top.addWidget(self.folder_btn, 0, 2)
        top.addWidget(self.export_btn, 0, 3)
        top.addWidget(self.summary, 1, 1, 1, 3)
        top.setColumnStretch(1, 1)
        finishing = QHBoxLayout()
        finishing.addWidget(QLabel("Outline"))
        finishing.addWidget(self.outline)
        finishing.addWidget(QLabel("Margin"))
        finishing.addWidget(self.margin)
        finishing.addWidget(self.apply_btn)
        finishing.addStretch(1)
        hint = QLabel("Tick the stickers to keep · double-click to compare · drag out or Ctrl+C to copy")
        hint.setObjectName("Hint")
        hint.setWordWrap(True)
        hint.setMinimumWidth(1)
        hint.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        sticker = QHBoxLayout()
        sticker.addWidget(hint, 1)
        sticker.addWidget(self.regen_btn)
        sticker.addWidget(self.revert_btn)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.grid, 1)
        layout.addLayout(sticker)
        layout.addLayout(finishing)
        controller.resultsChanged.connect(self._results_changed)
        controller.changed.connect(self.reload_jobs)
        self.reload_jobs()

    def reload_jobs(self) -> None:
        keep = self.job_id
        self.job_combo.blockSignals(True)
        self.job_combo.clear()
        for job in self.jobs.all():
            if job.output_dir or job.settings.get("resume_dir"):
                self.job_combo.addItem(f"{job.title} ({job.status.value})", job.id)
        self.job_combo.blockSignals(False)
        index = self.job_combo.findData(keep) if keep is not None else 0
        if self.job_combo.count():
            self.job_combo.setCurrentIndex(max(0, index))
        if self.job_combo.currentData() != keep or keep is None:
            self._job_chosen()
        else:
            self.refresh()

    def show_job(self, job_id: int) -> None:
        index = self.job_combo.findData(job_id)
        if index < 0:
            self.reload_jobs()
            index = self.job_combo.findData(job_id)
        if index >= 0:
            self.job_combo.setCurrentIndex(index)
        self._job_chosen()

    def _job_chosen(self, *_: Any) -> None:
        job_id = self.job_combo.currentData()
        if job_id != self.job_id:
            self.grid.clear()
            self._items.clear()
            self._thumb_queue.clear()
        self.job_id = job_id
        job = self.jobs.get(self.job_id) if self.job_id is not None else None
        if job is not None:
            from ..engine_adapter import DEFAULT_FINISHING

            finishing = {**DEFAULT_FINISHING, **(job.finishing or {})}
            self.outline.setValue(int(finishing["outline"]))
            self.margin.setValue(int(finishing["margin"]))
        self.refresh()

    def _results_changed(self, job_id: int) -> None:
        if job_id != self.job_id:
            return
        if not self.isVisible():  # another tab is open: redraw when this one is shown, not on every sticker
            self._stale = True
        elif not self._refresh_timer.isActive():
            self._refresh_timer.start()

    def showEvent(self, event: Any) -> None:  # noqa: N802 - Qt API
        super().showEvent(event)
        if getattr(self, "_stale", False):
            self._stale = False
            self.refresh()

    def _next_thumb(self) -> None:
        if not self._thumb_queue:
            self._thumb_timer.stop()
            return
        rid, item, path, kept = self._thumb_queue.pop(0)
        if self._items.get(rid, (None,))[0] is item:
            pix = thumbs.thumbnail(path, SIDE)
            item.setIcon(QIcon(pix if kept else dimmed(pix)))

    def flush(self) -> None:
        """Draw everything pending now (tests, screenshots)."""
        if self._refresh_timer.isActive():
            self._refresh_timer.stop()
            self.refresh()
        while self._thumb_queue:
            self._next_thumb()

    def _path_of(self, item: QListWidgetItem) -> Optional[Path]:
        r = self.jobs.result(item.data(Qt.ItemDataRole.UserRole))
        return r.finished_path if r else None

    def refresh(self) -> None:
        """Incremental: only stickers that are new or changed are (re)drawn, so a streaming job with dozens
        of stickers never reloads the whole gallery on the GUI thread."""
        self.grid.blockSignals(True)
        results = self.jobs.results(self.job_id) if self.job_id is not None else []
        seen = set()
        for position, r in enumerate(results):
            seen.add(r.id)
            try:
                mtime = r.finished_path.stat().st_mtime
            except OSError:
                mtime = 0.0
            key = (str(r.finished_path), mtime, r.kept, r.seed, len(r.history))
            item, old_key = self._items.get(r.id, (None, None))
            if item is None:
                item = QListWidgetItem()
                item.setData(Qt.ItemDataRole.UserRole, r.id)
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsDragEnabled)
                self.grid.insertItem(position, item)
            if key != old_key:
                if old_key is None:
                    item.setIcon(QIcon(thumbs.placeholder(SIDE)))
                self._thumb_queue.append((r.id, item, r.finished_path, r.kept))
                if not self._thumb_timer.isActive():
                    self._thumb_timer.start()
                item.setText(f"{r.emoji} {r.label} · v{r.variant + 1}" + ("" if r.kept else " (not kept)"))
                item.setCheckState(Qt.CheckState.Checked if r.kept else Qt.CheckState.Unchecked)
                item.setForeground(self.palette().text() if r.kept else self.palette().placeholderText())
                item.setToolTip(f"seed {r.seed}" + (f" · {len(r.history)} earlier version(s)" if r.history else "")
                                + f"\n{r.prompt}")
                self._items[r.id] = (item, key)
        for rid in [rid for rid in self._items if rid not in seen]:
            item, _ = self._items.pop(rid)
            self.grid.takeItem(self.grid.row(item))
        self.grid.blockSignals(False)
        job = self.jobs.get(self.job_id) if self.job_id is not None else None
        kept = sum(r.kept for r in results)
        if results:
            making = " · more on the way" if job is not None and job.status.value == "running" else ""
            self.summary.setText(f"{len(results)} stickers, {kept} kept{making}")
        elif job is not None and job.status.value == "running":
            self.summary.setText("Stickers appear here as they are made.")
        else:
            self.summary.setText("No stickers yet.")
        self._update_buttons()

    def _update_buttons(self) -> None:
        has = self.job_id is not None and self.grid.count() > 0
        for b in (self.folder_btn, self.export_btn, self.apply_btn, self.regen_btn):
            b.setEnabled(has)
        self.folder_btn.setEnabled(self.job_id is not None)
        current = self.grid.currentItem()
        r = self.jobs.result(current.data(Qt.ItemDataRole.UserRole)) if current is not None else None
        self.revert_btn.setEnabled(bool(r and r.history))

    def set_kept(self, result_id: int, kept: bool) -> None:
        self.jobs.set_kept(result_id, kept)
        self.refresh()

    def _kept_changed(self, item: QListWidgetItem) -> None:
        self.set_kept(item.data(Qt.ItemDataRole.UserRole), item.checkState() == Qt.CheckState.Checked)

    def open_preview(self, result_id: int) -> StickerPreview:
        dialog = StickerPreview(self, result_id)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        self.preview_dialog = dialog
        return dialog

    def _preview_current(self) -> None:
        item = self.grid.currentItem()
        if item is not None:
            self.open_preview(item.data(Qt.ItemDataRole.UserRole))

    def copy_selected(self) -> list[Path]:
        items = self.grid.selectedItems() or ([self.grid.currentItem()] if self.grid.currentItem() else [])
        paths = [p for p in (self._path_of(i) for i in items) if p is not None and p.is_file()]
        if paths:
            QApplication.clipboard().setMimeData(sticker_mime(paths))
            self.window().statusBar().showMessage(f"Copied {len(paths)} sticker(s).", 3000) \
                if hasattr(self.window(), "statusBar") else None
        return paths

    def regenerate_selected(self) -> None:
        item = self.grid.currentItem()
        if item is None:
            show_error(self.window(), "Regenerate", "Select a sticker first.")
            return
        try:
            seed = self.controller.regenerate(item.data(Qt.ItemDataRole.UserRole))
        except SealError as err:
            show_error(self.window(), "Regenerate", str(err), kind=err.kind.value)
            return
        item.setText(f"{item.text().split(' · ')[0]} · seed {seed} (making…)")

    def revert_selected(self) -> None:
        item = self.grid.currentItem()
        if item is not None and self.controller.revert_regenerate(item.data(Qt.ItemDataRole.UserRole)):
            self.refresh()

    def apply_finishing(self) -> None:
        if self.job_id is not None:
            self.controller.refinish(self.job_id, {"outline": self.outline.value(), "margin": self.margin.value(),
                                                   "size": 512, "shadow": False})

    def open_folder(self) -> bool:
        job = self.jobs.get(self.job_id) if self.job_id is not None else None
        if job is None or not (job.output_dir or job.settings.get("resume_dir")):
            return False
        folder = Path(job.output_dir or job.settings["resume_dir"])
        target = folder / "stickers" if (folder / "stickers").is_dir() else folder
        if not target.is_dir():
            show_error(self.window(), "Open folder", f"The folder {target} no longer exists (it may have been moved "
                       "to the trash or deleted).")
            return False
        if not QDesktopServices.openUrl(QUrl.fromLocalFile(str(target))):
            show_error(self.window(), "Open folder", f"No file manager could open {target}. The path is selectable "
                       "here: copy it and open it yourself.")
            return False
        return True
