"""The job queue and its results, persisted in SQLite (InvokeAI-style statuses).

`position` orders pending jobs (a float so "move up" and "to the front" are a
single-row update). A job left `running` by a crash or a kill is marked
`interrupted` when the app next opens; it is never silently dropped.
"""

from __future__ import annotations

import enum
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from seal_engine.errors import InputError

from .db import Database


class JobStatus(str, enum.Enum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"

    @property
    def finished(self) -> bool:
        return self in (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.INTERRUPTED)

    @property
    def retryable(self) -> bool:
        return self in (JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.INTERRUPTED, JobStatus.COMPLETED)


@dataclass
class Job:
    id: int
    character_id: Optional[int]
    character_name: str
    preset: dict[str, Any]
    settings: dict[str, Any]
    status: JobStatus
    position: float
    phase: str = ""
    progress: float = 0.0
    message: str = ""
    error_kind: str = ""
    error_message: str = ""
    traceback: str = ""
    output_dir: str = ""
    retry_of: Optional[int] = None
    created_at: float = 0.0
    started_at: Optional[float] = None
    finished_at: Optional[float] = None
    finishing: dict[str, Any] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return f"#{self.id} {self.character_name or '(deleted character)'} · {self.preset.get('name', '?')}"


@dataclass
class Result:
    id: int
    job_id: int
    item_index: int
    variant: int
    label: str
    emoji: str
    prompt: str
    seed: int
    raw_path: Path
    finished_path: Path
    kept: bool
    history: list[dict] = field(default_factory=list)  # earlier versions: {"seed", "raw_path", "finished_path"}


class JobStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    def _job(row: Any) -> Job:
        return Job(id=row["id"], character_id=row["character_id"], character_name=row["character_name"],
                   preset=json.loads(row["preset"]), settings=json.loads(row["settings"]),
                   status=JobStatus(row["status"]), position=row["position"], phase=row["phase"],
                   progress=row["progress"], message=row["message"], error_kind=row["error_kind"],
                   error_message=row["error_message"], traceback=row["traceback"], output_dir=row["output_dir"],
                   retry_of=row["retry_of"], created_at=row["created_at"], started_at=row["started_at"],
                   finished_at=row["finished_at"], finishing=json.loads(row["finishing"] or "{}"))

    # ---- queries ---------------------------------------------------------------
    def all(self) -> list[Job]:
        """Running first, then pending in queue order, then finished newest first."""
        rows = self.db.query(
            "SELECT * FROM jobs ORDER BY CASE status WHEN 'running' THEN 0 WHEN 'pending' THEN 1 ELSE 2 END,"
            " CASE WHEN status IN ('running','pending') THEN position ELSE -id END")
        return [self._job(r) for r in rows]

    def get(self, job_id: int) -> Optional[Job]:
        row = self.db.query_one("SELECT * FROM jobs WHERE id=?", (job_id,))
        return self._job(row) if row else None

    def pending(self) -> list[Job]:
        return [self._job(r) for r in self.db.query(
            "SELECT * FROM jobs WHERE status='pending' ORDER BY position, id")]

    def next_pending(self) -> Optional[Job]:
        jobs = self.pending()
        return jobs[0] if jobs else None

    def running(self) -> list[Job]:
        return [self._job(r) for r in self.db.query("SELECT * FROM jobs WHERE status='running'")]

    # ---- changes -----------------------------------------------------------------
    def enqueue(self, *, character_id: Optional[int], character_name: str, preset: dict[str, Any],
                settings: dict[str, Any], finishing: Optional[dict[str, Any]] = None,
                retry_of: Optional[int] = None) -> Job:
        with self.db.transaction() as conn:
            top = conn.execute("SELECT COALESCE(MAX(position), 0) FROM jobs").fetchone()[0]
            cur = conn.execute(
                "INSERT INTO jobs (character_id, character_name, preset, settings, status, position, retry_of,"
                " created_at, finishing) VALUES (?,?,?,?,?,?,?,?,?)",
                (character_id, character_name, json.dumps(preset), json.dumps(settings), JobStatus.PENDING.value,
                 float(top) + 1.0, retry_of, time.time(), json.dumps(finishing or {})))
            job_id = int(cur.lastrowid)
        return self.get(job_id)  # type: ignore[return-value]

    def mark_running(self, job_id: int, output_dir: Path) -> None:
        with self.db.transaction() as conn:
            conn.execute("UPDATE jobs SET status='running', started_at=?, output_dir=?, phase='', progress=0,"
                         " message='', error_kind='', error_message='', traceback='' WHERE id=?",
                         (time.time(), str(output_dir), job_id))

    def set_progress(self, job_id: int, phase: str, progress: float, message: str = "") -> None:
        with self.db.transaction() as conn:
            conn.execute("UPDATE jobs SET phase=?, progress=?, message=? WHERE id=?",
                         (phase, float(progress), message, job_id))

    def finish(self, job_id: int, status: JobStatus, *, error_kind: str = "", error_message: str = "",
               traceback: str = "", message: str = "") -> None:
        with self.db.transaction() as conn:
            conn.execute("UPDATE jobs SET status=?, finished_at=?, error_kind=?, error_message=?, traceback=?,"
                         " message=?, progress=CASE WHEN ?='completed' THEN 1 ELSE progress END WHERE id=?",
                         (status.value, time.time(), error_kind, error_message, traceback, message,
                          status.value, job_id))

    def cancel_pending(self, job_ids: Optional[list[int]] = None) -> list[int]:
        """Cancel pending jobs only (all of them when job_ids is None); the running job is untouched."""
        with self.db.transaction() as conn:
            if job_ids is None:
                ids = [r[0] for r in conn.execute("SELECT id FROM jobs WHERE status='pending'")]
            else:
                ids = [r[0] for r in conn.execute(
                    f"SELECT id FROM jobs WHERE status='pending' AND id IN ({','.join('?' * len(job_ids))})",
                    tuple(job_ids))] if job_ids else []
            for job_id in ids:
                conn.execute("UPDATE jobs SET status='cancelled', finished_at=? WHERE id=?", (time.time(), job_id))
        return ids

    def retry(self, job_id: int, settings: Optional[dict[str, Any]] = None) -> Job:
        """A failed, cancelled, interrupted (or finished) job comes back as a new pending copy.

        `settings`: the settings to run it with (the app passes the current ones); default: the job's own.
        An unfinished job's copy resumes in the same folder, like `seal pack` rerun: the concept and
        every image already generated are reused, and its stickers move to the copy."""
        job = self.get(job_id)
        if job is None:
            raise InputError("That job no longer exists.")
        if not job.status.retryable:
            raise InputError(f"Job #{job_id} is {job.status.value}; only finished jobs can be retried.")
        base = settings if settings is not None else job.settings
        base = {k: v for k, v in base.items() if k not in ("concept_dir", "resume_dir")}  # the engine's cache decides
        if job.status is not JobStatus.COMPLETED and job.output_dir:
            base["resume_dir"] = job.output_dir
        copy = self.enqueue(character_id=job.character_id, character_name=job.character_name, preset=job.preset,
                            settings=base, finishing=job.finishing, retry_of=job.id)
        if "resume_dir" in base:
            self.move_results(job.id, copy.id)
        return copy

    def move_up(self, job_id: int) -> None:
        pending = self.pending()
        ids = [j.id for j in pending]
        if job_id not in ids:
            return
        i = ids.index(job_id)
        if i == 0:
            return
        a, b = pending[i - 1], pending[i]
        with self.db.transaction() as conn:
            conn.execute("UPDATE jobs SET position=? WHERE id=?", (b.position, a.id))
            conn.execute("UPDATE jobs SET position=? WHERE id=?", (a.position, b.id))
            if a.position == b.position:
                conn.execute("UPDATE jobs SET position=? WHERE id=?", (a.position - 0.5, b.id))

    def move_to_front(self, job_id: int) -> None:
        with self.db.transaction() as conn:
            low = conn.execute("SELECT COALESCE(MIN(position), 0) FROM jobs WHERE status='pending'").fetchone()[0]
            conn.execute("UPDATE jobs SET position=? WHERE id=? AND status='pending'", (float(low) - 1.0, job_id))

    def remove(self, job_id: int) -> Optional[Path]:
        """Delete a job that is not running (and its result rows); returns its output folder to remove."""
        job = self.get(job_id)
        if job is None:
            return None
        if job.status is JobStatus.RUNNING:
            raise InputError("Cancel the running job before removing it.")
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM jobs WHERE id=?", (job_id,))
        return Path(job.output_dir) if job.output_dir else None

    def recover_interrupted(self) -> list[int]:
        """Jobs left 'running' by a crash become 'interrupted' (called once at start-up)."""
        with self.db.transaction() as conn:
            ids = [r[0] for r in conn.execute("SELECT id FROM jobs WHERE status='running'")]
            for job_id in ids:
                conn.execute("UPDATE jobs SET status='interrupted', finished_at=?, message=? WHERE id=?",
                             (time.time(), "The app closed while this job was running; retry it.", job_id))
        return ids

    def set_setting(self, job_id: int, key: str, value: Any) -> None:
        job = self.get(job_id)
        if job is None:
            return
        settings = {**job.settings, key: value}
        with self.db.transaction() as conn:
            conn.execute("UPDATE jobs SET settings=? WHERE id=?", (json.dumps(settings), job_id))

    def set_finishing(self, job_id: int, finishing: dict[str, Any]) -> None:
        with self.db.transaction() as conn:
            conn.execute("UPDATE jobs SET finishing=? WHERE id=?", (json.dumps(finishing), job_id))

    # ---- results -----------------------------------------------------------------
    def add_result(self, job_id: int, *, item_index: int, variant: int, label: str, emoji: str, prompt: str,
                   seed: int, raw_path: Path, finished_path: Path, kept: bool = True) -> Result:
        """Insert, or update the row of the same (job, item, variant): a sticker streamed while the job ran
        is reported again, final, when it ends; a resumed job reports the stickers it reuses."""
        with self.db.transaction() as conn:
            row = conn.execute("SELECT id FROM results WHERE job_id=? AND item_index=? AND variant=?",
                               (job_id, item_index, variant)).fetchone()
            if row is not None:
                rid = int(row[0])
                conn.execute("UPDATE results SET label=?, emoji=?, prompt=?, seed=?, raw_path=?, finished_path=?,"
                             " kept=? WHERE id=?", (label, emoji, prompt, seed, str(raw_path), str(finished_path),
                                                     int(kept), rid))
            else:
                cur = conn.execute(
                    "INSERT INTO results (job_id, item_index, variant, label, emoji, prompt, seed, raw_path,"
                    " finished_path, kept, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    (job_id, item_index, variant, label, emoji, prompt, seed, str(raw_path), str(finished_path),
                     int(kept), time.time()))
                rid = int(cur.lastrowid)
        return self.result(rid)  # type: ignore[return-value]

    def move_results(self, from_job: int, to_job: int) -> int:
        """A resumed job takes over the stickers its earlier run already made (same folder)."""
        with self.db.transaction() as conn:
            return conn.execute("UPDATE results SET job_id=? WHERE job_id=?", (to_job, from_job)).rowcount

    def restore(self, job: Job, results: list[Result]) -> None:
        """Put back a removed job and its results with their ids (undo of Remove)."""
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO jobs (id, character_id, character_name, preset, settings, status, position, phase,"
                " progress, message, error_kind, error_message, traceback, output_dir, retry_of, created_at,"
                " started_at, finished_at, finishing) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (job.id, job.character_id, job.character_name, json.dumps(job.preset), json.dumps(job.settings),
                 job.status.value, job.position, job.phase, job.progress, job.message, job.error_kind,
                 job.error_message, job.traceback, job.output_dir, job.retry_of, job.created_at, job.started_at,
                 job.finished_at, json.dumps(job.finishing or {})))
            for r in results:
                conn.execute(
                    "INSERT INTO results (id, job_id, item_index, variant, label, emoji, prompt, seed, raw_path,"
                    " finished_path, kept, created_at, history) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (r.id, r.job_id, r.item_index, r.variant, r.label, r.emoji, r.prompt, r.seed, str(r.raw_path),
                     str(r.finished_path), int(r.kept), time.time(), json.dumps(r.history)))

    def jobs_using_folder(self, folder: str) -> list[int]:
        return [r[0] for r in self.db.query("SELECT id FROM jobs WHERE output_dir=?", (folder,))]

    @staticmethod
    def _result(r: Any) -> Result:
        return Result(r["id"], r["job_id"], r["item_index"], r["variant"], r["label"], r["emoji"], r["prompt"],
                      r["seed"], Path(r["raw_path"]), Path(r["finished_path"]), bool(r["kept"]),
                      json.loads(r["history"] or "[]"))

    def result(self, result_id: int) -> Optional[Result]:
        row = self.db.query_one("SELECT * FROM results WHERE id=?", (result_id,))
        return self._result(row) if row else None

    def results(self, job_id: int) -> list[Result]:
        return [self._result(r) for r in self.db.query(
            "SELECT * FROM results WHERE job_id=? ORDER BY item_index, variant, id", (job_id,))]

    def set_kept(self, result_id: int, kept: bool) -> None:
        with self.db.transaction() as conn:
            conn.execute("UPDATE results SET kept=? WHERE id=?", (int(kept), result_id))

    def replace_result(self, result_id: int, *, seed: int, raw_path: Path, finished_path: Path) -> None:
        """The regenerated version replaces the shown one; the previous one goes to the history (undo)."""
        current = self.result(result_id)
        history = list(current.history) if current else []
        if current is not None:
            history.append({"seed": current.seed, "raw_path": str(current.raw_path),
                            "finished_path": str(current.finished_path)})
        with self.db.transaction() as conn:
            conn.execute("UPDATE results SET seed=?, raw_path=?, finished_path=?, history=? WHERE id=?",
                         (seed, str(raw_path), str(finished_path), json.dumps(history), result_id))

    def revert_result(self, result_id: int) -> bool:
        """Back to the previous version of a regenerated sticker; False when there is none."""
        current = self.result(result_id)
        if current is None or not current.history:
            return False
        *rest, previous = current.history
        with self.db.transaction() as conn:
            conn.execute("UPDATE results SET seed=?, raw_path=?, finished_path=?, history=? WHERE id=?",
                         (int(previous["seed"]), previous["raw_path"], previous["finished_path"], json.dumps(rest),
                          result_id))
        return True

    def update_finished_path(self, result_id: int, finished_path: Path) -> None:
        with self.db.transaction() as conn:
            conn.execute("UPDATE results SET finished_path=? WHERE id=?", (str(finished_path), result_id))
