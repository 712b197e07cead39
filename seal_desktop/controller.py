"""Observable application state: the stores plus the job queue driving the worker.

All database writes happen here, on the GUI thread; the worker only computes and
emits. That keeps SQLite single-writer and lets a crash leave at most one job in
'running', which the next start marks 'interrupted'.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from PySide6.QtCore import QObject, Signal

from seal_engine.errors import InputError
from seal_engine.progress import CancelToken

from . import engine_adapter as ea
from .settings import Settings, load_settings, save_settings
from .store.characters import Character, CharacterStore
from .store.db import Database, open_database
from .store.jobs import Job, JobStatus, JobStore
from .store.presets import PresetStore
from .worker import FunctionThread, JobWorker, Regenerate, RunJob


@dataclass
class AppContext:
    """Everything that lives under SEAL_HOME, opened once."""

    db: Database
    characters: CharacterStore
    jobs: JobStore
    presets: PresetStore
    settings: Settings

    @classmethod
    def open(cls) -> "AppContext":
        """Open the library under seal_home() (SEAL_HOME or the platformdirs user data dir)."""
        from seal_engine.paths import database_path, library_dir, seal_home, settings_path

        db = open_database(database_path())
        return cls(db=db, characters=CharacterStore(db, library_dir()), jobs=JobStore(db),
                   presets=PresetStore(seal_home() / "presets"), settings=load_settings(settings_path()))

    def save_settings(self, settings: Settings) -> None:
        save_settings(settings)
        self.settings = settings


class QueueController(QObject):
    changed = Signal()  # the list of jobs changed
    progress = Signal(int, object)  # job id, payload dict
    resultsChanged = Signal(int)  # job id
    jobFinished = Signal(int, str)  # job id, status
    charactersChanged = Signal()
    errorRaised = Signal(str, object)  # title, ErrorInfo

    def __init__(self, ctx: AppContext, parent: Any = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.interrupted = ctx.jobs.recover_interrupted()
        self.worker = JobWorker()
        self.worker.jobFinished.connect(self._on_finished)
        self.worker.jobProgress.connect(self._on_progress)
        self.worker.stickerReady.connect(self._on_sticker)
        self.worker.regenerated.connect(self._on_regenerated)
        self.current_job: Optional[int] = None
        self._cancel: Optional[CancelToken] = None
        self._regen_pending = 0
        self._latest: dict[int, dict] = {}
        self.helpers: list[FunctionThread] = []
        self.paused = False
        self._closing = False

    # ---- state -----------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self.current_job is not None or self._regen_pending > 0

    def latest_progress(self, job_id: int) -> Optional[dict]:
        return self._latest.get(job_id)

    # ---- commands --------------------------------------------------------------
    def enqueue(self, character: Character, preset: dict[str, Any], **overrides: Any) -> Job:
        s = self.ctx.settings
        problems = s.validate()
        if problems and "model" not in overrides:
            raise InputError(" ".join(problems))
        settings = {"model": s.model, "runtime": s.runtime_options(), "steps": s.steps, "variants": s.variants,
                    "seed": s.seed, "schedule": s.schedule, "size": s.size, "sam_checkpoint": s.sam_checkpoint,
                    "output_root": str(s.output_root())}
        settings.update(overrides)
        if not preset.get("items"):
            raise InputError("The chosen preset has no stickers.")
        job = self.ctx.jobs.enqueue(character_id=character.id, character_name=character.name, preset=preset,
                                    settings=settings, finishing=dict(ea.DEFAULT_FINISHING))
        self.changed.emit()
        self._pump()
        return job

    def cancel(self, job_id: int) -> None:
        """Cancel exactly this job: the running one via its token, a pending one in the database."""
        if job_id == self.current_job and self._cancel is not None:
            self._cancel.cancel()
        else:
            self.ctx.jobs.cancel_pending([job_id])
        self.changed.emit()

    def cancel_pending(self) -> list[int]:
        ids = self.ctx.jobs.cancel_pending()
        self.changed.emit()
        return ids

    def retry(self, job_id: int) -> Job:
        job = self.ctx.jobs.retry(job_id)
        self.changed.emit()
        self._pump()
        return job

    def move_up(self, job_id: int) -> None:
        self.ctx.jobs.move_up(job_id)
        self.changed.emit()

    def move_to_front(self, job_id: int) -> None:
        self.ctx.jobs.move_to_front(job_id)
        self.changed.emit()

    def remove(self, job_id: int) -> None:
        folder = self.ctx.jobs.remove(job_id)  # committed first, files after
        if folder is not None and folder.is_dir():
            shutil.rmtree(folder, ignore_errors=True)
        self.changed.emit()

    def regenerate(self, result_id: int, seed: Optional[int] = None) -> int:
        result = self.ctx.jobs.result(result_id)
        if result is None:
            raise InputError("That sticker no longer exists.")
        job = self.ctx.jobs.get(result.job_id)
        spec = self._spec(job) if job else None
        if job is None or spec is None:
            raise InputError("The character of this job was deleted; its stickers cannot be regenerated.")
        new_seed = seed if seed is not None else int(time.time() * 1000) % 2**31
        self._regen_pending += 1
        self.worker.submit(Regenerate(spec, result_id, result.item_index, result.variant, new_seed, result.prompt,
                                      CancelToken()))
        return new_seed

    def refinish(self, job_id: int, finishing: dict[str, Any]) -> FunctionThread:
        """Re-run finishing on every result of a job with new settings, off the GUI thread."""
        self.ctx.jobs.set_finishing(job_id, finishing)
        results = self.ctx.jobs.results(job_id)

        def work(progress, cancel):
            for r in results:
                cancel.raise_if_cancelled()
                ea.refinish(r.raw_path, r.finished_path, finishing)
            return job_id

        thread = self.start_helper(work)
        thread.succeeded.connect(lambda jid: self.resultsChanged.emit(jid))
        return thread

    def start_helper(self, fn: Any, *, report_errors: bool = True) -> FunctionThread:
        """Run `fn(progress, cancel)` on a helper thread that shutdown() waits for."""
        thread = FunctionThread(fn)
        if report_errors:
            thread.failed.connect(lambda info: self.errorRaised.emit("Operation failed", info))
        thread.finished.connect(lambda t=thread: self.helpers.remove(t) if t in self.helpers else None)
        self.helpers.append(thread)
        thread.start()
        return thread

    def shutdown(self) -> None:
        """Cancel the running job and stop every thread (closing the window)."""
        self._closing = True
        if self._cancel is not None:
            self._cancel.cancel()
        self.worker.stop()
        if self.worker.isRunning():
            self.worker.wait()
        for thread in list(self.helpers):
            thread.cancel_and_wait()
        self.helpers.clear()
        if self.current_job is not None:  # the worker ended before its signal was delivered
            self.ctx.jobs.finish(self.current_job, JobStatus.CANCELLED, message="Cancelled when the app closed.")
            self.current_job = None

    # ---- queue engine ------------------------------------------------------------
    def _spec(self, job: Job) -> Optional[ea.JobSpec]:
        character = self.ctx.characters.get(job.character_id) if job.character_id is not None else None
        if character is None:
            return None
        s = job.settings
        base = Path(s.get("output_root") or self.ctx.settings.output_root())
        output = Path(job.output_dir) if job.output_dir else base / f"job-{job.id:05d}"
        return ea.JobSpec(
            job_id=job.id, character_name=character.name, class_word=character.class_word,
            reference=character.reference, mask=character.mask, preset=job.preset, model=s["model"],
            runtime=dict(s.get("runtime", {})), steps=int(s.get("steps", 30)), variants=int(s.get("variants", 1)),
            seed=int(s.get("seed", 0)), schedule=s.get("schedule", "quality"), size=int(s.get("size", 0)),
            finishing=dict(job.finishing or ea.DEFAULT_FINISHING), output_dir=output,
            concept_dir=Path(s["concept_dir"]) if s.get("concept_dir") else None,
            concepts_root=character.folder / "concepts",
            personalize_overrides=dict(s.get("personalize", {})))

    def _pump(self) -> None:
        if self.current_job is not None or self.paused or self._closing:
            return
        while True:
            job = self.ctx.jobs.next_pending()
            if job is None:
                return
            spec = self._spec(job)
            if spec is None:
                self.ctx.jobs.finish(job.id, JobStatus.FAILED, error_kind="input",
                                     error_message="The character of this job was deleted.")
                self.changed.emit()
                continue
            break
        self.ctx.jobs.mark_running(job.id, spec.output_dir)
        self.current_job = job.id
        self._cancel = CancelToken()
        self.worker.submit(RunJob(spec, self._cancel))
        self.changed.emit()

    def _on_progress(self, job_id: int, payload: dict) -> None:
        self._latest[job_id] = payload
        self.progress.emit(job_id, payload)

    def _on_sticker(self, job_id: int, s: ea.StickerOutcome) -> None:
        self.ctx.jobs.add_result(job_id, item_index=s.item_index, variant=s.variant, label=s.label, emoji=s.emoji,
                                 prompt=s.prompt, seed=s.seed, raw_path=s.raw_path, finished_path=s.finished_path,
                                 kept=s.kept)
        self.resultsChanged.emit(job_id)

    def _on_finished(self, job_id: int, status: str, info: Any) -> None:
        job = self.ctx.jobs.get(job_id)
        if isinstance(info, ea.JobOutcome):
            if info.concept_dir is not None and job is not None:
                self.ctx.jobs.set_setting(job_id, "concept_dir", str(info.concept_dir))
                character = self.ctx.characters.get(job.character_id) if job.character_id is not None else None
                if character is not None and all(c.path != info.concept_dir for c in character.concepts):
                    self.ctx.characters.add_concept(character.id, info.concept_dir, job.settings["model"],
                                                    info.concept_settings)
                    self.charactersChanged.emit()
            timing = ", ".join(f"{k} {v:.1f}s" for k, v in info.seconds.items())
            self.ctx.jobs.finish(job_id, JobStatus.COMPLETED, message="; ".join(info.notes + [timing]))
        else:
            kind = JobStatus.CANCELLED if status == "cancelled" else JobStatus.FAILED
            self.ctx.jobs.finish(job_id, kind, error_kind=info.kind, error_message=info.message,
                                 traceback=info.traceback, message=info.message if kind is JobStatus.CANCELLED else "")
            if kind is JobStatus.FAILED and not self._closing:
                self.errorRaised.emit(f"Job #{job_id} failed", info)
        if job_id == self.current_job:
            self.current_job = None
            self._cancel = None
        self.changed.emit()
        self.jobFinished.emit(job_id, status)
        self._pump()

    def _on_regenerated(self, job_id: int, result_id: int, info: Any) -> None:
        self._regen_pending = max(0, self._regen_pending - 1)
        if isinstance(info, ea.StickerOutcome):
            self.ctx.jobs.replace_result(result_id, seed=info.seed, raw_path=info.raw_path,
                                         finished_path=info.finished_path)
            self.resultsChanged.emit(job_id)
        elif not self._closing:
            self.errorRaised.emit("Regenerating the sticker failed", info)
