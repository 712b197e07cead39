"""One app per data folder (issue 16): a second `seal-desktop` must not touch the first one's running job."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from seal_desktop import app as desktop_app
from seal_desktop import single_instance
from seal_desktop.single_instance import SingleInstance


@pytest.fixture
def first(seal_home, qapp):
    instance = SingleInstance(seal_home)
    assert instance.acquire()
    yield instance
    instance.release()


@pytest.fixture
def no_window(monkeypatch):
    """A second instance must stop before the library, the first-run wizard or a window opens."""
    def refuse(*a, **k):
        raise AssertionError("the second instance went on to open the library")

    monkeypatch.setattr("seal_desktop.ui.main_window.MainWindow", refuse)
    monkeypatch.setattr("seal_desktop.first_run.run_first_run_if_needed", refuse)
    monkeypatch.setattr("seal_desktop.controller.AppContext.open", refuse)


def test_second_instance_leaves_the_running_job_alone_and_activates_the_first(first, seal_home, qtbot,
                                                                                monkeypatch, no_window):
    from seal_desktop.store.db import open_database
    from seal_desktop.store.jobs import JobStatus, JobStore
    from seal_engine.paths import database_path

    jobs = JobStore(open_database(database_path()))
    job = jobs.enqueue(character_id=None, character_name="seal", preset={"name": "p", "items": []}, settings={})
    jobs.mark_running(job.id, seal_home / "job-1")
    told = []
    monkeypatch.setattr(single_instance, "tell_already_running", lambda home, activated: told.append(activated))

    with qtbot.waitSignal(first.activated, timeout=5000):
        assert desktop_app.main([]) == 0
    assert told == [True]
    assert jobs.get(job.id).status is JobStatus.RUNNING  # not marked interrupted by the newcomer


def test_the_lock_is_free_again_after_release(seal_home, qapp):
    a = SingleInstance(seal_home)
    assert a.acquire()
    b = SingleInstance(seal_home)
    assert not b.acquire()
    a.release()
    assert b.acquire()
    b.release()


def test_other_data_folders_are_independent(seal_home, tmp_path, qapp):
    a, b = SingleInstance(seal_home), SingleInstance(tmp_path / "other-home")
    assert a.acquire() and b.acquire()
    assert a.name != b.name
    a.release()
    b.release()


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs kill -9")
def test_a_killed_instance_does_not_block_the_next_start(seal_home, qapp):
    seal_home.mkdir(parents=True, exist_ok=True)
    lock = seal_home / single_instance.LOCK_NAME
    script = (f"import time\nfrom filelock import FileLock\nheld = FileLock({str(lock)!r})\nheld.acquire()\n"
              f"print('held', flush=True)\ntime.sleep(120)")
    holder = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert not SingleInstance(seal_home).acquire()
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
    again = SingleInstance(seal_home)
    assert again.acquire()
    again.release()
