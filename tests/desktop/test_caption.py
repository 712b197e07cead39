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


def test_the_other_faces_a_character_was_shown_with_are_listed_with_why_one_was_left_out(make_window, tmp_path):
    window = make_window(start_queue=False)
    c = window.add_files([DATA / "seal-transparent.png"])[0]
    view = window.character
    records = {"auto_caption": {"caption": "sad, waving, on a <lime> background"},
               "edited_views": {"active": True, "kept": ["sad -> happy", "sad -> angry"],
                                "dropped": {"sad -> surprised": "read as sad"}}}
    for name, recs in (("paper", records), ("quality", {**records, "edited_views": {"active": False,
                                                                                   "why_not": "off"}})):
        concept = tmp_path / name
        concept.mkdir()
        (concept / "concept.json").write_text(json.dumps({"component_records": recs}), encoding="utf-8")
        window.ctx.characters.add_concept(c.id, concept, "tiny", {"schedule": name})
        view.set_character(window.ctx.characters.get(c.id))
        text = view.learned_caption.text()
        assert "on a &lt;lime&gt; background" in text  # the caption is text, not markup
        if name == "paper":
            assert "Also shown with 2 other faces (happy, angry); left out: surprised: read as sad." in text
        else:  # the last concept learned without them says nothing about faces
            assert "faces" not in text and "left out" not in text
