"""Queue panel: every job with its status; the selected job's progress bar (phase and
ETA), loss values, latest preview, and the queue commands."""

from __future__ import annotations

from typing import Any, Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (QGridLayout, QLabel, QListWidget, QListWidgetItem, QProgressBar, QPushButton,
                               QSizePolicy, QVBoxLayout, QWidget)

from seal_engine.errors import SealError

from ..store.jobs import JobStatus
from .errors import show_error

STATUS_MARK = {"pending": "◌", "running": "▶", "completed": "✔", "failed": "✖", "cancelled": "■",
               "interrupted": "⚠"}
PHASES = {"download": "Downloading model", "load": "Loading model…", "intake": "Reading the reference",
          "mask": "Masking", "prepare": "Preparing to learn", "embeddings": "Learning (embeddings)",
          "lora": "Learning (LoRA)", "save": "Saving what was learned", "personalize": "Learning",
          "generate": "Generating", "select": "Choosing variants", "finish": "Finishing", "export": "Exporting"}


def wrapping(label: QLabel) -> QLabel:
    """A label that wraps and never asks for more width than it is given (long loss lines, messages)."""
    label.setWordWrap(True)
    label.setMinimumWidth(1)
    label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
    return label


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
        self.job_title = wrapping(QLabel("No job selected"))
        self.job_title.setObjectName("JobTitle")
        self.status = wrapping(QLabel())
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.setTextVisible(True)
        self.bar.setMinimumWidth(1)
        self.bar.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.phase = wrapping(QLabel())
        self.losses = wrapping(QLabel())
        self.losses.setObjectName("Mono")
        self.preview = QLabel()
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setFixedHeight(130)
        self.preview.setMinimumWidth(1)
        self.preview.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.cancel_btn = QPushButton("Cancel")
        self.cancel_btn.clicked.connect(self.cancel_current)
        self.cancel_pending_btn = QPushButton("Cancel pending")
        self.cancel_pending_btn.setToolTip("Cancel every job that has not started; the running job continues")
        self.cancel_pending_btn.clicked.connect(self.controller.cancel_pending)
        self.retry_btn = QPushButton("Retry")
        self.retry_btn.setToolTip("Run the job again as a copy, with the settings as they are now; an unfinished "
                                  "job resumes in its folder and reuses what it already made")
        self.retry_btn.clicked.connect(lambda: self._do(self.controller.retry))
        self.up_btn = QPushButton("Move up")
        self.up_btn.clicked.connect(lambda: self._do(self.controller.move_up))
        self.front_btn = QPushButton("To front")
        self.front_btn.clicked.connect(lambda: self._do(self.controller.move_to_front))
        self.remove_btn = QPushButton("Remove")
        self.remove_btn.setToolTip("Remove the job; its folder moves to the trash (Edit ▸ Undo brings it back)")
        self.remove_btn.clicked.connect(self.remove_current)
        self.results_btn = QPushButton("Show results")
        self.results_btn.clicked.connect(self._results)
        self.pause_btn = QPushButton("Pause queue")
        self.pause_btn.setToolTip("Finish the running job, then start no other until you resume")
        self.pause_btn.clicked.connect(lambda: self.controller.set_paused(not self.controller.paused))
        controller.pausedChanged.connect(lambda _p: self._update_pause())
        grid = QGridLayout()
        buttons = [self.cancel_btn, self.cancel_pending_btn, self.retry_btn, self.up_btn, self.front_btn,
                   self.remove_btn, self.results_btn, self.pause_btn]
        for i, b in enumerate(buttons):
            grid.addWidget(b, i // 2, i % 2)
        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(self.list, 2)
        layout.addWidget(self.job_title)
        layout.addWidget(self.bar)
        layout.addWidget(self.phase)
        layout.addWidget(self.status)
        layout.addWidget(self.losses)
        layout.addWidget(self.preview)
        layout.addLayout(grid)
        controller.changed.connect(self.refresh)
        controller.progress.connect(self._on_progress)
        self.refresh()
        self._update_pause()

    def _update_pause(self) -> None:
        paused = self.controller.paused
        self.pause_btn.setText("Resume queue" if paused else "Pause queue")
        name = "Primary" if paused else ""
        if self.pause_btn.objectName() != name:
            self.pause_btn.setObjectName(name)
            if self.pause_btn.isVisible():  # restyle (costly with a style sheet: not before it is shown)
                self.pause_btn.style().unpolish(self.pause_btn)
                self.pause_btn.style().polish(self.pause_btn)

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
            item = QListWidgetItem(f"{mark} {job.title} — {self._state_text(job)}")
            item.setData(Qt.ItemDataRole.UserRole, job.id)
            item.setToolTip(job.error_message or job.message or job.status.value)
            self.list.addItem(item)
            if job.id == keep or (keep is None and chosen is None):
                chosen = item
        self.list.blockSignals(False)
        self.list.setCurrentItem(chosen)
        self.show_details()

    def _state_text(self, job: Any, payload: Optional[dict] = None) -> str:
        if job.status is JobStatus.RUNNING:
            payload = payload or self.controller.latest_progress(job.id)
            if payload is None or payload.get("kind", "job") != "job":
                return "starting…" if payload is None else f"running {job.progress * 100:.0f}%"
            phase = PHASES.get(payload["phase"], payload["phase"].capitalize())
            return f"{payload.get('overall', 0.0) * 100:.0f}% · {phase}"
        if job.status is JobStatus.PENDING and self.controller.paused:
            return "pending (queue paused)"
        if job.status in (JobStatus.CANCELLED, JobStatus.INTERRUPTED, JobStatus.FAILED) and job.progress > 0:
            return f"{job.status.value} at {job.progress * 100:.0f}%"
        return job.status.value

    def show_details(self) -> None:
        job_id = self.current_id()
        job = self.controller.ctx.jobs.get(job_id) if job_id is not None else None
        if job is None:
            self.job_title.setText("No job selected")
            self.status.clear()
            self.phase.clear()
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
        if latest and latest.get("kind", "job") == "job":
            self._apply(latest)
        elif running:  # started, no event yet: the first job loads the model for a while
            self.bar.setRange(0, 0)  # busy indicator
            self.phase.setText("Starting — loading the model…")
            self.losses.clear()
        else:
            self.bar.setRange(0, 1000)
            self.bar.setValue(int(job.progress * 1000))
            done = {JobStatus.COMPLETED: "Finished", JobStatus.PENDING: "Waiting"}.get(job.status,
                                                                                          job.status.value.capitalize())
            self.bar.setFormat(f"{job.progress * 100:.0f}% · {done}")
            self.phase.setText("Waiting: the queue is paused (Resume queue to start)."
                               if pending and self.controller.paused else "")
            self.losses.clear()
            self.preview.clear()

    def _on_progress(self, job_id: int, payload: dict) -> None:
        if payload.get("kind", "job") != "job":  # regenerating one sticker of a finished job: not the job's state
            return
        if job_id == self.current_id():
            self._apply(payload)
        for i in range(self.list.count()):
            it = self.list.item(i)
            if it.data(Qt.ItemDataRole.UserRole) == job_id:
                text = it.text().rsplit(" — ", 1)[0]
                phase = PHASES.get(payload["phase"], payload["phase"].capitalize())
                it.setText(f"{text} — {payload.get('overall', payload['fraction']) * 100:.0f}% · {phase}")

    def _apply(self, payload: dict) -> None:
        """One bar for the whole job (it never goes back); the phase line says what happens now."""
        phase = PHASES.get(payload["phase"], payload["phase"].capitalize())
        overall = payload.get("overall", payload["fraction"])
        self.bar.setRange(0, 1000)
        self.bar.setValue(int(overall * 1000))
        self.bar.setFormat(f"%p% · {format_eta(payload.get('overall_eta_s'))} for the whole job")
        step = f" — {payload['step']}/{payload['total']}" if payload.get("total") else ""
        phase_eta = f" · {format_eta(payload['eta_s'])} for this phase" if payload.get("eta_s") is not None \
            and payload.get("total") else ""
        self.phase.setText(f"{phase}{step}{phase_eta}")
        losses = payload.get("losses") or {}
        self.losses.setText("  ".join(f"{k} {v:.4f}" for k, v in losses.items()) if losses else
                            payload.get("message", ""))
        if payload.get("preview") is not None:
            pix = QPixmap.fromImage(payload["preview"])
            self.preview.setPixmap(pix.scaled(124, 124, Qt.AspectRatioMode.KeepAspectRatio,
                                              Qt.TransformationMode.SmoothTransformation))

    def cancel_current(self) -> None:
        job_id = self.current_id()
        job = self.controller.ctx.jobs.get(job_id) if job_id is not None else None
        if job is None:
            return
        if job.status is JobStatus.RUNNING and not self.controller.confirm(
                "Cancel the running job?",
                f"Stop job #{job.id} now? The stickers it has made so far are kept, and Retry continues "
                "from there."):
            return
        self._do(self.controller.cancel)

    def remove_current(self) -> None:
        job_id = self.current_id()
        job = self.controller.ctx.jobs.get(job_id) if job_id is not None else None
        if job is None:
            return
        n = len(self.controller.ctx.jobs.results(job.id))
        files = f" and its folder ({n} sticker image(s))" if job.output_dir else ""
        if not self.controller.confirm("Remove job?", f"Remove job #{job.id}{files}? The files move to the trash; "
                                       "Edit ▸ Undo brings them back until you empty the trash."):
            return
        self._do(self.controller.remove)

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
