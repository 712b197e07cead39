"""Garbage made on the GUI thread is collected there even while a worker allocates heavily
(CI once segfaulted when a worker's model load collected a cycle holding Qt objects)."""

from __future__ import annotations

import gc
import threading

from seal_desktop import gui_thread_gc
from seal_desktop.worker import FunctionThread


class Cycle:
    def __init__(self, seen: list) -> None:
        self.me = self  # only the cyclic collector can free it
        self.seen = seen

    def __del__(self) -> None:
        self.seen.append(threading.current_thread().name)


def _allocate_like_a_model_load(progress, cancel):
    kept = [[i] for i in range(200_000)]  # crosses the gen-0 threshold hundreds of times
    return len(kept)


def test_cycles_made_on_the_gui_thread_are_collected_on_it_while_a_worker_runs(qtbot):
    main = threading.current_thread().name
    seen: list = []
    thread = FunctionThread(_allocate_like_a_model_load)
    gc.collect()  # start from empty generations, so nothing but the worker can cross a threshold
    for _ in range(50):
        Cycle(seen)
    with qtbot.waitSignal(thread.succeeded, timeout=30000):
        thread.start()
    thread.wait()
    qtbot.waitUntil(lambda: not gui_thread_gc.holding(), timeout=5000)
    assert gc.isenabled()
    gc.collect()  # whatever the worker's allocations did not free yet goes now, here
    assert len(seen) == 50 and set(seen) == {main}, f"collected on {set(seen)}"


def test_collection_stays_off_only_while_a_worker_runs(qtbot):
    assert gc.isenabled()
    release = threading.Event()
    states: list = []
    thread = FunctionThread(lambda progress, cancel: (states.append(gc.isenabled()), release.wait(10)))
    with qtbot.waitSignal(thread.succeeded, timeout=30000):
        thread.start()
        qtbot.waitUntil(lambda: bool(states), timeout=5000)
        release.set()
    thread.wait()
    assert states == [False]
    qtbot.waitUntil(lambda: gc.isenabled(), timeout=5000)
