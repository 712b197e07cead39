"""The persistent queue: ordering, restart with an interrupted job, cancelling the right job."""

from __future__ import annotations

from seal_desktop.store.jobs import JobStatus

from .conftest import DATA, TINY_PERSONALIZE

PRESET = {"name": "Three", "items": [
    {"label": "Happy", "emoji": "😀", "attributes": {"emotion": "happy"}},
    {"label": "Sad", "emoji": "😢", "attributes": {"emotion": "sad"}},
    {"label": "Waving", "emoji": "👋", "attributes": {"action": "waving"}},
]}


def test_queue_and_library_survive_restart_and_interrupted_job_can_be_retried(make_window):
    first = make_window(start_queue=False)
    c = first.add_files([DATA / "seal-transparent.png"])[0]
    a = first.controller.enqueue(c, PRESET, model="org/model", steps=3)
    b = first.controller.enqueue(c, PRESET, model="org/model", steps=4)
    first.ctx.jobs.mark_running(a.id, first.ctx.settings.output_root() / "job-a")  # as if it was running...
    first.shutdown()  # ...when the app died
    first.controller.current_job = None

    second = make_window(start_queue=False)
    jobs = {j.id: j for j in second.ctx.jobs.all()}
    assert jobs[a.id].status is JobStatus.INTERRUPTED
    assert jobs[b.id].status is JobStatus.PENDING and jobs[b.id].settings["steps"] == 4
    assert second.controller.interrupted == [a.id]
    assert second.queue.list.count() == 2
    assert [ch.name for ch in second.ctx.characters.all()] == ["seal transparent"]
    copy = second.controller.retry(a.id)
    assert copy.status is JobStatus.PENDING and copy.retry_of == a.id and copy.preset == PRESET


def test_reorder_cancel_pending_and_remove(make_window):
    window = make_window(start_queue=False)
    c = window.add_files([DATA / "seal-transparent.png"])[0]
    q = window.controller
    ids = [q.enqueue(c, PRESET, model="org/model").id for _ in range(3)]
    q.move_up(ids[2])
    assert [j.id for j in window.ctx.jobs.pending()] == [ids[0], ids[2], ids[1]]
    q.move_to_front(ids[1])
    assert [j.id for j in window.ctx.jobs.pending()] == [ids[1], ids[0], ids[2]]
    q.cancel(ids[0])
    assert window.ctx.jobs.get(ids[0]).status is JobStatus.CANCELLED
    q.remove(ids[0])
    assert window.ctx.jobs.get(ids[0]) is None
    assert q.cancel_pending() == [ids[1], ids[2]] or set(q.cancel_pending()) <= set(ids)


def test_cancelling_a_pending_job_leaves_the_running_one_running(make_window, qtbot, tiny_model, seeded_concepts):
    window = make_window()
    q = window.controller
    c = window.add_files([DATA / "seal-transparent.png"])[0]
    long_job = q.enqueue(c, PRESET, model=str(tiny_model), steps=60, variants=4, schedule="fast",
                         personalize=TINY_PERSONALIZE)
    waiting = q.enqueue(c, PRESET, model=str(tiny_model), steps=2, variants=1, schedule="fast",
                        personalize=TINY_PERSONALIZE)
    assert q.current_job == long_job.id
    with qtbot.waitSignal(q.progress, timeout=60000, check_params_cb=lambda jid, p: p["phase"] == "generate"
                          and p["step"] >= 1):
        pass  # the long job is generating
    q.cancel(waiting.id)
    assert window.ctx.jobs.get(waiting.id).status is JobStatus.CANCELLED
    with qtbot.waitSignal(q.progress, timeout=60000, check_params_cb=lambda jid, p: jid == long_job.id
                          and p["step"] >= 2):
        pass  # and it keeps making progress
    assert q.current_job == long_job.id
    assert window.ctx.jobs.get(long_job.id).status is JobStatus.RUNNING
    with qtbot.waitSignal(q.jobFinished, timeout=60000) as finished:
        q.cancel(long_job.id)
    assert finished.args == [long_job.id, "cancelled"]
    assert window.ctx.jobs.get(long_job.id).status is JobStatus.CANCELLED
    assert window.ctx.jobs.get(waiting.id).status is JobStatus.CANCELLED  # never started
    assert q.current_job is None


def test_closing_while_a_job_runs_asks_then_cancels(make_window, qtbot, tiny_model, seeded_concepts):
    window = make_window()
    q = window.controller
    c = window.add_files([DATA / "seal-transparent.png"])[0]
    job = q.enqueue(c, PRESET, model=str(tiny_model), steps=400, variants=4, schedule="fast",
                    personalize=TINY_PERSONALIZE)
    asked = []
    window.confirm_close = lambda: asked.append(True) or False  # "No": stay open
    window.close()
    assert asked and window.isVisible() and q.current_job == job.id
    window.confirm_close = lambda: True
    window.close()
    assert not window.isVisible()
    assert not q.worker.isRunning()
    assert window.ctx.jobs.get(job.id).status is JobStatus.CANCELLED


def test_warm_up_runs_on_the_worker_thread_once_and_a_job_queued_meanwhile_still_runs(
        make_window, qtbot, tiny_model, seeded_concepts, monkeypatch):
    import threading

    import seal_engine.warmup as warmup

    monkeypatch.delenv("SEAL_NO_WARMUP", raising=False)
    threads = []
    original = warmup.import_engine
    monkeypatch.setattr(warmup, "import_engine", lambda: threads.append(threading.get_ident()) or original())
    window = make_window()
    q = window.controller
    c = window.add_files([DATA / "seal-transparent.png"])[0]
    with qtbot.waitSignal(q.jobFinished, timeout=120000) as finished:
        q.warm_up()
        assert q.warming and "preparing the engine" in window.status_label.text()
        q.warm_up()  # a second call while warming does nothing
        q.enqueue(c, PRESET, model=str(tiny_model), steps=2, variants=1, schedule="fast",
                  personalize=TINY_PERSONALIZE)
    assert finished.args[1] == "completed"
    assert q.warmup_seconds is not None and q.warmup_seconds >= 0
    assert len(threads) == 1 and threads[0] != threading.get_ident()
    assert not q.warming and "preparing the engine" not in window.status_label.text()
    q.warm_up()  # already warm: nothing more is submitted
    assert len(threads) == 1
