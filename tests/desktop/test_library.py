"""Character library: drag-and-drop intake, broken files, rename/duplicate/delete, restart."""

from __future__ import annotations

from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

from .conftest import DATA


def drop(window, *paths) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    event = QDropEvent(QPointF(200, 200), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)


def test_dropping_images_adds_characters(make_window):
    window = make_window()
    drop(window, DATA / "seal-transparent.png", DATA / "turkey-white.png")
    characters = window.ctx.characters.all()
    assert sorted(c.name for c in characters) == ["seal transparent", "turkey white"]
    assert window.library.grid.count() == 2
    for c in characters:
        assert c.reference.is_file() and c.mask.is_file()
        assert c.reference.parent.parent == window.ctx.characters.root  # copied into the library
    by_name = {c.name: c for c in characters}
    assert by_name["seal transparent"].mask_method == "alpha"
    assert by_name["turkey white"].mask_method == "fallback"
    assert not window.error_boxes


def test_dropped_broken_file_shows_error_and_adds_nothing(make_window):
    window = make_window()
    drop(window, DATA / "truncated.png")
    assert window.ctx.characters.all() == []
    assert window.library.grid.count() == 0
    assert list(window.ctx.characters.root.iterdir()) == []  # nothing written
    assert len(window.error_boxes) == 1
    box = window.error_boxes[0]
    assert box.isVisible()
    assert "truncated.png" in box.text()
    assert box.textInteractionFlags() & Qt.TextInteractionFlag.TextSelectableByMouse


def test_mixed_drop_adds_good_and_reports_bad(make_window):
    window = make_window()
    drop(window, DATA / "truncated.png", DATA / "seal-transparent.png")
    assert [c.name for c in window.ctx.characters.all()] == ["seal transparent"]
    assert "truncated.png" in window.error_boxes[-1].text()


def test_rename_duplicate_delete_and_search(make_window):
    window = make_window()
    store = window.ctx.characters
    original = window.add_files([DATA / "seal-transparent.png"])[0]
    store.rename(original.id, "Sealy")
    copy = store.duplicate(original.id)
    assert copy.name == "Sealy copy" and copy.reference.is_file() and copy.folder != original.folder
    store.update(copy.id, tags="blue, sea")
    window.library.search.setText("blue")
    assert window.library.grid.count() == 1
    window.library.search.setText("")
    window.library.refresh(copy.id)
    window.library.delete_current()  # confirmation answered yes by the fixture
    assert store.get(copy.id) is None
    assert not copy.folder.exists()  # files removed after the commit
    assert original.folder.exists()


def test_mask_method_switch_and_mask_file(make_window, tmp_path):
    from PIL import Image

    window = make_window()
    c = window.add_files([DATA / "seal-transparent.png"])[0]
    c = window.ctx.characters.set_mask(c.id, "fallback")
    assert c.mask_method == "fallback"
    mask = Image.new("L", (512, 512), 0)
    mask.paste(255, (100, 100, 400, 400))
    mask.save(tmp_path / "m.png")
    c = window.ctx.characters.set_mask(c.id, mask_file=tmp_path / "m.png")
    assert c.mask_method == "file"
    with Image.open(c.mask) as saved:
        assert saved.getpixel((250, 250)) == 255 and saved.getpixel((10, 10)) == 0


def test_library_survives_restart(make_window):
    first = make_window()
    c = first.add_files([DATA / "seal-transparent.png"])[0]
    first.ctx.characters.update(c.id, class_word="seal", notes="blue seal", tags="sea, blue")
    first.shutdown()
    second = make_window()
    again = second.ctx.characters.get(c.id)
    assert (again.name, again.class_word, again.notes, again.tags) == ("seal transparent", "seal", "blue seal",
                                                                      ["sea", "blue"])
    assert second.library.grid.count() == 1
