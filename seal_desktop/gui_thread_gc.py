"""Python's cyclic garbage collection on the GUI thread only, while worker threads run.

The cyclic collector runs on whichever thread crosses an allocation threshold. While a
worker loads a model it allocates far more than the GUI does, so the worker usually
collects, and a cycle holding a Qt object (a widget from a closed dialog, a finished
QThread's wrapper) is then destroyed off the GUI thread. Qt forbids that, and CI saw the
process die with a segmentation fault in a worker's `from_pretrained`, "Garbage-collecting".

So while any `GuiCollectedThread` runs, automatic collection is off and a timer on the GUI
thread runs the generations that the thresholds ask for (pyqtgraph's answer to the same
crash). Once the last worker has finished, automatic collection is back as it was.
Hand-written: neither Qt nor the standard library offers a thread-affine collector.
"""

from __future__ import annotations

import gc
import weakref
from typing import Optional

from PySide6.QtCore import QObject, QThread, QTimer, Slot

CHECK_INTERVAL_MS = 250


class _Collector(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.threads: set = set()
        self.connected: "weakref.WeakSet[QThread]" = weakref.WeakSet()
        self.enable_after = False
        self.timer = QTimer(self)
        self.timer.setInterval(CHECK_INTERVAL_MS)
        self.timer.timeout.connect(self.tick)

    def hold(self, thread: QThread) -> None:
        if not self.threads:
            self.enable_after = gc.isenabled()
            gc.disable()
            self.timer.start()
        self.threads.add(thread)
        if thread not in self.connected:  # a worker may be started again after it stopped
            self.connected.add(thread)
            thread.finished.connect(self.forget_finished)  # queued: emitted on the worker, runs here

    @Slot()
    def tick(self) -> None:
        collect_due()
        self.forget_finished()

    @Slot()
    def forget_finished(self) -> None:
        self.threads = {t for t in self.threads if _running(t)}
        if not self.threads and self.timer.isActive():
            self.timer.stop()
            collect_due()
            if self.enable_after:
                gc.enable()


_collector: Optional[_Collector] = None


def _running(thread: QThread) -> bool:
    try:
        return thread.isRunning()
    except RuntimeError:  # the C++ object is gone: it is not running
        return False


def collect_due() -> int:
    """Run the generations whose counts passed their thresholds, oldest that is due first."""
    counts, thresholds = gc.get_count(), gc.get_threshold()
    for generation in (2, 1, 0):
        if thresholds[generation] and counts[generation] > thresholds[generation]:
            return gc.collect(generation)
    return 0


def hold(thread: QThread) -> None:
    """Call on the GUI thread just before `thread` starts."""
    global _collector
    if _collector is None:
        _collector = _Collector()
    _collector.hold(thread)


def forget_finished() -> None:
    """After joining threads (shutdown, tests): give collection back without waiting for the timer."""
    if _collector is not None:
        _collector.forget_finished()


def holding() -> bool:
    return _collector is not None and bool(_collector.threads)


class GuiCollectedThread(QThread):
    """A QThread during whose run no garbage collection happens on it."""

    def start(self, *args) -> None:  # noqa: D401 - QThread API
        hold(self)
        super().start(*args)
