"""Results gallery per job: keep/reject, regenerate one sticker with a new seed,
adjust finishing (outline, margin) and re-finish, open the folder, export."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from PySide6.QtCore import QSize, Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (QComboBox, QHBoxLayout, QLabel, QListView, QListWidget, QListWidgetItem,
                               QPushButton, QSpinBox, QVBoxLayout, QWidget)

from seal_engine.errors import SealError

from . import thumbs
from .errors import show_error

SIDE = 150


class ResultsView(QWidget):
    exportRequested = Signal(int)

    def __init__(self, controller: Any, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.jobs = controller.ctx.jobs
        self.job_id: Optional[int] = None
        self.job_combo = QComboBox()
        self.job_combo.setMinimumWidth(320)
        self.job_combo.currentIndexChanged.connect(self._job_chosen)
        self.summary = QLabel()
        self.summary.setObjectName("Hint")
        self.grid = QListWidget()
        self.grid.setViewMode(QListView.ViewMode.IconMode)
        self.grid.setIconSize(QSize(SIDE, SIDE))
        self.grid.setGridSize(QSize(SIDE + 28, SIDE + 46))
        self.grid.setResizeMode(QListView.ResizeMode.Adjust)
        self.grid.setMovement(QListView.Movement.Static)
        self.grid.setWordWrap(True)
        self.grid.itemChanged.connect(self._kept_changed)
        self.outline = QSpinBox(minimum=0, maximum=40, suffix=" px")
        self.margin = QSpinBox(minimum=0, maximum=120, suffix=" px")
        self.apply_btn = QPushButton("Apply finishing")
        self.apply_btn.clicked.connect(self.apply_finishing)
        self.regen_btn = QPushButton("Regenerate (new seed)")
        self.regen_btn.clicked.connect(self.regenerate_selected)
        self.folder_btn = QPushButton("Open folder")
        self.folder_btn.clicked.connect(self.open_folder)
        self.export_btn = QPushButton("Export pack…")
        self.export_btn.setObjectName("Primary")
        self.export_btn.clicked.connect(lambda: self.job_id is not None and self.exportRequested.emit(self.job_id))
        top = QHBoxLayout()
        top.addWidget(QLabel("Job"))
        top.addWidget(self.job_combo)
        top.addWidget(self.summary, 1)
        top.addWidget(self.folder_btn)
        top.addWidget(self.export_btn)
        bottom = QHBoxLayout()
        bottom.addWidget(QLabel("Outline"))
        bottom.addWidget(self.outline)
        bottom.addWidget(QLabel("Margin"))
        bottom.addWidget(self.margin)
        bottom.addWidget(self.apply_btn)
        bottom.addStretch(1)
        bottom.addWidget(QLabel("Tick the stickers to keep."))
        bottom.addWidget(self.regen_btn)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.grid, 1)
        layout.addLayout(bottom)
        controller.resultsChanged.connect(self._results_changed)
        controller.changed.connect(self.reload_jobs)
        self.reload_jobs()

    def reload_jobs(self) -> None:
        keep = self.job_id
        self.job_combo.blockSignals(True)
        self.job_combo.clear()
        for job in self.jobs.all():
            if job.output_dir:
                self.job_combo.addItem(f"{job.title} ({job.status.value})", job.id)
        self.job_combo.blockSignals(False)
        index = self.job_combo.findData(keep) if keep is not None else 0
        if self.job_combo.count():
            self.job_combo.setCurrentIndex(max(0, index))
        self._job_chosen()

    def show_job(self, job_id: int) -> None:
        index = self.job_combo.findData(job_id)
        if index < 0:
            self.reload_jobs()
            index = self.job_combo.findData(job_id)
        if index >= 0:
            self.job_combo.setCurrentIndex(index)
        self._job_chosen()

    def _job_chosen(self, *_: Any) -> None:
        self.job_id = self.job_combo.currentData()
        job = self.jobs.get(self.job_id) if self.job_id is not None else None
        if job is not None:
            from ..engine_adapter import DEFAULT_FINISHING

            finishing = {**DEFAULT_FINISHING, **(job.finishing or {})}
            self.outline.setValue(int(finishing["outline"]))
            self.margin.setValue(int(finishing["margin"]))
        self.refresh()

    def _results_changed(self, job_id: int) -> None:
        if job_id == self.job_id:
            self.refresh()

    def refresh(self) -> None:
        self.grid.blockSignals(True)
        self.grid.clear()
        results = self.jobs.results(self.job_id) if self.job_id is not None else []
        for r in results:
            item = QListWidgetItem(thumbs.icon(r.finished_path, SIDE), f"{r.emoji} {r.label} · seed {r.seed}")
            item.setData(Qt.ItemDataRole.UserRole, r.id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if r.kept else Qt.CheckState.Unchecked)
            item.setToolTip(r.prompt)
            self.grid.addItem(item)
        self.grid.blockSignals(False)
        kept = sum(r.kept for r in results)
        self.summary.setText(f"{len(results)} stickers, {kept} kept" if results else "No stickers yet.")
        has = self.job_id is not None
        for b in (self.folder_btn, self.export_btn, self.apply_btn, self.regen_btn):
            b.setEnabled(has and bool(results))

    def _kept_changed(self, item: QListWidgetItem) -> None:
        self.jobs.set_kept(item.data(Qt.ItemDataRole.UserRole), item.checkState() == Qt.CheckState.Checked)
        results = self.jobs.results(self.job_id)
        self.summary.setText(f"{len(results)} stickers, {sum(r.kept for r in results)} kept")

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
        item.setText(f"{item.text().split(' · ')[0]} · seed {seed} (queued)")

    def apply_finishing(self) -> None:
        if self.job_id is not None:
            self.controller.refinish(self.job_id, {"outline": self.outline.value(), "margin": self.margin.value(),
                                                   "size": 512, "shadow": False})

    def open_folder(self) -> None:
        job = self.jobs.get(self.job_id) if self.job_id is not None else None
        if job and job.output_dir:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(Path(job.output_dir) / "stickers")))
