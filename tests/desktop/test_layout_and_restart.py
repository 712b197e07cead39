"""The window fits a 1366x768 laptop screen even with long progress lines, and its hints are read
whole there; after a restart the first character is shown (not only highlighted); jobs left
pending wait for the user."""

from __future__ import annotations

from seal_desktop.store.jobs import JobStatus

from .conftest import DATA

LONG = {f"loss_{name}_with_a_long_name": 0.123456 for name in ("attention", "context", "identity", "prior",
                                                                 "structure", "total", "denoise", "split")}
PRESET = {"name": "One", "items": [{"label": "Happy", "emoji": "😀", "attributes": {"emotion": "happy"}}]}


def test_minimum_size_fits_a_laptop_with_a_long_loss_line(make_window, qtbot):
    window = make_window(start_queue=False)
    c = window.add_files([DATA / "seal-transparent.png"])[0]
    job = window.controller.enqueue(c, PRESET, model="org/model")
    window.queue.refresh()
    payload = {"phase": "embeddings", "step": 3, "total": 400, "fraction": 3 / 400, "eta_s": 3600.0,
               "losses": LONG, "overall": 0.2, "overall_eta_s": 7200.0, "kind": "job",
               "message": "Generating stickers for a very long preset item label " * 6, "preview": None}
    window.queue._apply(payload)
    window.queue._on_progress(job.id, payload)
    window.statusBar().showMessage("Job #1 retried as #2 in the same folder with the current settings; " * 5)
    for tab in range(window.tabs.count()):
        window.tabs.setCurrentIndex(tab)
        qtbot.wait(20)
        hint = window.minimumSizeHint()
        assert hint.width() <= 1366 and hint.height() <= 768, (tab, hint)
    window.resize(1366, 740)
    qtbot.wait(50)
    assert window.width() <= 1366 and window.height() <= 768
    window.resize(1200, 700)  # and it shrinks back
    qtbot.wait(50)
    assert window.width() <= 1200
    for dialog in (window.open_settings(), window.open_export(job.id)):
        hint = dialog.minimumSizeHint()
        assert hint.width() <= 1366 and hint.height() <= 700, (type(dialog).__name__, hint)
        assert dialog.height() <= 700
        dialog.close()


def test_the_empty_reference_panel_shows_its_whole_hint_at_laptop_size(make_window, qtbot):
    from PySide6.QtCore import QRect, Qt
    from PySide6.QtGui import QFontMetrics

    window = make_window(start_queue=False)
    window.resize(1280, 800)
    qtbot.wait(50)
    label = window.character.preview
    assert label.pixmap().isNull() and "Drop reference images" in label.text()
    flags = Qt.AlignmentFlag.AlignCenter | (Qt.TextFlag.TextWordWrap if label.wordWrap() else 0)
    needed = QFontMetrics(label.font()).boundingRect(QRect(0, 0, label.contentsRect().width(), 10_000),
                                                     int(flags), label.text())
    assert needed.width() <= label.contentsRect().width(), (needed.width(), label.contentsRect().width())
    assert needed.height() <= label.contentsRect().height()


def test_the_no_concept_hint_leaves_every_column_in_view(make_window, qtbot):
    window = make_window(start_queue=False)
    window.resize(1280, 800)
    window.add_files([DATA / "seal-transparent.png"])
    qtbot.wait(50)
    tree = window.character.concepts
    assert tree.topLevelItemCount() == 1 and "none yet" in tree.topLevelItem(0).text(0)
    header = tree.header()
    last = header.count() - 1
    assert header.sectionViewportPosition(last) + header.sectionSize(last) <= tree.viewport().width()
    assert not tree.horizontalScrollBar().isVisible()


def test_a_learned_concept_shows_when_model_and_how_without_scrolling_sideways(make_window, qtbot, tmp_path):
    window = make_window(start_queue=False)
    window.resize(1280, 800)
    c = window.add_files([DATA / "seal-transparent.png"])[0]
    how = {"schedule": "quality", "base": "ti+lora", "seed": 123456, "seal": True, "edit_consistency": True}
    window.ctx.characters.add_concept(c.id, tmp_path / "concept", "stable-diffusion-v1-5/stable-diffusion-v1-5", how)
    window.library.refresh()
    qtbot.wait(50)
    tree = window.character.concepts
    assert tree.topLevelItemCount() == 1
    row = tree.topLevelItem(0)
    assert row.text(1) == "stable-diffusion-v1-5" and row.childCount() == 1 and row.isExpanded()
    line = row.child(0)
    assert "quality schedule" in line.text(0) and "seed 123456" in line.text(0) and line.isFirstColumnSpanned()
    header = tree.header()
    assert header.sectionViewportPosition(1) + header.sectionSize(1) <= tree.viewport().width()
    assert tree.visualItemRect(line).isValid()  # the "how" line is drawn, not scrolled out of view
    assert all(part in line.toolTip(0) for part in ("stable-diffusion-v1-5/stable-diffusion-v1-5", "seed 123456"))


def test_the_status_bar_names_the_model_by_its_last_part_and_the_tooltip_in_full(make_window, tmp_path):
    import dataclasses

    window = make_window(start_queue=False)
    hub = "stable-diffusion-v1-5/stable-diffusion-v1-5"
    window.ctx.save_settings(dataclasses.replace(window.ctx.settings, model_source="hub", model=hub))
    window._update_status()
    assert window.status_label.text().startswith("Model: stable-diffusion-v1-5 · ")
    assert window.status_label.toolTip() == hub
    folder = tmp_path / "Documents" / "diffusion" / "checkpoints" / "anything-v5-pruned"
    folder.mkdir(parents=True)
    (folder / "model_index.json").write_text('{"_class_name": "StableDiffusionPipeline"}')
    folder = str(folder)
    assert len(folder) > 40
    window.ctx.save_settings(dataclasses.replace(window.ctx.settings, model_source="folder", model=folder))
    window._update_status()
    assert window.status_label.text().startswith("Model: anything-v5-pruned · ")
    window.ctx.save_settings(dataclasses.replace(window.ctx.settings, model_source="hub", model="org/short-name"))
    window._update_status()
    assert window.status_label.text().startswith("Model: org/short-name · ")


def test_first_character_is_shown_after_a_restart(make_window):
    first = make_window(start_queue=False)
    c = first.add_files([DATA / "seal-transparent.png"])[0]
    first.shutdown()

    second = make_window(start_queue=False)
    assert second.library.current_id() == c.id
    assert second.character.character is not None and second.character.character.id == c.id
    assert second.character.name.text() == c.name
    assert second.character.queue_btn.isEnabled()


def test_jobs_left_pending_wait_for_the_user_at_launch(make_window):
    first = make_window(start_queue=False)
    c = first.add_files([DATA / "seal-transparent.png"])[0]
    job = first.controller.enqueue(c, PRESET, model="org/model")
    first.shutdown()

    second = make_window()  # a normal launch
    q = second.controller
    assert q.paused and q.current_job is None
    assert second.ctx.jobs.get(job.id).status is JobStatus.PENDING
    assert second.queue.pause_btn.text() == "Resume queue"
    assert second.pause_action.isChecked()


def test_window_geometry_and_last_preset_are_remembered(make_window):
    first = make_window(start_queue=False)
    first.resize(700, 620)
    first.tabs.setCurrentIndex(1)
    index = first.character.preset.count() - 1
    first.character.preset.setCurrentIndex(index)
    first.character.preset.activated.emit(index)
    chosen = first.character.preset.currentData()
    size = first.size()
    first.close()

    second = make_window(start_queue=False)
    assert second.size() == size and second.tabs.currentIndex() == 1
    assert second.character.preset.currentData() == chosen


def test_pause_holds_new_jobs_and_resume_starts_them(make_window, qtbot, tmp_path):
    window = make_window()
    q = window.controller
    c = window.add_files([DATA / "seal-transparent.png"])[0]
    window.queue.pause_btn.click()
    assert q.paused and window.queue.pause_btn.text() == "Resume queue"
    job = q.enqueue(c, PRESET, model=str(tmp_path / "missing-model"))
    assert q.current_job is None and window.ctx.jobs.get(job.id).status is JobStatus.PENDING
    assert "paused" in window.queue.list.item(0).text()
    with qtbot.waitSignal(q.jobFinished, timeout=60000) as done:
        window.queue.pause_btn.click()  # Resume queue
    assert done.args[0] == job.id and not q.paused


def test_a_started_job_says_it_is_loading_the_model(make_window):
    window = make_window(start_queue=False)
    c = window.add_files([DATA / "seal-transparent.png"])[0]
    job = window.controller.enqueue(c, PRESET, model="org/model")
    window.ctx.jobs.mark_running(job.id, window.ctx.settings.output_root() / "job-x")  # no event yet
    window.queue.refresh()
    assert "loading the model" in window.queue.phase.text()
    assert window.queue.bar.maximum() == 0  # a busy bar, not "0%"
    assert "starting" in window.queue.list.item(0).text()
    window.ctx.jobs.finish(job.id, JobStatus.CANCELLED)
