"""Gallery basics (preview with variants, copy/drag-out, dimmed rejects, back to the previous
version after Regenerate), one progress bar across phases, and errors in the app's words."""

from __future__ import annotations

import shutil

from PySide6.QtWidgets import QApplication

from seal_desktop.engine_adapter import OverallProgress
from seal_desktop.wording import in_app_words
from seal_engine.progress import ProgressEvent

from .conftest import DATA
from .test_trash_and_edits import _finished_job


def test_preview_copy_drag_dimmed_and_previous_version(make_window, tmp_path):
    window = make_window(start_queue=False)
    c = window.add_files([DATA / "seal-transparent.png"])[0]
    job, folder = _finished_job(window, c)
    jobs = window.ctx.jobs
    first = jobs.results(job.id)[0]
    jobs.add_result(job.id, item_index=0, variant=1, label="Happy", emoji="😀", prompt="p", seed=7,
                    raw_path=first.raw_path, finished_path=first.finished_path, kept=False)
    window.show_results(job.id)
    gallery = window.results
    gallery.flush()
    assert gallery.grid.count() == 4
    texts = [gallery.grid.item(i).text() for i in range(gallery.grid.count())]
    assert sum("(not kept)" in t for t in texts) == 1

    dialog = gallery.open_preview(first.id)
    assert dialog.variants.count() == 2  # both variants of that sticker side by side
    dialog.close()

    gallery.grid.setCurrentRow(0)
    gallery.grid.item(0).setSelected(True)
    assert gallery.copy_selected() == [first.finished_path]
    assert QApplication.clipboard().mimeData().urls()[0].toLocalFile() == str(first.finished_path)
    mime = gallery.grid.mimeData([gallery.grid.item(0)])  # what a drag out carries
    assert mime.urls()[0].toLocalFile() == str(first.finished_path) and mime.hasImage()
    # Qt owns clipboard data until the application ends; leaving it there crashed the interpreter at exit
    del mime
    QApplication.clipboard().clear()

    new = tmp_path / "regenerated.png"
    new.write_bytes(first.finished_path.read_bytes())
    jobs.replace_result(first.id, seed=99, raw_path=new, finished_path=new)  # what a Regenerate stores
    gallery.refresh()
    gallery.grid.setCurrentRow(0)
    assert gallery.revert_btn.isEnabled()
    gallery.revert_selected()
    back = jobs.result(first.id)
    assert back.seed == first.seed and back.finished_path == first.finished_path and back.history == []

    shutil.rmtree(folder)
    assert gallery.open_folder() is False and "no longer exists" in window.error_boxes[-1].text()


def test_one_bar_across_phases_never_goes_back():
    t = [0.0]
    overall = OverallProgress(clock=lambda: t[0])
    seen = []
    for phase, steps in (("load", 1), ("personalize", 0), ("embeddings", 10), ("lora", 10), ("generate", 8),
                         ("finish", 4)):
        for step in range(0, steps + 1):
            t[0] += 1.0
            seen.append(overall.update(ProgressEvent(phase, step, steps, message="Learning the character"))[0])
    assert seen == sorted(seen) and seen[-1] == 1.0
    assert overall.eta() is not None

    reused = OverallProgress()
    reused.update(ProgressEvent("personalize", 0, 0, message="Reusing the learned concept abc"))
    half = reused.update(ProgressEvent("generate", 4, 8))[0]
    assert 0.4 < half < 0.7  # no share of the bar waits for learning that never comes


def test_errors_speak_the_apps_language_and_offer_settings(make_window):
    text = in_app_words("Model 'a/b' is not in the local cache and the model hub cannot be reached; connect once to "
                        "download it, pass --model with a local folder or .safetensors file, or try "
                        "`seal tiny-model DIR` for an offline dry run.")
    assert "--" not in text and "seal tiny-model" not in text and "in Settings" in text
    assert "SEAL_SAM" not in in_app_words("The sam method needs a checkpoint: pass --sam-checkpoint PATH or set "
                                          "SEAL_SAM_CHECKPOINT.")
    window = make_window(start_queue=False)
    from seal_desktop.ui.errors import show_error

    box = show_error(window, "Job failed", "Model folder is broken.", kind="model")
    assert "Retry" in box.informativeText() and hasattr(box, "settings_button")
    box.settings_button.click()
    dialogs = [w for w in QApplication.topLevelWidgets() if type(w).__name__ == "SettingsDialog" and w.isVisible()]
    assert dialogs
    dialogs[0].reject()
