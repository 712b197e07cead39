"""Destructive actions ask first and can be undone (files go to a trash inside SEAL_HOME until it is
emptied); unsaved edits are never dropped silently."""

from __future__ import annotations

from PySide6.QtCore import Qt

from seal_desktop.store.jobs import JobStatus

from .conftest import DATA

PRESET = {"name": "One", "items": [{"label": "Happy", "emoji": "😀", "attributes": {"emotion": "happy"}}]}


def _finished_job(window, c, n: int = 3):
    """A completed job with files on disk, made without running a model."""
    jobs = window.ctx.jobs
    job = window.controller.enqueue(c, PRESET, model="org/model")
    folder = window.ctx.settings.output_root() / f"job-{job.id:05d}"
    (folder / "stickers").mkdir(parents=True)
    for i in range(n):
        png = folder / "stickers" / f"{i}.png"
        png.write_bytes((DATA / "seal-transparent.png").read_bytes())
        jobs.add_result(job.id, item_index=i, variant=0, label="Happy", emoji="😀", prompt="p", seed=i,
                        raw_path=png, finished_path=png)
    jobs.mark_running(job.id, folder)
    jobs.finish(job.id, JobStatus.COMPLETED)
    return job, folder


def test_remove_asks_moves_the_folder_to_the_trash_and_undo_brings_it_back(make_window, seal_home):
    window = make_window(start_queue=False)
    c = window.add_files([DATA / "seal-transparent.png"])[0]
    job, folder = _finished_job(window, c)
    asked = []
    window.confirm = lambda title, text: asked.append(text) or False  # "Cancel"
    window.queue.refresh()
    window.queue.list.setCurrentRow(0)
    assert window.queue.current_id() == job.id
    window.queue.remove_current()
    assert asked and "3 sticker" in asked[0] and folder.is_dir() and window.ctx.jobs.get(job.id) is not None

    window.confirm = lambda title, text: True
    window.queue.remove_current()
    assert window.ctx.jobs.get(job.id) is None and not folder.exists()
    assert len(window.ctx.trash.entries()) == 1 and (seal_home / "trash") == window.ctx.trash.root
    assert window.undo_action.isEnabled() and window.undo_button.isVisible()

    window.undo_action.trigger()  # Edit > Undo (Ctrl+Z)
    assert folder.is_dir() and len(list((folder / "stickers").glob("*.png"))) == 3
    restored = window.ctx.jobs.get(job.id)
    assert restored.status is JobStatus.COMPLETED and len(window.ctx.jobs.results(job.id)) == 3
    assert window.ctx.trash.entries() == [] and not window.undo_action.isEnabled()

    window.controller.remove(job.id)
    assert window.empty_trash() == 1 and window.ctx.trash.entries() == []


def test_cancelling_the_running_job_asks_first(make_window):
    window = make_window(start_queue=False)
    c = window.add_files([DATA / "seal-transparent.png"])[0]
    job = window.controller.enqueue(c, PRESET, model="org/model")
    window.ctx.jobs.mark_running(job.id, window.ctx.settings.output_root() / "job-x")  # as if it ran
    window.queue.refresh()
    asked = []
    window.confirm = lambda title, text: asked.append(title) or False
    cancelled = []
    window.controller.cancel = lambda jid: cancelled.append(jid)
    window.queue.cancel_current()
    assert asked == ["Cancel the running job?"] and cancelled == []
    window.confirm = lambda title, text: True
    window.queue.cancel_current()
    assert cancelled == [job.id]
    window.ctx.jobs.finish(job.id, JobStatus.CANCELLED)


def test_deleted_character_goes_to_the_trash_and_comes_back(make_window):
    window = make_window(start_queue=False)
    c = window.add_files([DATA / "seal-transparent.png"])[0]
    window.library.delete_current()
    assert window.ctx.characters.get(c.id) is None and not c.folder.exists()
    window.controller.undo()
    back = window.ctx.characters.get(c.id)
    assert back is not None and back.reference.is_file() and window.library.grid.count() == 1


def test_switching_character_asks_about_unsaved_edits(make_window, qtbot):
    window = make_window(start_queue=False)
    a, b = window.add_files([DATA / "seal-transparent.png", DATA / "seal-transparent.png"])
    view = window.character
    window.library.refresh(a.id)
    qtbot.keyClicks(view.class_word, "x")
    typed = view.class_word.text()
    assert view.dirty
    answers = ["cancel", "cancel"]
    view.ask_unsaved = lambda what: answers.pop(0) if answers else "discard"
    window.library.refresh(b.id)  # the user clicks the other character
    window.library.grid.setCurrentRow(1 if window.library.current_id() == a.id else 0)
    assert view.character.id == a.id and view.class_word.text() == typed  # stayed, edits intact
    assert window.library.current_id() == a.id

    answers.append("save")
    other_row = [i for i in range(window.library.grid.count())
                 if window.library.grid.item(i).data(Qt.ItemDataRole.UserRole) == b.id][0]
    window.library.grid.setCurrentRow(other_row)
    assert view.character.id == b.id
    assert window.ctx.characters.get(a.id).class_word == typed  # saved, not lost


def test_add_to_queue_uses_the_class_word_just_typed(make_window, qtbot):
    window = make_window(start_queue=False)
    c = window.add_files([DATA / "seal-transparent.png"])[0]
    view = window.character
    view.class_word.clear()
    qtbot.keyClicks(view.class_word, "walrus")
    window.ctx.save_settings(window.ctx.settings)  # valid default settings (hub id)
    job_id = view.queue_job()
    assert job_id is not None
    assert window.ctx.characters.get(c.id).class_word == "walrus"
    assert window.controller._spec(window.ctx.jobs.get(job_id)).class_word == "walrus"


def test_switching_preset_asks_about_unsaved_edits(make_window, qtbot):
    window = make_window(start_queue=False)
    tab = window.presets
    tab.new_preset()
    mine = tab.preset.name
    qtbot.keyClicks(tab.description, "edited")
    assert tab.dirty
    tab.ask_unsaved = lambda what: "cancel"
    other = [i for i in range(tab.list.count()) if tab.list.item(i).data(Qt.ItemDataRole.UserRole) != mine][0]
    tab.list.setCurrentRow(other)
    assert tab.preset.name == mine and tab.description.text() == "edited"
    tab.ask_unsaved = lambda what: "save"
    tab.list.setCurrentRow(other)
    assert tab.preset.name != mine
    assert window.ctx.presets.get(mine).description == "edited"
