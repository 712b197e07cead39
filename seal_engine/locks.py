"""Inter-process locks: one run at a time per learned concept and per output folder.

Two `seal pack` runs (or two app instances) learning the same character at once
used to both train and then collide on the concept folder; two runs writing one
`-o` folder interleaved their packs. A second run now waits for the first (it
says so through the progress callback), then reuses what the first one made.

The lock files live under `seal_home()/locks`, never in the user's folders, and
use `filelock` (an OS advisory lock: released by the kernel when a process dies,
so a `kill -9` never leaves a run blocked).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path
from typing import Iterator, Optional

from .progress import CancelToken, ProgressCallback, ProgressEvent, no_progress

POLL_S = 0.25


def locks_dir() -> Path:
    from .paths import seal_home

    return seal_home() / "locks"


def _lock_file(kind: str, key: str) -> Path:
    safe = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:24]
    return locks_dir() / f"{kind}-{safe}.lock"


def concept_lock_path(key: str) -> Path:
    return _lock_file("concept", key)


def output_lock_path(folder: Path) -> Path:
    return _lock_file("output", os.path.normcase(str(Path(folder).expanduser().resolve())))


@contextlib.contextmanager
def hold(path: Path, *, waiting: str, phase: str = "wait", progress: ProgressCallback = no_progress,
         cancel: Optional[CancelToken] = None) -> Iterator[None]:
    """Hold the lock at `path`; when another process holds it, report `waiting` once and wait (cancellable)."""
    from filelock import FileLock, Timeout

    from .fs_errors import writing

    path = Path(path)
    with writing(path.parent):
        path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(path))
    with writing(path):
        try:
            lock.acquire(timeout=0)
        except Timeout:
            progress(ProgressEvent(phase, 0, 0, message=waiting))
            while True:
                if cancel is not None:
                    cancel.raise_if_cancelled()
                try:
                    lock.acquire(timeout=POLL_S)
                    break
                except Timeout:
                    continue
    try:
        yield
    finally:
        lock.release()


def concept_lock(key: str, **kw) -> contextlib.AbstractContextManager:
    return hold(concept_lock_path(key), waiting="Another run is learning the same character; waiting for it "
                "to finish, then its concept is reused.", **kw)


def output_lock(folder: Path, **kw) -> contextlib.AbstractContextManager:
    return hold(output_lock_path(folder), waiting=f"Another run is writing {folder}; waiting for it to finish.",
                **kw)


__all__ = ["locks_dir", "concept_lock", "output_lock", "concept_lock_path", "output_lock_path", "hold"]
