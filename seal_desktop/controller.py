"""Observable application state: the stores plus the job queue driving the worker.

All database writes happen here, on the GUI thread; the worker only computes and
emits. That keeps SQLite single-writer and lets a crash leave at most one job in
'running', which the next start marks 'interrupted'.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from PySide6.QtCore import QObject, Signal

from seal_engine.errors import InputError
from seal_engine.progress import CancelToken

from . import engine_adapter as ea
from . import gui_thread_gc
from .settings import Settings, load_settings, save_settings
from .store.characters import Character, CharacterStore
from .store.db import Database, open_database
from .store.jobs import Job, JobStatus, JobStore
from .store.presets import PresetStore
from .trash import Trash, TrashEntry
from .worker import FunctionThread, JobWorker, Regenerate, RunJob, Warmup


@dataclass
class AppContext:
    """Everything that lives under SEAL_HOME, opened once."""

    db: Database
    characters: CharacterStore
    jobs: JobStore
    presets: PresetStore
    settings: Settings
    trash: Trash = field(default_factory=lambda: Trash(Path(".trash")))

    @classmethod
    def open(cls) -> "AppContext":
        """Open the library under seal_home() (SEAL_HOME or the platformdirs user data dir)."""
        from seal_engine.paths import database_path, library_dir, seal_home, settings_path

        db = open_database(database_path())
        return cls(db=db, characters=CharacterStore(db, library_dir()), jobs=JobStore(db),
                   presets=PresetStore(seal_home() / "presets"), settings=load_settings(settings_path()),
                   trash=Trash(seal_home() / "trash"))

    def save_settings(self, settings: Settings) -> None:
        save_settings(settings)
        self.settings = settings


# Settings the Settings dialog owns: a retry takes their current values. Steps, variants and seed were
# chosen for the job itself (Character tab) and stay the job's.
GLOBAL_SETTINGS = ("model", "runtime", "sam_checkpoint", "schedule", "edit_consistency", "size", "output_root")
SETTING_NAMES = {"model": "model", "runtime": "device/precision/low-VRAM options", "sam_checkpoint":
                 "segment-anything checkpoint", "schedule": "learning schedule", "edit_consistency": "keep emotion words acting", "size": "image size",
                 "output_root": "output folder"}
PROGRESS_SAVE_S = 2.0  # how often a running job's progress is written to the database (survives a crash)


@dataclass
class UndoEntry:
    text: str  # "Remove job #3"
    undo: Callable[[], None]


class QueueController(QObject):
    changed = Signal()  # the list of jobs changed
    progress = Signal(int, object)  # job id, payload dict
    resultsChanged = Signal(int)  # job id
    jobFinished = Signal(int, str)  # job id, status
    charactersChanged = Signal()
    errorRaised = Signal(str, object)  # title, ErrorInfo
    notice = Signal(str)  # a short message for the status bar
    undoChanged = Signal(str)  # text of the next undo ("" when nothing to undo)
    pausedChanged = Signal(bool)

    def __init__(self, ctx: AppContext, parent: Any = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.interrupted = ctx.jobs.recover_interrupted()
        self.worker = JobWorker()
        self.worker.jobFinished.connect(self._on_finished)
        self.worker.jobProgress.connect(self._on_progress)
        self.worker.stickerReady.connect(self._on_sticker)
        self.worker.conceptReady.connect(self._on_concept)
        self.worker.regenerated.connect(self._on_regenerated)
        self.worker.warmedUp.connect(self._on_warmed_up)
        self.warmup_seconds: Optional[float] = None  # set once the engine's imports are done
        self._warming = False
        self.current_job: Optional[int] = None
        self._cancel: Optional[CancelToken] = None
        self._regen_pending = 0
        self._latest: dict[int, dict] = {}
        self.helpers: list[FunctionThread] = []
        self._paused = False
        self.paused_at_launch = False
        self._closing = False
        self._saved_at: dict[int, tuple[float, str]] = {}
        self.undo_stack: list[UndoEntry] = []
        self.confirm: Callable[[str, str], bool] = lambda title, text: True  # the window asks; tests stub it

    # ---- state -----------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self.current_job is not None or self._regen_pending > 0

    def latest_progress(self, job_id: int) -> Optional[dict]:
        return self._latest.get(job_id)

    @property
    def paused(self) -> bool:
        return self._paused

    @paused.setter
    def paused(self, value: bool) -> None:
        self.set_paused(value)

    def set_paused(self, value: bool) -> None:
        """A paused queue finishes the running job and starts no other."""
        changed = bool(value) != self._paused
        self._paused = bool(value)
        if not value:
            self.paused_at_launch = False
        if changed:
            self.pausedChanged.emit(self._paused)
        if not value:
            self._pump()

    def job_settings(self, **overrides: Any) -> dict[str, Any]:
        s = self.ctx.settings
        settings = {"model": s.model, "runtime": s.runtime_options(), "steps": s.steps, "variants": s.variants,
                    "seed": s.seed, "schedule": s.schedule, "edit_consistency": s.edit_consistency, "size": s.size, "sam_checkpoint": s.sam_checkpoint,
                    "output_root": str(s.output_root())}
        settings.update(overrides)
        return settings

    # ---- commands --------------------------------------------------------------
    def enqueue(self, character: Character, preset: dict[str, Any], **overrides: Any) -> Job:
        s = self.ctx.settings
        problems = s.validate()
        if problems and "model" not in overrides:
            raise InputError(" ".join(problems))
        settings = self.job_settings(**overrides)
        if character.caption:  # the user's caption replaces the automatic one (recorded with the job)
            settings["personalize"] = {**settings.get("personalize", {}), "caption": character.caption}
        settings["_overrides"] = sorted(k for k in overrides if k in GLOBAL_SETTINGS)  # a retry keeps these
        if not preset.get("items"):
            raise InputError("The chosen preset has no stickers.")
        job = self.ctx.jobs.enqueue(character_id=character.id, character_name=character.name, preset=preset,
                                    settings=settings, finishing=dict(ea.DEFAULT_FINISHING))
        if self.paused_at_launch:  # adding a job is asking for work: the queue that waited at launch starts
            self.set_paused(False)
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
        """Retry with the settings as they are NOW (the user may just have fixed the model in Settings);
        an unfinished job resumes in its folder. `notice` says what changed."""
        job = self.ctx.jobs.get(job_id)
        if job is None:
            raise InputError("That job no longer exists.")
        problems = self.ctx.settings.validate()
        if problems and "model" not in job.settings.get("_overrides", []):
            raise InputError(" ".join(problems))
        current = self.job_settings()
        settings = dict(job.settings)
        changes = []
        for key in GLOBAL_SETTINGS:
            if key in job.settings.get("_overrides", []):
                continue  # given explicitly for that job (tests, experts): keep it
            if settings.get(key) != current[key]:
                changes.append(SETTING_NAMES[key] if key != "model" else
                               f"model {Path(str(settings.get(key, ''))).name or '?'} → {Path(current[key]).name}")
            settings[key] = current[key]
        copy = self.ctx.jobs.retry(job_id, settings)
        self.last_retry_changes = changes
        resumed = " in the same folder (what was made is reused)" if copy.settings.get("resume_dir") else ""
        said = f"; changed since: {', '.join(changes)}" if changes else "; settings unchanged"
        self.notice.emit(f"Job #{job_id} retried as #{copy.id}{resumed} with the current settings{said}.")
        self.changed.emit()
        self.resultsChanged.emit(copy.id)
        self._pump()
        return copy

    def move_up(self, job_id: int) -> None:
        self.ctx.jobs.move_up(job_id)
        self.changed.emit()

    def move_to_front(self, job_id: int) -> None:
        self.ctx.jobs.move_to_front(job_id)
        self.changed.emit()

    def remove(self, job_id: int) -> Optional[TrashEntry]:
        """Remove a job: its row goes (committed first), its folder moves to the trash; Undo puts both back."""
        job = self.ctx.jobs.get(job_id)
        if job is None:
            return None
        results = self.ctx.jobs.results(job_id)
        folder = self.ctx.jobs.remove(job_id)
        entry = None
        if folder is not None and folder.is_dir() and not self._folder_shared(str(folder), job_id):
            entry = self.ctx.trash.move(folder, f"job-{job_id}")

        def undo() -> None:
            if entry is not None:
                self.ctx.trash.restore(entry)
            self.ctx.jobs.restore(job, results)
            self.changed.emit()
            self.resultsChanged.emit(job_id)

        self._push_undo(UndoEntry(f"Remove job #{job_id}", undo))
        files = f"; its {len(results)} sticker(s) went to the trash" if entry is not None else ""
        self.notice.emit(f"Job #{job_id} removed{files}. Undo with Ctrl+Z.")
        self.changed.emit()
        return entry

    def _folder_shared(self, folder: str, but: int) -> bool:
        return any(j.id != but and (j.output_dir == folder or j.settings.get("resume_dir") == folder)
                   for j in self.ctx.jobs.all())

    def _push_undo(self, entry: UndoEntry) -> None:
        self.undo_stack.append(entry)
        del self.undo_stack[:-20]
        self.undoChanged.emit(entry.text)

    def undo(self) -> Optional[str]:
        """Undo the last destructive action (job removed, character deleted, sticker regenerated)."""
        if not self.undo_stack:
            return None
        entry = self.undo_stack.pop()
        try:
            entry.undo()
        except (OSError, ValueError) as err:
            self.errorRaised.emit("Undo failed", ea.ErrorInfo("input", f"{entry.text} could not be undone: {err}"))
            return None
        self.undoChanged.emit(self.undo_stack[-1].text if self.undo_stack else "")
        self.notice.emit(f"Undone: {entry.text}.")
        return entry.text

    def delete_character(self, character_id: int) -> None:
        """Delete a character; its folder goes to the trash and Undo brings it back (row and files)."""
        store = self.ctx.characters
        character = store.get(character_id)
        if character is None:
            return
        snapshot = store.snapshot(character_id)
        store.delete(character_id, remove_files=False)
        entry = self.ctx.trash.move(character.folder, f"character-{character_id}")

        def undo() -> None:
            if entry is not None:
                self.ctx.trash.restore(entry)
            store.restore(snapshot)
            self.charactersChanged.emit()

        self._push_undo(UndoEntry(f"Delete character '{character.name}'", undo))
        self.notice.emit(f"'{character.name}' deleted; its files are in the trash. Undo with Ctrl+Z.")
        self.charactersChanged.emit()

    def revert_regenerate(self, result_id: int) -> bool:
        result = self.ctx.jobs.result(result_id)
        if result is None or not self.ctx.jobs.revert_result(result_id):
            return False
        self.resultsChanged.emit(result.job_id)
        return True

    def empty_trash(self) -> int:
        n = self.ctx.trash.empty()
        self.undo_stack.clear()  # what they would restore is gone
        self.undoChanged.emit("")
        return n

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

    def warm_up(self) -> None:
        """Import the engine on the worker thread while the user looks around (once; a job queued meanwhile
        runs right after it). Skipped with SEAL_NO_WARMUP=1 and while closing."""
        if self._warming or self.warmup_seconds is not None or self._closing or os.environ.get("SEAL_NO_WARMUP"):
            return
        self._warming = True
        self.worker.submit(Warmup())
        self.changed.emit()

    @property
    def warming(self) -> bool:
        return self._warming

    def _on_warmed_up(self, seconds: float) -> None:
        self._warming = False
        self.warmup_seconds = seconds
        self.changed.emit()

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
        gui_thread_gc.forget_finished()  # every worker is joined: automatic collection is back now
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
        if job.output_dir:
            output = Path(job.output_dir)
        elif s.get("resume_dir"):  # a retry resumes where the earlier run stopped, like `seal pack` rerun
            output = Path(s["resume_dir"])
        else:
            output = base / f"job-{job.id:05d}"
        return ea.JobSpec(
            job_id=job.id, character_name=character.name, class_word=character.class_word,
            reference=character.reference, mask=character.mask, preset=job.preset, model=s["model"],
            runtime=dict(s.get("runtime", {})), steps=int(s.get("steps", 30)), variants=int(s.get("variants", 1)),
            seed=int(s.get("seed", 0)), schedule=s.get("schedule", "quality"), size=int(s.get("size", 0)),
            finishing=dict(job.finishing or ea.DEFAULT_FINISHING), output_dir=output,
            concept_dir=Path(s["concept_dir"]) if s.get("concept_dir") else None,
            concepts_root=character.folder / "concepts",
            edit_consistency=bool(s.get("edit_consistency", False)),
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
        if payload.get("kind", "job") == "job" and job_id == self.current_job:
            now = time.monotonic()
            saved_at, phase = self._saved_at.get(job_id, (0.0, ""))
            if now - saved_at >= PROGRESS_SAVE_S or payload["phase"] != phase:  # survives a crash or a kill
                self._saved_at[job_id] = (now, payload["phase"])
                self.ctx.jobs.set_progress(job_id, payload["phase"], payload.get("overall", 0.0),
                                           payload.get("message", ""))
        self.progress.emit(job_id, payload)

    def _on_sticker(self, job_id: int, s: ea.StickerOutcome) -> None:
        self.ctx.jobs.add_result(job_id, item_index=s.item_index, variant=s.variant, label=s.label, emoji=s.emoji,
                                 prompt=s.prompt, seed=s.seed, raw_path=s.raw_path, finished_path=s.finished_path,
                                 kept=s.kept)
        self.resultsChanged.emit(job_id)

    def _on_concept(self, job_id: int, concept_dir: Path, settings: dict) -> None:
        """List the concept on its character as soon as it is saved, so a job cancelled while it
        generates still shows what it learned (Retry and the next job reuse it)."""
        job = self.ctx.jobs.get(job_id)
        character = self.ctx.characters.get(job.character_id) if job and job.character_id is not None else None
        if character is not None and all(c.path != Path(concept_dir) for c in character.concepts):
            self.ctx.characters.add_concept(character.id, Path(concept_dir), job.settings["model"], settings)
            self.charactersChanged.emit()

    def _on_finished(self, job_id: int, status: str, info: Any) -> None:
        job = self.ctx.jobs.get(job_id)
        if isinstance(info, ea.JobOutcome):
            if info.concept_dir is not None and job is not None:
                self.ctx.jobs.set_setting(job_id, "concept_dir", str(info.concept_dir))
                self._on_concept(job_id, info.concept_dir, info.concept_settings)
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
        self._latest.pop(job_id, None)
        self._saved_at.pop(job_id, None)
        self.changed.emit()
        self.jobFinished.emit(job_id, status)
        self._pump()

    def _on_regenerated(self, job_id: int, result_id: int, info: Any) -> None:
        self._regen_pending = max(0, self._regen_pending - 1)
        if isinstance(info, ea.StickerOutcome):
            self.ctx.jobs.replace_result(result_id, seed=info.seed, raw_path=info.raw_path,
                                         finished_path=info.finished_path)
            self._push_undo(UndoEntry(f"Regenerate sticker {info.label or result_id}",
                                      lambda: self.revert_regenerate(result_id) and None))
            self.resultsChanged.emit(job_id)
        elif not self._closing:
            self.errorRaised.emit("Regenerating the sticker failed", info)
