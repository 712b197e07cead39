"""Progress events and cancellation, shared by every long-running engine call.

The engine never knows who listens: the CLI draws a bar, the app marshals the
event onto the GUI thread. A `CancelToken` is a `threading.Event` the loops poll
once per step (the InvokeAI/OneTrainer pattern), so a cancel lands within a step.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from .errors import Cancelled


@dataclass
class ProgressEvent:
    phase: str  # e.g. "download", "load", "embeddings", "lora", "generate", "finish", "export"
    step: int
    total: int
    losses: dict[str, float] = field(default_factory=dict)
    eta_s: Optional[float] = None
    message: str = ""
    preview: Any = None  # a PIL image, when the caller asked for previews
    path: Any = None  # file(s) this step just wrote or reused (generated images), so a listener can show them now

    @property
    def fraction(self) -> float:
        return 0.0 if self.total <= 0 else min(1.0, self.step / self.total)


ProgressCallback = Callable[[ProgressEvent], None]


def no_progress(_event: ProgressEvent) -> None:
    """Default callback: drop events."""


class CancelToken:
    """Thread-safe cancel flag checked by engine loops at every step."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled()


class EtaClock:
    """Estimates the remaining time of a loop from the mean time per finished step."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.start = time.perf_counter()

    def eta(self, done: int) -> Optional[float]:
        if done <= 0:
            return None
        elapsed = time.perf_counter() - self.start
        return elapsed / done * max(0, self.total - done)
