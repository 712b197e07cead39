"""Typed errors shared by the engine, the CLI and the app.

Every error a user can cause is a `SealError` whose message is one clear
sentence saying what went wrong and what to do; the CLI prints it on stderr and
exits with status 2, the app shows it in a copyable dialog. Anything else is a
bug and keeps its traceback.
"""

from __future__ import annotations

import enum


class ErrorKind(enum.Enum):
    INPUT = "input"  # a bad file, option or value given by the user
    MODEL = "model"  # model missing, unknown, unsupported or unsafe
    OFFLINE = "offline"  # needs the network and the cache does not have it
    OUT_OF_MEMORY = "out_of_memory"
    CANCELLED = "cancelled"
    EXPORT = "export"  # a pack cannot be made to follow the platform rules
    VALIDATION = "validation"


class SealError(Exception):
    """Base of every error a user can cause; `str(err)` is the one-line message."""

    kind: ErrorKind = ErrorKind.INPUT

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:  # one line, always
        return " ".join(self.message.split())


class InputError(SealError):
    """A file, option or value the user gave cannot be used."""

    kind = ErrorKind.INPUT


class ImageError(InputError):
    """An image file was refused at intake (empty, truncated, not an image, too big...)."""


class ModelError(SealError):
    """The model cannot be found, loaded or trusted."""

    kind = ErrorKind.MODEL


class OfflineError(ModelError):
    """The model is not cached and the hub cannot be reached."""

    kind = ErrorKind.OFFLINE


class OutOfMemoryError(SealError):
    """The device ran out of memory; the message lists the low-VRAM options to try."""

    kind = ErrorKind.OUT_OF_MEMORY


class Cancelled(SealError):
    """The user cancelled the run; nothing partial was left behind."""

    kind = ErrorKind.CANCELLED

    def __init__(self, message: str = "Cancelled by the user."):
        super().__init__(message)


class ExportError(SealError):
    """A pack cannot be written so that the platform accepts it."""

    kind = ErrorKind.EXPORT


class ValidationError(SealError):
    """A written pack breaks one or more platform rules."""

    kind = ErrorKind.VALIDATION

    def __init__(self, message: str, violations: list[str] | None = None):
        super().__init__(message)
        self.violations = list(violations or [])


class TrainingDiverged(SealError):
    """A loss became NaN or infinite during personalization; nothing was saved."""

    kind = ErrorKind.INPUT
