"""The training caption: shown after learning, editable, and what the next job trains with."""

from __future__ import annotations

import json

from .conftest import DATA


def test_typed_caption_is_saved_and_goes_to_the_job(make_window, qtbot):
    window = make_window(start_queue=False)
    c = window.add_files([DATA / "seal-transparent.png"])[0]
    view = window.character
    qtbot.keyClicks(view.caption, "happy, waving, full body, on a white background")
    window.ctx.save_settings(window.ctx.settings)
    job_id = view.queue_job()
    assert window.ctx.characters.get(c.id).caption == "happy, waving, full body, on a white background"
    spec = window.controller._spec(window.ctx.jobs.get(job_id))
    assert spec.personalize_overrides["caption"] == "happy, waving, full body, on a white background"


def test_learned_caption_is_shown_and_can_be_edited(make_window, tmp_path):
    window = make_window(start_queue=False)
    c = window.add_files([DATA / "seal-transparent.png"])[0]
    concept = tmp_path / "concept"
    concept.mkdir()
    meta = {"component_records": {"auto_caption": {"caption": "sad, arms up, closeup, on a lime background"}}}
    (concept / "concept.json").write_text(json.dumps(meta), encoding="utf-8")
    window.ctx.characters.add_concept(c.id, concept, "tiny", {"schedule": "paper"})
    view = window.character
    view.set_character(window.ctx.characters.get(c.id))
    assert "sad, arms up, closeup" in view.learned_caption.text() and view.edit_caption_btn.isVisibleTo(view)
    view.edit_caption_btn.click()
    assert view.caption.text() == "sad, arms up, closeup, on a lime background" and view.dirty
    assert view.save()
    assert window.ctx.characters.get(c.id).caption == "sad, arms up, closeup, on a lime background"
