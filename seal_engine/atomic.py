"""Atomic writes: a crash, a kill or a cancel never leaves a half-written file or folder.

Files are written under a temporary name in the same folder and renamed into
place (`os.replace` is atomic on one filesystem). Folders (concepts, packs) are
assembled in a hidden sibling and renamed into place only when complete.

Robustness rules kept here so that every writer gets them:

* `--overwrite` replaces only a folder this tool wrote: one that carries one of
  our marker files (`pack.json`, `concept.json`, `job.json`), or an empty one.
  A user's own folder is refused with one sentence, never deleted.
* Temporary names carry the writer's process id; the next run in the same
  folder removes those whose process is dead (a `kill -9` or a power cut
  leaves no hidden staging folder behind for good).
* Every `OSError` on the way out becomes a `FileSystemError` naming the path.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterable, Iterator

from .errors import InputError
from .fs_errors import FileSystemError, translate

TOOL_MARKERS = ("pack.json", "concept.json", "job.json")
"""A folder holding one of these was written by SEAL; only such a folder may be replaced."""

def _read_umask() -> int:
    """The process umask. mkstemp/mkdtemp create 0600/0700 entries (private temp files); a file or
    pack renamed into place must get the mode any other new file would, or a pack exported to a
    shared folder is unreadable to everyone else. Linux reports the umask in /proc; elsewhere it is
    read by setting and restoring it (once, at import)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()
FILE_MODE = 0o666 & ~_UMASK
DIR_MODE = 0o777 & ~_UMASK

_STALE_RE = re.compile(r"^\..+\.(?:staging|old)-(\d+)-[^/]*$|^\..+\.(\d+)\.[^.]+\.tmp$")


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path = Path(path)
    if path.is_dir():
        raise FileSystemError(f"{path} is a folder; give the name of the file to write.", path=str(path))
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
        try:  # a replaced file keeps its mode; a new one gets the umask's
            mode = path.stat().st_mode & 0o7777
        except OSError:
            mode = FILE_MODE
        os.chmod(tmp, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        if isinstance(err, OSError) and not isinstance(err, FileSystemError):
            raise translate(err, path) from None
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=False) + "\n")


def atomic_save_image(image: Any, path: Path, **save_kwargs: Any) -> None:
    """Save a PIL image atomically; the format follows the suffix unless given."""
    import io

    path = Path(path)
    buf = io.BytesIO()
    fmt = save_kwargs.pop("format", None) or _format_for(path)
    image.save(buf, format=fmt, **save_kwargs)
    atomic_write_bytes(path, buf.getvalue())


def _format_for(path: Path) -> str:
    return {".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}.get(path.suffix.lower(), "PNG")


def is_tool_folder(folder: Path, markers: Iterable[str] = TOOL_MARKERS) -> bool:
    folder = Path(folder)
    return folder.is_dir() and any((folder / m).is_file() for m in markers)


def check_replaceable(final: Path, *, overwrite: bool, markers: Iterable[str] = TOOL_MARKERS,
                      flag: str = "--overwrite") -> None:
    """Refuse early (before any work) what `staged_dir(final, overwrite=...)` would refuse."""
    final = Path(final)
    if not (final.exists() or final.is_symlink()):
        return
    if not overwrite:
        raise InputError(f"{final} already exists; choose another output folder or pass {flag}.")
    markers = tuple(markers)
    if final.is_symlink() or not final.is_dir():
        raise InputError(f"{final} is not a folder written by SEAL; {flag} only replaces such folders, "
                         f"so choose another output path.")
    if not is_tool_folder(final, markers) and not _is_empty_dir(final):  # an empty folder holds nothing to lose
        names = ", ".join(markers[:-1]) + f" or {markers[-1]}" if len(markers) > 1 else markers[0]
        raise InputError(f"{final} was not written by SEAL (it has no {names}); {flag} only replaces folders "
                         f"this tool wrote, so your files were kept; choose another output folder.")


def _is_empty_dir(folder: Path) -> bool:
    try:
        return not any(os.scandir(folder))
    except OSError:
        return False


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists (unknown counts as alive: never sweep a live run's files)."""
    if pid <= 0:
        return True
    if pid == os.getpid():
        return True
    if os.name == "nt":  # os.kill(pid, 0) would terminate the process on Windows
        import ctypes

        kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
        handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return ctypes.GetLastError() == 5  # access denied: it exists
        try:
            code = ctypes.c_ulong()
            kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
            return code.value == 259  # STILL_ACTIVE
        finally:
            kernel32.CloseHandle(handle)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def sweep_stale(folder: Path) -> list[Path]:
    """Remove hidden staging folders and temporary files left in `folder` by dead processes."""
    folder = Path(folder)
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        m = _STALE_RE.match(entry.name)
        if not m:
            continue
        pid = int(m.group(1) or m.group(2))
        if pid_alive(pid):
            continue
        path = Path(entry.path)
        try:
            if ".old-" in entry.name and entry.is_dir(follow_symlinks=False):
                # killed between moving the old folder aside and moving the new one in: put the old one back
                name = entry.name[1:entry.name.rindex(".old-")]
                if not (folder / name).exists() and (path / name).is_dir():
                    os.replace(path / name, folder / name)
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(path)
            else:
                path.unlink()
            removed.append(path)
        except OSError:
            pass  # someone else swept it, or we may not: harmless
    return removed


@contextlib.contextmanager
def staged_dir(final: Path, *, overwrite: bool = False, markers: Iterable[str] = TOOL_MARKERS) -> Iterator[Path]:
    """Yield an empty hidden sibling folder; rename it to `final` on success.

    On any exception (a cancel included) the staging folder is removed and
    `final` is untouched. With `overwrite`, an existing `final` is replaced only
    after the new one is complete, and only if it carries one of `markers`
    (a folder this tool wrote); anything else is refused before any work.
    """
    final = Path(final)
    markers = tuple(markers)
    check_replaceable(final, overwrite=overwrite, markers=markers)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        sweep_stale(final.parent)
        stage = Path(tempfile.mkdtemp(prefix=f".{final.name}.staging-{os.getpid()}-", dir=final.parent))
        os.chmod(stage, DIR_MODE)  # mkdtemp's 0700 would make the finished folder private
    except OSError as err:
        raise translate(err, final.parent) from None
    try:
        yield stage
        check_replaceable(final, overwrite=overwrite, markers=markers)  # it may have appeared meanwhile
        if final.exists():
            trash = Path(tempfile.mkdtemp(prefix=f".{final.name}.old-{os.getpid()}-", dir=final.parent))
            os.replace(final, trash / final.name)
            os.replace(stage, final)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.replace(stage, final)
    except BaseException as err:
        shutil.rmtree(stage, ignore_errors=True)
        if isinstance(err, OSError) and not isinstance(err, FileSystemError):
            name = err.filename
            inside = name is None or str(os.fsdecode(name)).startswith(str(stage)) \
                or str(os.fsdecode(name)).startswith(str(final))
            if inside:
                raise translate(err, final) from None
        raise
