"""Preset editor, settings persistence and validation, the database schema."""

from __future__ import annotations

import json
import sqlite3

import pytest

from seal_engine.attributes import builtin_presets, load_preset_file
from seal_engine.errors import InputError


def test_builtin_presets_cover_the_required_sets():
    presets = {p.name: p for p in builtin_presets()}
    assert {"Daily emotions", "Reactions and replies", "Greetings and celebrations", "Actions", "LINE 16"} \
        <= set(presets)
    assert all(len(p.items) >= 8 for p in presets.values())
    assert len(presets["LINE 16"].items) in (8, 16, 24)
    for p in presets.values():
        assert all(item.label and item.emoji and item.attributes for item in p.items)


def test_long_preset_names_end_in_an_ellipsis_and_read_whole_in_the_tooltip(make_window, qtbot):
    from PySide6.QtCore import Qt

    window = make_window(start_queue=False)
    window.resize(1280, 800)
    window.tabs.setCurrentWidget(window.presets)
    qtbot.wait(50)
    view = window.presets.list
    assert view.sizeHintForColumn(0) > view.viewport().width()  # some name is too long to show whole here
    assert not view.horizontalScrollBar().isVisible()  # nothing hides to the right: the delegate elides
    for i in range(view.count()):
        name = view.item(i).data(Qt.ItemDataRole.UserRole)
        assert view.item(i).toolTip().startswith(name)


def test_preset_editor_duplicate_edit_reorder_save(make_window):
    window = make_window(start_queue=False)
    tab = window.presets
    tab.refresh("Daily emotions")
    assert tab.preset.builtin and not tab.save_btn.isEnabled() and tab.readonly_note.isVisibleTo(tab)
    tab.duplicate_preset()
    assert tab.preset.name == "Daily emotions copy" and not tab.preset.builtin
    tab.table.item(0, 0).setText("Very happy")
    tab.table.item(0, 3).setText("ecstatic")
    tab.table.setCurrentCell(0, 0)
    assert "ecstatic" in tab.preview.text() and tab.preview.text().startswith("a sticker of <char>")
    tab.move_item(1)
    tab.add_item()
    assert tab.save()
    saved = load_preset_file(window.ctx.presets.path_for("Daily emotions copy"))
    assert saved.items[1].label == "Very happy" and saved.items[1].attributes["emotion"] == "ecstatic"
    assert len(saved.items) == 13
    assert window.character.preset.findData("Daily emotions copy") >= 0  # offered for new jobs
    with pytest.raises(InputError):
        window.ctx.presets.delete("Daily emotions")


def test_settings_validate_and_persist(make_window, seal_home):
    from seal_desktop.settings import Settings, load_settings

    window = make_window(start_queue=False)
    dialog = window.open_settings()
    dialog.steps.setValue(12)
    dialog.low["cpu_offload"].setChecked(True)
    dialog.source.setCurrentIndex(1)  # local folder
    dialog.model.setText(str(seal_home / "missing-model"))
    dialog.accept()
    assert "model_index.json" in dialog.problems.text()  # refused, nothing saved
    assert not (seal_home / "settings.json").exists()
    dialog.source.setCurrentIndex(0)
    dialog.model.setText("org/some-model")
    # the paper's short schedule is offered beside fast and quality, in words
    assert [dialog.schedule.itemData(i) for i in range(dialog.schedule.count())] == ["paper", "fast", "quality"]
    dialog.schedule.setCurrentIndex(dialog.schedule.findData("paper"))
    assert "20 steps" in dialog.schedule.currentText()
    dialog.accept()
    saved = load_settings()
    assert (saved.steps, saved.cpu_offload, saved.model, saved.schedule) == (12, True, "org/some-model", "paper")
    assert Settings.from_json({"steps": "bad", "unknown": 1}).steps == Settings().steps


def test_edit_consistency_is_a_setting_that_reaches_the_engine_and_the_concept(make_window, seal_home):
    """The opt-in SEAL component: off by default, a checkbox in Settings, and then in the job's
    engine config, in a retry that follows the current settings, and in how the concept is described."""
    from seal_desktop import engine_adapter as ea
    from seal_desktop.settings import Settings, load_settings
    from seal_desktop.ui.character_view import describe_concept

    from .conftest import DATA

    assert Settings().edit_consistency is False
    window = make_window(start_queue=False)
    c = window.add_files([DATA / "seal-transparent.png"])[0]
    off = window.controller._spec(window.ctx.jobs.get(window.character.queue_job()))
    assert not off.edit_consistency and ea.personalize_config(off) is None  # the pack job's own default
    assert "edit_consistency" not in ea.concept_settings(off)  # concepts learned before keep their key
    dialog = window.open_settings()
    dialog.model.setText("org/some-model")
    dialog.edit_consistency.setChecked(True)
    dialog.accept()
    assert load_settings().edit_consistency is True
    window.character.set_character(window.ctx.characters.get(c.id))
    on = window.controller._spec(window.ctx.jobs.get(window.character.queue_job()))
    config = ea.personalize_config(on)
    assert on.edit_consistency and config.edit_consistency and config.schedule == on.schedule
    assert ea.concept_settings(on)["edit_consistency"] is True
    window.controller.cancel(off.job_id)
    retried = window.controller._spec(window.controller.retry(off.job_id))  # a retry takes the setting as it is now
    assert retried.edit_consistency
    assert "keep emotion words acting" in window.controller.last_retry_changes

    class Concept:
        created_at, base_model, settings = 0, "tiny", ea.concept_settings(on)

    assert "emotion words kept acting" in describe_concept(Concept())[2]


def test_database_has_schema_version_and_wal(seal_home):
    from seal_desktop.store.db import SCHEMA_VERSION, open_database

    db = open_database()
    assert db.version == SCHEMA_VERSION
    assert db.query_one("PRAGMA journal_mode")[0] == "wal"
    db.close()
    conn = sqlite3.connect(seal_home / "library.sqlite3")
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(InputError):
        open_database()
    assert json.dumps  # keep import used


def test_no_torch_or_diffusers_at_startup():
    import subprocess
    import sys

    code = ("import sys, os; os.environ['QT_QPA_PLATFORM']='offscreen';"
            "from seal_desktop.app import create_app; app = create_app(['x']);"
            "from seal_desktop.ui.main_window import MainWindow; w = MainWindow(); w.show(); app.processEvents();"
            "print('heavy:' + ','.join(m for m in ('torch', 'diffusers', 'transformers') if m in sys.modules));"
            "w.shutdown()")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "heavy:\n" in out.stdout + "\n", out.stdout
