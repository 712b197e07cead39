"""Preset editor: built-ins are read-only (duplicate to change); user presets can be
created, edited item by item, reordered and deleted, with a live composed prompt."""

from __future__ import annotations

from typing import Any, Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QAbstractItemView, QGridLayout, QHBoxLayout, QHeaderView, QLabel, QLineEdit,
                               QListWidget, QListWidgetItem, QMessageBox, QPushButton, QSizePolicy, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QWidget)

from seal_engine.attributes import ATTRIBUTE_LABELS, ATTRIBUTES, Preset, StickerSpec, compose_prompt
from seal_engine.errors import SealError

from .errors import ask_unsaved, show_error

COLUMNS = ("label", "emoji") + ATTRIBUTES


class PresetsTab(QWidget):
    presetsChanged = Signal()

    def __init__(self, controller: Any, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.store = controller.ctx.presets
        self.controller = controller
        self.class_word = "character"
        self.preset: Optional[Preset] = None
        self.dirty = False
        self.ask_unsaved = lambda what: ask_unsaved(self.window(), what)  # replaced in tests

        self.list = QListWidget()
        self.list.setMinimumWidth(150)
        # long names end in "…" (the tooltip has them whole) rather than hiding behind a scroll bar
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.list.currentItemChanged.connect(self._selected)
        new = QPushButton("New")
        new.clicked.connect(self.new_preset)
        self.dup_btn = QPushButton("Duplicate")
        self.dup_btn.clicked.connect(self.duplicate_preset)
        self.del_btn = QPushButton("Delete")
        self.del_btn.setObjectName("Danger")
        self.del_btn.clicked.connect(self.delete_preset)
        left_buttons = QGridLayout()
        left_buttons.addWidget(new, 0, 0)
        left_buttons.addWidget(self.dup_btn, 0, 1)
        left_buttons.addWidget(self.del_btn, 1, 0)
        left = QVBoxLayout()
        title = QLabel("Presets")
        title.setObjectName("PanelTitle")
        left.addWidget(title)
        left.addWidget(self.list, 1)
        left.addLayout(left_buttons)

        self.name = QLineEdit()
        self.name.textEdited.connect(self._mark_dirty)
        self.description = QLineEdit()
        self.description.textEdited.connect(self._mark_dirty)
        self.readonly_note = QLabel("Built-in preset (read-only): duplicate it to make changes.")
        self.readonly_note.setObjectName("Hint")
        self.readonly_note.setWordWrap(True)
        self.readonly_note.setMinimumWidth(1)
        self.readonly_note.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(["Label", "Emoji"] + [ATTRIBUTE_LABELS[a] for a in ATTRIBUTES])
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setColumnWidth(0, 110)
        self.table.setColumnWidth(1, 54)
        for col in range(2, len(COLUMNS)):
            self.table.setColumnWidth(col, 130)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().setDefaultSectionSize(26)
        self.table.itemChanged.connect(self._item_changed)
        self.table.currentCellChanged.connect(lambda *_: self.update_preview())
        self.preview = QLabel()
        self.preview.setObjectName("PromptPreview")
        self.preview.setWordWrap(True)
        self.preview.setMinimumWidth(1)
        self.preview.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.preview.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.add_btn = QPushButton("Add sticker")
        self.add_btn.clicked.connect(self.add_item)
        self.remove_btn = QPushButton("Remove")
        self.remove_btn.clicked.connect(self.remove_item)
        self.up_btn = QPushButton("Move up")
        self.up_btn.clicked.connect(lambda: self.move_item(-1))
        self.down_btn = QPushButton("Move down")
        self.down_btn.clicked.connect(lambda: self.move_item(1))
        self.save_btn = QPushButton("Save preset")
        self.save_btn.setObjectName("Primary")
        self.save_btn.clicked.connect(self.save)
        item_buttons = QGridLayout()
        for i, b in enumerate((self.add_btn, self.remove_btn, self.up_btn, self.down_btn)):
            item_buttons.addWidget(b, i // 2, i % 2)
        item_buttons.setColumnStretch(2, 1)
        item_buttons.addWidget(self.save_btn, 0, 3)
        head = QGridLayout()
        head.addWidget(QLabel("Name"), 0, 0)
        head.addWidget(self.name, 0, 1)
        head.addWidget(QLabel("Description"), 1, 0)
        head.addWidget(self.description, 1, 1)
        right = QVBoxLayout()
        right.addLayout(head)
        right.addWidget(self.readonly_note)
        right.addWidget(self.table, 1)
        right.addLayout(item_buttons)
        prompt_title = QLabel("Composed prompt for the selected sticker:")
        prompt_title.setWordWrap(True)
        prompt_title.setMinimumWidth(1)
        prompt_title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        right.addWidget(prompt_title)
        right.addWidget(self.preview)
        layout = QHBoxLayout(self)
        layout.addLayout(left, 1)
        layout.addLayout(right, 3)
        self.refresh()

    # ---- list --------------------------------------------------------------------
    def refresh(self, select: Optional[str] = None) -> None:
        keep = select or (self.preset.name if self.preset else None)
        self.list.blockSignals(True)
        self.list.clear()
        chosen = None
        for p in self.store.all():
            item = QListWidgetItem(("🔒 " if p.builtin else "✎ ") + f"{p.name}  ({len(p.items)})")
            item.setData(Qt.ItemDataRole.UserRole, p.name)
            item.setToolTip(f"{p.name} ({len(p.items)} stickers)" + (f"\n{p.description}" if p.description else ""))
            self.list.addItem(item)
            if p.name == keep:
                chosen = item
        self.list.blockSignals(False)
        self.list.setCurrentItem(chosen or (self.list.item(0) if self.list.count() else None))

    def maybe_keep_edits(self) -> bool:
        """Before another preset is shown: True to go on (edits saved or dropped), False to stay."""
        if not self.dirty or self.preset is None or self.preset.builtin:
            return True
        answer = self.ask_unsaved(f"Preset '{self.preset.name}'")
        if answer == "save":
            return self.save(reselect=False)
        if answer == "discard":
            self.dirty = False
            return True
        return False

    def _selected(self, current: Any = None, previous: Any = None) -> None:
        item = self.list.currentItem()
        name = item.data(Qt.ItemDataRole.UserRole) if item else None
        if self.preset is not None and name != self.preset.name and not self.maybe_keep_edits():
            self.list.blockSignals(True)
            self.list.setCurrentItem(previous)
            self.list.blockSignals(False)
            return
        self.load(self.store.get(name) if item else None)

    def load(self, preset: Optional[Preset]) -> None:
        self.preset = preset
        editable = preset is not None and not preset.builtin
        self.table.blockSignals(True)
        self.table.setRowCount(0)
        if preset is not None:
            self.name.setText(preset.name)
            self.description.setText(preset.description)
            for spec in preset.items:
                self._append_row(spec)
        self.table.blockSignals(False)
        triggers = (QAbstractItemView.EditTrigger.DoubleClicked | QAbstractItemView.EditTrigger.EditKeyPressed
                    | QAbstractItemView.EditTrigger.AnyKeyPressed) if editable else \
            QAbstractItemView.EditTrigger.NoEditTriggers
        self.table.setEditTriggers(triggers)
        for w in (self.name, self.description):
            w.setReadOnly(not editable)
        for b in (self.add_btn, self.remove_btn, self.up_btn, self.down_btn, self.save_btn, self.del_btn):
            b.setEnabled(editable)
        self.readonly_note.setVisible(preset is not None and preset.builtin)
        self.dirty = False
        if self.table.rowCount():
            self.table.setCurrentCell(0, 0)
        self.update_preview()

    def _append_row(self, spec: StickerSpec) -> None:
        row = self.table.rowCount()
        self.table.insertRow(row)
        values = [spec.label, spec.emoji] + [spec.attributes.get(a, "") for a in ATTRIBUTES]
        for col, value in enumerate(values):
            item = QTableWidgetItem(value)
            if col == 1:
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
            self.table.setItem(row, col, item)

    # ---- editing -------------------------------------------------------------------
    def _mark_dirty(self, *_: Any) -> None:
        self.dirty = True

    def _item_changed(self, *_: Any) -> None:
        self.dirty = True
        self.update_preview()

    def row_spec(self, row: int) -> Optional[StickerSpec]:
        texts = [(self.table.item(row, c).text() if self.table.item(row, c) else "").strip()
                 for c in range(len(COLUMNS))]
        try:
            return StickerSpec(label=texts[0] or f"Sticker {row + 1}", emoji=texts[1] or "🙂",
                               attributes={a: v for a, v in zip(ATTRIBUTES, texts[2:]) if v})
        except SealError:
            return None

    def edited_preset(self) -> Preset:
        items = [self.row_spec(r) for r in range(self.table.rowCount())]
        return Preset(name=self.name.text().strip(), description=self.description.text().strip(),
                      items=[i for i in items if i is not None])

    def update_preview(self) -> None:
        row = self.table.currentRow()
        spec = self.row_spec(row) if row >= 0 else None
        if spec is None:
            self.preview.setText("—")
            return
        self.preview.setText(compose_prompt(spec, class_word=self.class_word))

    def set_class_word(self, word: str) -> None:
        self.class_word = word or "character"
        self.update_preview()

    def add_item(self) -> None:
        self._append_row(StickerSpec(label=f"Sticker {self.table.rowCount() + 1}", emoji="🙂",
                                     attributes={"emotion": "happy"}))
        self.table.setCurrentCell(self.table.rowCount() - 1, 0)
        self.dirty = True

    def remove_item(self) -> None:
        row = self.table.currentRow()
        if row >= 0:
            self.table.removeRow(row)
            self.dirty = True

    def move_item(self, delta: int) -> None:
        row = self.table.currentRow()
        target = row + delta
        if row < 0 or not 0 <= target < self.table.rowCount():
            return
        self.table.blockSignals(True)
        for col in range(self.table.columnCount()):
            a, b = self.table.takeItem(row, col), self.table.takeItem(target, col)
            self.table.setItem(row, col, b)
            self.table.setItem(target, col, a)
        self.table.blockSignals(False)
        self.table.setCurrentCell(target, self.table.currentColumn())
        self.dirty = True

    # ---- preset files ---------------------------------------------------------------
    def save(self, reselect: bool = True) -> bool:
        if self.preset is None or self.preset.builtin:
            return False
        try:
            edited = self.edited_preset()
            self.store.save(edited, old_name=self.preset.name)
        except SealError as err:
            show_error(self.window(), "Cannot save the preset", str(err), kind=err.kind.value)
            return False
        self.dirty = False
        if reselect:
            self.refresh(edited.name)
        else:  # switching away: the list shows another one next; its labels are redrawn after
            from PySide6.QtCore import QTimer

            QTimer.singleShot(0, self.refresh)
        self.presetsChanged.emit()
        return True

    def new_preset(self) -> None:
        preset = Preset(name=self.store.unique_name("My preset"), description="",
                        items=[StickerSpec("Happy", "😀", {"emotion": "happy, big smile"})])
        self.store.save(preset)
        self.refresh(preset.name)
        self.presetsChanged.emit()

    def duplicate_preset(self) -> None:
        if self.preset is not None:
            copy = self.store.duplicate(self.preset)
            self.refresh(copy.name)
            self.presetsChanged.emit()

    def delete_preset(self) -> None:
        if self.preset is None or self.preset.builtin:
            return
        answer = QMessageBox.question(self, "Delete preset", f"Delete the preset '{self.preset.name}'?")
        if answer == QMessageBox.StandardButton.Yes:
            self.store.delete(self.preset.name)
            self.preset = None
            self.refresh()
            self.presetsChanged.emit()
