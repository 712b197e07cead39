"""A whole job on a tiny model: queue -> learn -> generate -> results -> WhatsApp pack that validates."""

from __future__ import annotations

from PySide6.QtCore import Qt

from seal_desktop.store.jobs import JobStatus

from .conftest import DATA, TINY_PERSONALIZE

PRESET = {"name": "Three", "items": [
    {"label": "Happy", "emoji": "😀", "attributes": {"emotion": "happy"}},
    {"label": "Sad", "emoji": "😢", "attributes": {"emotion": "sad"}},
    {"label": "Waving", "emoji": "👋", "attributes": {"action": "waving"}},
]}


def test_job_from_queue_to_results_to_valid_whatsapp_pack(make_window, qtbot, tiny_model, seeded_concepts):
    from seal_engine.export import validate_pack

    window = make_window()
    q = window.controller
    c = window.add_files([DATA / "seal-transparent.png"])[0]
    phases = set()
    q.progress.connect(lambda jid, p: phases.add(p["phase"]))
    with qtbot.waitSignal(q.jobFinished, timeout=240000) as done:
        job = q.enqueue(c, PRESET, model=str(tiny_model), steps=2, variants=2, schedule="fast",
                        personalize=TINY_PERSONALIZE)
    assert done.args == [job.id, "completed"], window.ctx.jobs.get(job.id).error_message
    assert {"personalize", "generate", "finish"} <= phases
    stored = window.ctx.jobs.get(job.id)
    assert stored.status is JobStatus.COMPLETED and stored.progress == 1.0

    results = window.ctx.jobs.results(job.id)
    assert len(results) == 6  # 3 items x 2 variants
    assert sum(r.kept for r in results) == 3  # the chosen variant of each item
    assert all(r.finished_path.is_file() and r.raw_path.is_file() for r in results)
    character = window.ctx.characters.get(c.id)
    assert len(character.concepts) == 1 and (character.concepts[0].path / "concept.json").is_file()

    window.show_results(job.id)
    assert window.results.grid.count() == 6
    checked = [window.results.grid.item(i).checkState() == Qt.CheckState.Checked
               for i in range(window.results.grid.count())]
    assert sum(checked) == 3

    dialog = window.open_export(job.id)
    assert [dialog.table.item(i, 2).text() for i in range(dialog.table.rowCount())] == ["😀", "😢", "👋"]
    dialog.table.item(0, 2).setText("🥳")
    for key, box in dialog.checks.items():
        box.setChecked(key == "whatsapp")
    thread = dialog.start_export()
    with qtbot.waitSignal(thread.finished, timeout=60000):
        pass
    qtbot.waitUntil(lambda: bool(dialog.reports), timeout=10000)
    report = dialog.reports[0]
    assert report.platform == "whatsapp" and report.ok, (report.error, report.violations)
    assert validate_pack(report.pack_dir, "whatsapp") == []
    assert "valid pack" in dialog.report.toPlainText()
    import json

    manifest = json.loads((report.pack_dir / "pack.json").read_text(encoding="utf-8"))
    assert manifest["stickers"][0]["emojis"][0] == "🥳"
    dialog.close()


def test_regenerate_one_sticker_with_a_new_seed(make_window, qtbot, tiny_model, seeded_concepts):
    window = make_window()
    q = window.controller
    c = window.add_files([DATA / "seal-transparent.png"])[0]
    with qtbot.waitSignal(q.jobFinished, timeout=240000):
        job = q.enqueue(c, {**PRESET, "items": PRESET["items"][:1]}, model=str(tiny_model), steps=2, variants=1,
                        schedule="fast", personalize=TINY_PERSONALIZE)
    before = window.ctx.jobs.results(job.id)[0]
    with qtbot.waitSignal(q.resultsChanged, timeout=120000):
        q.regenerate(before.id, seed=4242)
    after = window.ctx.jobs.result(before.id)
    assert after.seed == 4242 and after.finished_path != before.finished_path and after.finished_path.is_file()
    assert after.prompt == before.prompt
    window.queue.refresh()
    text = window.queue.list.item(0).text()
    assert text.endswith("completed") and "Generating" not in text  # a regenerate is not the job running again
    assert window.controller.undo().startswith("Regenerate")  # and it can be undone
    assert window.ctx.jobs.result(before.id).finished_path == before.finished_path and before.finished_path.is_file()


def test_a_failing_job_shows_a_copyable_error(make_window, qtbot, tmp_path):
    window = make_window()
    q = window.controller
    c = window.add_files([DATA / "seal-transparent.png"])[0]
    missing = tmp_path / "no-such-model"
    with qtbot.waitSignal(q.jobFinished, timeout=60000) as done:
        job = q.enqueue(c, PRESET, model=str(missing), steps=2, variants=1)
    assert done.args == [job.id, "failed"]
    stored = window.ctx.jobs.get(job.id)
    assert stored.error_kind == "input" and "no-such-model" in stored.error_message
    assert "no-such-model" in window.error_boxes[-1].text()
