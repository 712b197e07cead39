"""Stickers reach the gallery while the job runs; a cancelled job keeps them and its learned concept;
Retry resumes in the same folder with the settings as they are now (and says what changed)."""

from __future__ import annotations

import dataclasses
import json

from seal_desktop.store.jobs import JobStatus

from .conftest import DATA, TINY_PERSONALIZE

PRESET = {"name": "Three", "items": [
    {"label": "Happy", "emoji": "😀", "attributes": {"emotion": "happy"}},
    {"label": "Sad", "emoji": "😢", "attributes": {"emotion": "sad"}},
    {"label": "Waving", "emoji": "👋", "attributes": {"action": "waving"}},
]}


def test_a_sticker_reaches_the_gallery_before_the_job_ends(make_window, qtbot, tiny_model, seeded_concepts):
    window = make_window()
    q = window.controller
    c = window.add_files([DATA / "seal-transparent.png"])[0]
    seen_while_running = []
    gallery = window.results
    original_refresh = gallery.refresh

    def refresh() -> None:  # what the gallery shows each time it redraws while the job still runs
        original_refresh()
        if gallery.job_id is not None and window.ctx.jobs.get(gallery.job_id).status is JobStatus.RUNNING:
            seen_while_running.append(gallery.grid.count())

    gallery._refresh_timer.timeout.disconnect()
    gallery._refresh_timer.timeout.connect(refresh)
    with qtbot.waitSignal(q.jobFinished, timeout=240000) as done:
        job = q.enqueue(c, PRESET, model=str(tiny_model), steps=4, variants=2, schedule="fast",
                        personalize=TINY_PERSONALIZE)
        window.show_results(job.id)
    assert done.args == [job.id, "completed"], window.ctx.jobs.get(job.id).error_message
    assert seen_while_running and max(seen_while_running) >= 1  # in the gallery while the job ran
    results = window.ctx.jobs.results(job.id)
    assert len(results) == 6 and sum(r.kept for r in results) == 3  # streamed rows updated, not duplicated
    gallery.flush()
    assert gallery.grid.count() == 6
    assert all(r.finished_path.is_file() for r in results)
    assert "finished" in window.last_notification and "6 sticker" in window.last_notification


def test_cancelled_job_keeps_its_stickers_and_retry_resumes_in_the_same_folder(make_window, qtbot, tiny_model,
                                                                                seeded_concepts):
    window = make_window()
    q = window.controller
    c = window.add_files([DATA / "seal-transparent.png"])[0]
    with qtbot.waitSignal(q.resultsChanged, timeout=240000):
        job = q.enqueue(c, PRESET, model=str(tiny_model), steps=2, variants=4, schedule="fast",
                        personalize=TINY_PERSONALIZE)
    listed = window.ctx.characters.get(c.id).concepts  # saved before the first sticker: listed while it generates
    assert len(listed) == 1 and (listed[0].path / "concept.json").is_file()
    assert window.character.concepts.topLevelItemCount() == 1
    assert window.character.concepts.topLevelItem(0).text(0) != "none yet — learned by the first job"
    with qtbot.waitSignal(q.jobFinished, timeout=60000) as done:
        q.cancel(job.id)
    assert done.args == [job.id, "cancelled"]
    assert [k.path for k in window.ctx.characters.get(c.id).concepts] == [listed[0].path]  # kept after the cancel
    stored = window.ctx.jobs.get(job.id)
    kept = window.ctx.jobs.results(job.id)
    assert 1 <= len(kept) < 12 and all(r.finished_path.is_file() for r in kept)
    assert stored.progress > 0  # saved while it ran: not "0%"

    with qtbot.waitSignal(q.jobFinished, timeout=240000) as done:
        copy = q.retry(job.id)
    assert done.args == [copy.id, "completed"], window.ctx.jobs.get(copy.id).error_message
    finished = window.ctx.jobs.get(copy.id)
    assert finished.output_dir == stored.output_dir  # same folder, like `seal pack` rerun
    assert "reused from an earlier run" in finished.message
    assert len(window.ctx.jobs.results(copy.id)) == 12 and window.ctx.jobs.results(job.id) == []
    assert len(window.ctx.characters.get(c.id).concepts) == 1  # the retry reused it: listed once


def test_retry_uses_the_settings_as_they_are_now(make_window, qtbot, tiny_model, seeded_concepts, tmp_path):
    window = make_window()
    q = window.controller
    broken = tmp_path / "broken-model"
    broken.mkdir()
    (broken / "model_index.json").write_text(json.dumps({"_class_name": "StableDiffusionPipeline"}))
    window.ctx.save_settings(dataclasses.replace(window.ctx.settings, model_source="folder", model=str(broken)))
    c = window.add_files([DATA / "seal-transparent.png"])[0]
    one = {**PRESET, "items": PRESET["items"][:1]}
    with qtbot.waitSignal(q.jobFinished, timeout=60000) as done:
        job = q.enqueue(c, one, steps=2, variants=1, schedule="fast", personalize=TINY_PERSONALIZE)
    assert done.args == [job.id, "failed"]
    box = window.error_boxes[-1]
    assert hasattr(box, "settings_button")  # the advice comes with a way to follow it
    box.close()

    window.ctx.save_settings(dataclasses.replace(window.ctx.settings, model=str(tiny_model)))  # fixed in Settings
    notices = []
    q.notice.connect(notices.append)
    with qtbot.waitSignal(q.jobFinished, timeout=240000) as done:
        copy = q.retry(job.id)
    assert copy.settings["model"] == str(tiny_model)
    assert any("model broken-model → tiny" in n for n in notices), notices
    assert done.args == [copy.id, "completed"], window.ctx.jobs.get(copy.id).error_message
