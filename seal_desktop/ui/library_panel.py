"""Left panel: the character grid with search, add, rename, duplicate and delete."""

from __future__ import annotations

from typing import Any, Optional

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (QGridLayout, QInputDialog, QLabel, QLineEdit, QListView, QListWidget,
                               QListWidgetItem, QMessageBox, QPushButton, QVBoxLayout, QWidget)

from . import thumbs

THUMB = 96


class LibraryPanel(QWidget):
    characterSelected = Signal(object)  # Character or None
    addRequested = Signal()
    deleteRequested = Signal(int)  # character id, after the user confirmed

    def __init__(self, controller: Any, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.store = controller.ctx.characters
        self.setObjectName("LibraryPanel")
        title = QLabel("Characters")
        title.setObjectName("PanelTitle")
        self.search = QLineEdit(placeholderText="Search name, class word, tags…")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self.refresh)
        self.grid = QListWidget()
        self.grid.setViewMode(QListView.ViewMode.IconMode)
        self.grid.setIconSize(QSize(THUMB, THUMB))
        self.grid.setGridSize(QSize(THUMB + 24, THUMB + 36))
        self.grid.setResizeMode(QListView.ResizeMode.Adjust)
        self.grid.setMovement(QListView.Movement.Static)
        self.grid.setWordWrap(True)
        self.grid.setUniformItemSizes(True)
        self.grid.currentItemChanged.connect(self._changed)
        self.grid.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        self._shown_id: Optional[int] = None
        self.confirm_leave = lambda: True  # the window asks about unsaved edits of the shown character
        self.empty = QLabel("Drop reference images here\nor click Add…")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setObjectName("Hint")
        add = QPushButton("Add…")
        add.setToolTip("Add characters from image files (several at once)")
        add.clicked.connect(self.addRequested)
        self.rename_btn = QPushButton("Rename")
        self.rename_btn.clicked.connect(self.rename_current)
        self.dup_btn = QPushButton("Duplicate")
        self.dup_btn.clicked.connect(self.duplicate_current)
        self.del_btn = QPushButton("Delete")
        self.del_btn.setObjectName("Danger")
        self.del_btn.clicked.connect(self.delete_current)
        buttons = QGridLayout()
        for i, b in enumerate((add, self.rename_btn, self.dup_btn, self.del_btn)):
            buttons.addWidget(b, i // 2, i % 2)
        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(self.search)
        layout.addWidget(self.grid, 1)
        layout.addWidget(self.empty)
        layout.addLayout(buttons)
        self.confirm_delete = self._ask_delete  # replaced in tests
        for key, slot in ((QKeySequence.StandardKey.Delete, self.delete_current), (QKeySequence("F2"),
                                                                                    self.rename_current)):
            shortcut = QShortcut(key, self.grid)
            shortcut.setContext(Qt.ShortcutContext.WidgetShortcut)
            shortcut.activated.connect(slot)
        self.rename_btn.setToolTip("Rename the selected character (F2)")
        self.del_btn.setToolTip("Delete the selected character (Del); its files go to the trash, Undo brings it back")
        self.refresh()

    def current_id(self) -> Optional[int]:
        item = self.grid.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item else None

    def refresh(self, select_id: Optional[int] = None) -> None:
        keep = select_id if isinstance(select_id, int) else self.current_id()
        self.grid.blockSignals(True)
        self.grid.clear()
        chosen = shown = None
        for c in self.store.all(self.search.text()):
            item = QListWidgetItem(thumbs.icon(c.reference, THUMB), c.name)
            item.setData(Qt.ItemDataRole.UserRole, c.id)
            item.setToolTip(f"{c.name} ({c.class_word})\nTags: {', '.join(c.tags) or '—'}\n"
                            f"Concepts: {len(c.concepts)}")
            self.grid.addItem(item)
            if c.id == keep:
                chosen = item
            if c.id == self._shown_id:
                shown = item
        self.grid.blockSignals(False)
        self.empty.setVisible(self.grid.count() == 0)
        if chosen is None and self.grid.count():
            chosen = self.grid.item(0)
        if shown is not None and chosen is not shown and not self.confirm_leave():
            chosen = shown  # e.g. a character was added while this one has unsaved edits: stay on it
        self.grid.setCurrentItem(chosen)
        self._selected()
        has = chosen is not None
        for b in (self.rename_btn, self.dup_btn, self.del_btn):
            b.setEnabled(has)

    def current_character(self) -> Any:
        cid = self.current_id()
        return self.store.get(cid) if cid is not None else None

    def _changed(self, current: Any = None, previous: Any = None) -> None:
        """The user picked another character: ask about unsaved edits first, go back on Cancel."""
        cid = self.current_id()
        if cid != self._shown_id and self._shown_id is not None:
            shown = self._shown_id
            if not self.confirm_leave():
                self._select_id(shown)
                return
            self._select_id(cid)  # saving may have refreshed the list (and re-selected the saved one)
        self._selected()

    def _select_id(self, cid: Optional[int]) -> None:
        self.grid.blockSignals(True)
        for i in range(self.grid.count()):
            if self.grid.item(i).data(Qt.ItemDataRole.UserRole) == cid:
                self.grid.setCurrentRow(i)
        self.grid.blockSignals(False)

    def _selected(self, *_: Any) -> None:
        cid = self.current_id()
        self._shown_id = cid
        self.characterSelected.emit(self.store.get(cid) if cid is not None else None)

    def rename_current(self) -> None:
        cid = self.current_id()
        if cid is None:
            return
        c = self.store.get(cid)
        name, ok = QInputDialog.getText(self, "Rename character", "Name:", text=c.name)
        if ok and name.strip():
            self.store.rename(cid, name.strip())
            self.refresh(cid)

    def duplicate_current(self) -> None:
        cid = self.current_id()
        if cid is not None:
            copy = self.store.duplicate(cid)
            self.refresh(copy.id)

    def _ask_delete(self, name: str) -> bool:
        answer = QMessageBox.question(self, "Delete character",
                                      f"Delete '{name}', its reference, mask and learned concepts?\n"
                                      "Its files go to the trash (Edit ▸ Undo brings them back); "
                                      "jobs and their stickers are kept.",
                                      QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                      QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes

    def delete_current(self) -> None:
        cid = self.current_id()
        if cid is None:
            return
        c = self.store.get(cid)
        if c and self.confirm_delete(c.name):
            self.deleteRequested.emit(cid)  # the window moves the files to the trash (undo)
            self.refresh()
