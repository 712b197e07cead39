"""Filesystem errors as one sentence that names the path and says what to do.

A read-only mount, a folder without write permission or a full disk is the
user's to fix, not a bug: the output-side helpers (`atomic`, `staged_dir`) and
the CLI's top level turn every `OSError` into a `FileSystemError`, which the CLI
prints as one line with exit status 2 and the app shows in its error dialog.
"""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path
from typing import Iterator, Optional, Union

from .errors import InputError

PathLike = Union[str, os.PathLike]


class FileSystemError(InputError):
    """The disk refused a read or a write (permission, read-only, full, not a folder...)."""

    def __init__(self, message: str, *, errno_: Optional[int] = None, path: Optional[str] = None):
        super().__init__(message)
        self.errno = errno_
        self.path = path


def _advice(code: Optional[int], verb: str) -> str:
    if code in (errno.EROFS,):
        return "the disk is read-only; choose a folder on a writable disk"
    if code in (errno.EACCES, errno.EPERM):
        return ("permission denied; choose a folder you can write to or change its permissions" if verb == "write"
                else "permission denied; check the file's permissions")
    if code in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)):
        return "the disk is full; free some space or choose another disk, then run again"
    if code == errno.EISDIR:
        return "it is a folder; give a file name instead"
    if code == errno.ENOTDIR:
        return "part of the path is a file, not a folder; choose another path"
    if code == errno.ENOENT:
        return "a folder on the way does not exist; check the path"
    if code == errno.EEXIST:
        return "something already exists there; choose another path"
    if code == errno.ENAMETOOLONG:
        return "the name is too long; choose a shorter path"
    if code in (errno.ENOTEMPTY,):
        return "the folder is not empty; choose another path"
    if code in (errno.EMFILE, errno.ENFILE):
        return "too many files are open; close other programs and run again"
    if code == errno.EIO:
        return "the disk reported an input/output error; check the disk"
    return "check the path and the disk, then run again"


def describe_os_error(err: OSError, path: Optional[PathLike] = None, *, verb: str = "write") -> str:
    """One sentence: what could not be done to which path, why, and what to do."""
    where = path if path is not None else err.filename
    reason = _advice(err.errno, verb)
    if err.errno is None or reason.startswith("check the path"):
        detail = (err.strerror or type(err).__name__).rstrip(".")
        reason = f"{detail.lower()}; {reason}"
    if where is None:
        return f"A file could not be {'written' if verb == 'write' else 'read'}: {reason}."
    return f"Cannot {verb} {os.fsdecode(where)}: {reason}."


def translate(err: OSError, path: Optional[PathLike] = None, *, verb: str = "write") -> FileSystemError:
    where = path if path is not None else err.filename
    return FileSystemError(describe_os_error(err, path, verb=verb), errno_=err.errno,
                           path=os.fsdecode(where) if where is not None else None)


@contextlib.contextmanager
def writing(path: PathLike) -> Iterator[None]:
    """Turn an `OSError` raised inside the block into a `FileSystemError` naming `path`."""
    try:
        yield
    except FileSystemError:
        raise
    except OSError as err:
        raise translate(err, err.filename or path) from None


def check_output_folder(path: PathLike, *, what: str = "output folder") -> None:
    """Refuse, before any work, an output folder path that is an existing file."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise InputError(f"{p} is a file, not a folder; give a folder as the {what}.")


def check_output_file(path: PathLike) -> None:
    """Refuse, before any work, an output file path that is an existing folder."""
    p = Path(path)
    if p.is_dir():
        raise InputError(f"{p} is a folder; give the name of the file to write (for example {p / 'mask.png'}).")


def read_small_file(path: PathLike, *, what: str, max_bytes: int = 16 * 1024 * 1024) -> bytes:
    """A settings-sized file (JSON map, preset): refuse pipes and devices (a read would hang or never
    end) and anything over `max_bytes`, before and while reading."""
    import stat

    p = Path(path)
    try:
        st = p.stat()
        if not stat.S_ISREG(st.st_mode):
            kind = "a folder" if stat.S_ISDIR(st.st_mode) else "not a regular file (a pipe, socket or device)"
            raise InputError(f"{what} {p} is {kind}; give a file.")
        if st.st_size > max_bytes:
            raise InputError(f"{what} {p} is {st.st_size:,} bytes, more than the limit of {max_bytes:,}.")
        with open(p, "rb") as fh:
            data = fh.read(max_bytes + 1)
    except FileNotFoundError:
        raise InputError(f"{what} {p} does not exist.") from None
    except OSError as err:
        raise translate(err, p, verb="read") from None
    if len(data) > max_bytes:
        raise InputError(f"{what} {p} is more than the limit of {max_bytes:,} bytes.")
    return data


def refuse_special_file(path: PathLike, *, what: str) -> None:
    """If `path` exists, it must be a regular file (a FIFO given as input would hang the read)."""
    import stat

    p = Path(path)
    try:
        st = p.stat()
    except OSError:
        return  # missing: the reader says so in its own words
    if not stat.S_ISREG(st.st_mode) and not stat.S_ISDIR(st.st_mode):
        raise InputError(f"{what} {p} is not a regular file (a pipe, socket or device); give a file.")


__all__ = ["read_small_file", "refuse_special_file", "FileSystemError", "describe_os_error", "translate", "writing", "check_output_folder",
           "check_output_file"]
