"""The QThread that runs engine work one task at a time.

Engine callbacks run on this thread and reach the UI only as Qt signals: the
signals belong to the QThread object (which lives on the GUI thread), so Qt's
AutoConnection queues every emission onto the GUI event loop. Progress is
throttled so a fast loop cannot flood the loop; previews are converted to QImage
here (QImage is safe off the GUI thread, QPixmap is not).
"""

from __future__ import annotations

import queue
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional

from PySide6.QtCore import Signal
from PySide6.QtGui import QImage

from seal_engine.errors import Cancelled
from seal_engine.progress import CancelToken, ProgressEvent

from . import engine_adapter as ea
from .gui_thread_gc import GuiCollectedThread

PROGRESS_INTERVAL_S = 0.05


def pil_to_qimage(image: Any) -> QImage:
    rgba = image.convert("RGBA")
    data = rgba.tobytes("raw", "RGBA")
    return QImage(data, rgba.width, rgba.height, rgba.width * 4, QImage.Format.Format_RGBA8888).copy()


@dataclass
class RunJob:
    spec: ea.JobSpec
    cancel: CancelToken


@dataclass
class Warmup:
    """Import the engine's job path now, so that the first job neither waits for it nor stalls the window."""


@dataclass
class Regenerate:
    spec: ea.JobSpec
    result_id: int
    item_index: int
    variant: int
    seed: int
    prompt: str
    cancel: CancelToken


class JobWorker(GuiCollectedThread):
    jobStarted = Signal(int)
    jobProgress = Signal(int, object)  # job id, dict
    stickerReady = Signal(int, object)  # job id, StickerOutcome
    conceptReady = Signal(int, object, object)  # job id, concept folder, how it was learned (concept_settings)
    jobFinished = Signal(int, str, object)  # job id, "completed"/"failed"/"cancelled", JobOutcome | ErrorInfo
    regenerated = Signal(int, int, object)  # job id, result id, StickerOutcome | ErrorInfo
    warmedUp = Signal(float)  # seconds the engine's imports took

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._tasks: "queue.Queue[Optional[object]]" = queue.Queue()
        self.cache = ea.ModelCache()

    def submit(self, task: object) -> None:
        self._tasks.put(task)
        if not self.isRunning():
            self.start()

    def stop(self) -> None:
        """Ask the loop to end after the current task (cancel that task first)."""
        self._tasks.put(None)

    def run(self) -> None:  # runs on the worker thread
        while True:
            task = self._tasks.get()
            if task is None:
                break
            if isinstance(task, RunJob):
                self._run_job(task)
            elif isinstance(task, Regenerate):
                self._regenerate(task)
            elif isinstance(task, Warmup):
                self._warm_up()
        self.cache.clear()

    def _progress_sink(self, job_id: int, kind: str = "job") -> Callable[[ProgressEvent], None]:
        """Throttled events as dicts; `overall` is the fraction of the whole job (one bar across phases)."""
        last = {"t": 0.0, "phase": ""}
        overall = ea.OverallProgress()

        def sink(event: ProgressEvent) -> None:
            fraction, eta = overall.update(event)
            if event.eta_s is not None and event.total > 0:  # the whole job never ends before this phase does
                eta = max(eta or 0.0, event.eta_s)
            now = time.monotonic()
            if event.preview is None and event.phase == last["phase"] and now - last["t"] < PROGRESS_INTERVAL_S \
                    and event.step < event.total:
                return
            last["t"], last["phase"] = now, event.phase
            payload = {"phase": event.phase, "step": event.step, "total": event.total, "fraction": event.fraction,
                       "eta_s": event.eta_s, "losses": dict(event.losses), "message": event.message,
                       "overall": fraction, "overall_eta_s": eta, "kind": kind,
                       "preview": pil_to_qimage(event.preview) if event.preview is not None else None}
            self.jobProgress.emit(job_id, payload)

        return sink

    def _run_job(self, task: RunJob) -> None:
        job_id = task.spec.job_id
        self.jobStarted.emit(job_id)
        try:
            outcome = ea.run_job(task.spec, progress=self._progress_sink(job_id),
                                 on_sticker=lambda s: self.stickerReady.emit(job_id, s),
                                 on_concept=lambda path: self.conceptReady.emit(job_id, path,
                                                                                ea.concept_settings(task.spec)),
                                 cancel=task.cancel, cache=self.cache)
        except Cancelled as err:
            self.jobFinished.emit(job_id, "cancelled", ea.describe_error(err))
        except BaseException as err:  # noqa: BLE001 - every failure must reach the UI
            self.cache.clear()
            self.jobFinished.emit(job_id, "failed", ea.describe_error(err))
        else:
            self.jobFinished.emit(job_id, "completed", outcome)

    def _warm_up(self) -> None:
        from seal_engine.warmup import import_engine

        start = time.perf_counter()
        try:
            import_engine()
        except Exception:  # noqa: BLE001 - a broken install is reported by the job that needs the module
            pass
        self.warmedUp.emit(time.perf_counter() - start)

    def _regenerate(self, task: Regenerate) -> None:
        job_id = task.spec.job_id
        try:
            outcome = ea.regenerate_one(task.spec, task.item_index, task.variant, task.seed, prompt=task.prompt,
                                        progress=self._progress_sink(job_id, "regenerate"), cancel=task.cancel,
                                        cache=self.cache)
        except BaseException as err:  # noqa: BLE001
            self.regenerated.emit(job_id, task.result_id, ea.describe_error(err))
        else:
            self.regenerated.emit(job_id, task.result_id, outcome)


class FunctionThread(GuiCollectedThread):
    """Runs one callable `fn(progress, cancel)` off the GUI thread (exports, downloads, refinishing)."""

    progressed = Signal(object)  # ProgressEvent-like dict
    succeeded = Signal(object)
    failed = Signal(object)  # ErrorInfo

    def __init__(self, fn: Callable[[Callable[[ProgressEvent], None], CancelToken], Any], parent: Any = None) -> None:
        super().__init__(parent)
        self.fn = fn
        self.cancel_token = CancelToken()

    def run(self) -> None:
        def progress(event: ProgressEvent) -> None:
            self.progressed.emit({"phase": event.phase, "step": event.step, "total": event.total,
                                  "message": event.message, "fraction": event.fraction})

        try:
            result = self.fn(progress, self.cancel_token)
        except BaseException as err:  # noqa: BLE001
            self.failed.emit(ea.describe_error(err))
        else:
            self.succeeded.emit(result)

    def cancel_and_wait(self, ms: int = 30000) -> None:
        self.cancel_token.cancel()
        self.wait(ms)
