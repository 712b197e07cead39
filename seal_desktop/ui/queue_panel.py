"""Queue panel: every job with its status; the selected job's progress bar (phase and
ETA), loss values, latest preview, and the queue commands."""

from __future__ import annotations

from typing import Any, Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (QGridLayout, QLabel, QListWidget, QListWidgetItem, QProgressBar, QPushButton,
                               QVBoxLayout, QWidget)

from seal_engine.errors import SealError

from ..store.jobs import JobStatus
from .errors import show_error

STATUS_MARK = {"pending": "◌", "running": "▶", "completed": "✔", "failed": "✖", "cancelled": "■",
               "interrupted": "⚠"}
PHASES = {"download": "Downloading model", "load": "Loading model", "mask": "Masking", "embeddings":
          "Learning (embeddings)", "lora": "Learning (LoRA)", "personalize": "Learning", "generate": "Generating",
          "finish": "Finishing", "export": "Exporting"}


def format_eta(seconds: Optional[float]) -> str:
    if seconds is None:
        return "ETA —"
    seconds = int(round(seconds))
    return f"ETA {seconds // 60}:{seconds % 60:02d}"


class QueuePanel(QWidget):
    showResults = Signal(int)

    def __init__(self, controller: Any, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.setObjectName("QueuePanel")
        title = QLabel("Queue")
        title.setObjectName("PanelTitle")
        self.list = QListWidget()
        self.list.setWordWrap(True)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.currentItemChanged.connect(lambda *_: self.show_details())
        self.list.itemDoubleClicked.connect(lambda *_: self._results())
        self.job_title = QLabel("No job selected")
        self.job_title.setObjectName("JobTitle")
        self.job_title.setWordWrap(True)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.setTextVisible(True)
        self.losses = QLabel()
        self.losses.setObjectName("Mono")
        self.preview = QLabel()
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setFixedHeight(150)
        self.cancel_btn = QPushButton("Cancel")
        self.cancel_btn.clicked.connect(lambda: self._do(self.controller.cancel))
        self.cancel_pending_btn = QPushButton("Cancel pending")
        self.cancel_pending_btn.setToolTip("Cancel every job that has not started; the running job continues")
        self.cancel_pending_btn.clicked.connect(self.controller.cancel_pending)
        self.retry_btn = QPushButton("Retry as copy")
        self.retry_btn.clicked.connect(lambda: self._do(self.controller.retry))
        self.up_btn = QPushButton("Move up")
        self.up_btn.clicked.connect(lambda: self._do(self.controller.move_up))
        self.front_btn = QPushButton("To front")
        self.front_btn.clicked.connect(lambda: self._do(self.controller.move_to_front))
        self.remove_btn = QPushButton("Remove")
        self.remove_btn.clicked.connect(lambda: self._do(self.controller.remove))
        self.results_btn = QPushButton("Show results")
        self.results_btn.clicked.connect(self._results)
        grid = QGridLayout()
        buttons = [self.cancel_btn, self.cancel_pending_btn, self.retry_btn, self.up_btn, self.front_btn,
                   self.remove_btn, self.results_btn]
        for i, b in enumerate(buttons):
            grid.addWidget(b, i // 2, i % 2)
        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(self.list, 2)
        layout.addWidget(self.job_title)
        layout.addWidget(self.bar)
        layout.addWidget(self.status)
        layout.addWidget(self.losses)
        layout.addWidget(self.preview)
        layout.addLayout(grid)
        controller.changed.connect(self.refresh)
        controller.progress.connect(self._on_progress)
        self.refresh()

    def current_id(self) -> Optional[int]:
        item = self.list.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item else None

    def refresh(self) -> None:
        keep = self.current_id()
        self.list.blockSignals(True)
        self.list.clear()
        chosen = None
        jobs = self.controller.ctx.jobs.all()
        self.cancel_pending_btn.setEnabled(any(j.status is JobStatus.PENDING for j in jobs))
        for job in jobs:
            mark = STATUS_MARK.get(job.status.value, "?")
            pct = f" {job.progress * 100:.0f}%" if job.status is JobStatus.RUNNING else ""
            item = QListWidgetItem(f"{mark} {job.title} — {job.status.value}{pct}")
            item.setData(Qt.ItemDataRole.UserRole, job.id)
            item.setToolTip(job.error_message or job.message or job.status.value)
            self.list.addItem(item)
            if job.id == keep or (keep is None and chosen is None):
                chosen = item
        self.list.blockSignals(False)
        self.list.setCurrentItem(chosen)
        self.show_details()

    def show_details(self) -> None:
        job_id = self.current_id()
        job = self.controller.ctx.jobs.get(job_id) if job_id is not None else None
        if job is None:
            self.job_title.setText("No job selected")
            self.status.clear()
            self.losses.clear()
            self.preview.clear()
            self.bar.setValue(0)
            self.bar.setFormat("")
            for b in (self.cancel_btn, self.retry_btn, self.up_btn, self.front_btn, self.remove_btn,
                      self.results_btn):
                b.setEnabled(False)
            return
        self.job_title.setText(job.title)
        s = job.settings
        detail = f"{job.status.value.capitalize()} · {len(job.preset.get('items', []))} stickers × " \
                 f"{s.get('variants', 1)} variants · {s.get('steps', '?')} steps · seed {s.get('seed', 0)}"
        if job.error_message:
            detail += f"\n{job.error_message}"
        elif job.message:
            detail += f"\n{job.message}"
        self.status.setText(detail)
        running, pending = job.status is JobStatus.RUNNING, job.status is JobStatus.PENDING
        self.cancel_btn.setEnabled(running or pending)
        self.retry_btn.setEnabled(job.status.retryable)
        self.up_btn.setEnabled(pending)
        self.front_btn.setEnabled(pending)
        self.remove_btn.setEnabled(not running)
        self.results_btn.setEnabled(bool(job.output_dir))
        latest = self.controller.latest_progress(job.id) if running else None
        if latest:
            self._apply(latest)
        else:
            self.bar.setValue(int(job.progress * 1000))
            self.bar.setFormat(f"{job.progress * 100:.0f}% · {job.status.value}")
            self.losses.clear()
            if not running:
                self.preview.clear()

    def _on_progress(self, job_id: int, payload: dict) -> None:
        if job_id == self.current_id():
            self._apply(payload)
        item = self.list.currentItem()
        for i in range(self.list.count()):
            it = self.list.item(i)
            if it.data(Qt.ItemDataRole.UserRole) == job_id:
                text = it.text().rsplit(" — ", 1)[0]
                it.setText(f"{text} — running {payload['fraction'] * 100:.0f}%")
        del item

    def _apply(self, payload: dict) -> None:
        phase = PHASES.get(payload["phase"], payload["phase"].capitalize())
        self.bar.setValue(int(payload["fraction"] * 1000))
        self.bar.setFormat(f"%p% · {phase} · {format_eta(payload.get('eta_s'))}")
        losses = payload.get("losses") or {}
        self.losses.setText("  ".join(f"{k} {v:.4f}" for k, v in losses.items()) if losses else
                            payload.get("message", ""))
        if payload.get("preview") is not None:
            pix = QPixmap.fromImage(payload["preview"])
            self.preview.setPixmap(pix.scaled(140, 140, Qt.AspectRatioMode.KeepAspectRatio,
                                              Qt.TransformationMode.SmoothTransformation))

    def _do(self, action: Any) -> None:
        job_id = self.current_id()
        if job_id is None:
            return
        try:
            action(job_id)
        except SealError as err:
            show_error(self.window(), "Queue", str(err), kind=err.kind.value)

    def _results(self) -> None:
        job_id = self.current_id()
        if job_id is not None:
            self.showResults.emit(job_id)
