"""Character detail: identity fields, the reference with its mask, learned concepts,
and the 'make stickers' form that queues a job."""

from __future__ import annotations

import time
from html import escape
from pathlib import Path
from typing import Any, Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFileDialog, QFormLayout, QGridLayout, QGroupBox, QHBoxLayout,
                               QHeaderView, QLabel, QLineEdit, QPlainTextEdit, QPushButton, QSizePolicy, QSpinBox,
                               QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget)

from seal_engine.errors import SealError

from . import thumbs, ui_state
from .errors import ask_unsaved, show_error

MASK_CHOICES = ("auto", "alpha", "fallback", "sam")


def _records(concept: Any) -> dict:
    import json

    try:
        meta = json.loads((Path(concept.path) / "concept.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return (meta.get("component_records") or {}) if isinstance(meta, dict) else {}


def learned_caption(concept: Any) -> str:
    """The caption a concept was trained with (automatic or the user's), from its concept.json."""
    record = _records(concept).get("auto_caption") or {}
    return str(record.get("caption") or "")


def learned_faces(concept: Any) -> str:
    """What the edited views did (the reference redrawn with its other emotions), in one line, or ""
    when they did not run: a creator sees which faces the character was also shown with, and why an
    edit was left out (so a face that keeps coming back is explained)."""
    record = _records(concept).get("edited_views") or {}
    if not record.get("active"):
        return ""

    def new(label: str) -> str:
        return label.split(" -> ")[-1]

    kept = [new(k) for k in record.get("kept") or []]
    dropped = [f"{new(k)}: {why}" for k, why in (record.get("dropped") or {}).items()]
    text = (f"Also shown with {len(kept)} other face{'s' if len(kept) != 1 else ''} ({', '.join(kept)})"
            if kept else "No other face kept")
    if dropped:
        text += f"; left out: {'; '.join(dropped)}"
    return text + "."


def describe_concept(concept: Any) -> tuple[str, str, str]:
    """A learned concept in words (when, which model, how) instead of a hash and raw JSON."""
    when = time.strftime("%d %b %Y %H:%M", time.localtime(concept.created_at)) if concept.created_at else "—"
    model = Path(str(concept.base_model)).name or str(concept.base_model)
    s = concept.settings or {}
    how = []
    if s.get("schedule"):
        how.append(f"{s['schedule']} schedule")
    if s.get("base"):
        how.append({"ti+lora": "embeddings + LoRA", "ti": "embeddings", "lora": "LoRA"}.get(s["base"], s["base"]))
    if "seed" in s:
        how.append(f"seed {s['seed']}")
    if s.get("seal") is not None:
        how.append("SEAL on" if s["seal"] else "SEAL off")
    if s.get("edit_consistency"):
        how.append("emotion words kept acting")
    return when, model, ", ".join(how)


class CharacterView(QWidget):
    changed = Signal(int)  # character id
    jobQueued = Signal(int)  # job id

    def __init__(self, controller: Any, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.store = controller.ctx.characters
        self.character: Any = None
        self.dirty = False
        self.ask_unsaved = lambda what: ask_unsaved(self.window(), what)  # replaced in tests

        self.name = QLineEdit()
        self.class_word = QLineEdit()
        self.class_word.setToolTip("The kind of thing the character is (cat, fox, robot…); used in every prompt.")
        self.tags = QLineEdit(placeholderText="comma, separated, tags")
        self.caption = QLineEdit(placeholderText="automatic: read from the reference when the character is learned")
        self.caption.setToolTip("What the reference shows besides the character itself (emotion, action, framing, "
                                "style, background), e.g. 'happy, waving, full body, flat style, on a white "
                                "background'. It keeps those out of the learned character. Leave empty to let the "
                                "app read it from the reference.")
        self.learned_caption = QLabel()
        self.learned_caption.setWordWrap(True)
        self.learned_caption.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.edit_caption_btn = QPushButton("Edit this caption")
        self.edit_caption_btn.setToolTip("Copy the caption the app read from the reference into the field above")
        self.edit_caption_btn.clicked.connect(self._use_learned_caption)
        self.notes = QPlainTextEdit()
        self.notes.setPlaceholderText("Notes about this character")
        self.notes.setMaximumHeight(70)
        self.save_btn = QPushButton("Save details")
        self.save_btn.clicked.connect(self.save)
        for line in (self.name, self.class_word, self.tags, self.caption):
            line.textEdited.connect(self._edited)
        self.notes.textChanged.connect(self._notes_changed)
        self._loading = False
        form = QFormLayout()
        form.addRow("Name", self.name)
        form.addRow("Class word", self.class_word)
        form.addRow("Tags", self.tags)
        form.addRow("Caption", self.caption)
        form.addRow("", self.learned_caption)
        form.addRow("", self.edit_caption_btn)
        form.addRow("Notes", self.notes)
        form.addRow("", self.save_btn)
        details = QGroupBox("Character")
        details.setLayout(form)

        self.preview = QLabel()
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setMinimumSize(200, 200)
        self.preview.setWordWrap(True)  # the empty-state hint is wider than the panel at laptop sizes
        # its size comes from the layout, never from the pixmap it shows (or the window could not shrink back)
        self.preview.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.show_mask = QCheckBox("Show mask")
        self.show_mask.setChecked(True)
        self.show_mask.toggled.connect(self._draw)
        self.mask_info = QLabel()
        self.mask_info.setWordWrap(True)
        self.mask_info.setMinimumWidth(1)
        self.mask_info.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.mask_info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.method = QComboBox()
        self.method.addItems(MASK_CHOICES)
        recompute = QPushButton("Recompute")
        recompute.clicked.connect(self.recompute_mask)
        load = QPushButton("Load mask file…")
        load.clicked.connect(self.load_mask)
        mask_row = QGridLayout()
        mask_row.addWidget(self.show_mask, 0, 0)
        mask_row.addWidget(load, 0, 1)
        method_row = QHBoxLayout()
        method_row.addWidget(QLabel("Method"))
        method_row.addWidget(self.method, 1)
        mask_row.addLayout(method_row, 1, 0)
        mask_row.addWidget(recompute, 1, 1)
        ref_box = QGroupBox("Reference and subject mask")
        ref_layout = QVBoxLayout(ref_box)
        ref_layout.addWidget(self.preview, 1)
        ref_layout.addWidget(self.mask_info)
        ref_layout.addLayout(mask_row)

        # Two columns and the "how" on a spanned line under each concept: three columns side by side
        # do not fit the panel at laptop size, and a horizontal scroll bar hid the last one.
        self.concepts = QTreeWidget()
        self.concepts.setHeaderLabels(["Learned", "Base model"])
        self.concepts.setRootIsDecorated(False)
        self.concepts.setIndentation(0)
        self.concepts.header().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.concepts.header().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.concepts.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.concepts.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.concepts.setMaximumHeight(110)
        concept_box = QGroupBox("Learned concepts")
        QVBoxLayout(concept_box).addWidget(self.concepts)

        self.preset = QComboBox()
        self.variants = QSpinBox(minimum=1, maximum=16)
        self.steps = QSpinBox(minimum=1, maximum=1000)
        self.seed = QSpinBox(minimum=0, maximum=2**31 - 1)
        self.queue_btn = QPushButton("Add to queue")
        self.queue_btn.setObjectName("Primary")
        self.queue_btn.clicked.connect(self.queue_job)
        self.preset.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.preset.setMinimumContentsLength(14)
        job_form = QFormLayout()
        job_form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        job_form.addRow("Preset", self.preset)
        row = QHBoxLayout()
        for label, w in (("Variants", self.variants), ("Steps", self.steps)):
            row.addWidget(QLabel(label))
            row.addWidget(w)
        row.addStretch(1)
        job_form.addRow(row)
        job_form.addRow("Seed", self.seed)
        job_form.addRow("", self.queue_btn)
        job_box = QGroupBox("Make stickers")
        job_box.setLayout(job_form)

        left = QVBoxLayout()
        left.addWidget(details)
        left.addWidget(job_box)
        left.addWidget(concept_box)
        left.addStretch(1)
        left_widget = QWidget()
        left_widget.setLayout(left)
        left_widget.setMinimumWidth(280)
        left.setContentsMargins(0, 0, 0, 0)
        layout = QHBoxLayout(self)
        layout.addWidget(left_widget, 1)
        layout.addWidget(ref_box, 1)
        self.reload_presets()
        last = ui_state.value("last_preset")
        if last and self.preset.findData(last) >= 0:
            self.preset.setCurrentIndex(self.preset.findData(last))
        self.preset.activated.connect(lambda _i: ui_state.set_value("last_preset", self.preset.currentData()))
        self.load_defaults()
        self.set_character(None)

    # ---- data ------------------------------------------------------------------
    def load_defaults(self) -> None:
        s = self.controller.ctx.settings
        self.variants.setValue(s.variants)
        self.steps.setValue(s.steps)
        self.seed.setValue(min(s.seed, 2**31 - 1))

    def reload_presets(self) -> None:
        current = self.preset.currentText()
        self.preset.clear()
        for p in self.controller.ctx.presets.all():
            self.preset.addItem(f"{p.name} ({len(p.items)})", p.name)
        index = self.preset.findText(current)
        if index >= 0:
            self.preset.setCurrentIndex(index)

    # ---- unsaved edits ---------------------------------------------------------------
    def _edited(self, *_: Any) -> None:
        if not self._loading and self.character is not None:
            self.dirty = True
            self.save_btn.setText("Save details *")

    def _notes_changed(self) -> None:
        self._edited()

    def maybe_keep_edits(self) -> bool:
        """Before the shown character changes: True to go on (edits saved or dropped), False to stay."""
        if not self.dirty or self.character is None:
            return True
        answer = self.ask_unsaved(f"Character '{self.character.name}'")
        if answer == "save":
            return self.save()
        if answer == "discard":
            self.dirty = False
            return True
        return False

    def set_character(self, character: Any) -> None:
        self._loading = True
        try:
            self._set_character(character)
        finally:
            self._loading = False
        self.dirty = False
        self.save_btn.setText("Save details")

    def _set_character(self, character: Any) -> None:
        self.character = character
        enabled = character is not None
        for w in (self.name, self.class_word, self.tags, self.caption, self.notes, self.save_btn, self.queue_btn,
                  self.method):
            w.setEnabled(enabled)
        if not enabled:
            for w in (self.name, self.class_word, self.tags, self.caption):
                w.clear()
            self.learned_caption.clear()
            self.learned_caption.hide()
            self.edit_caption_btn.hide()
            self.notes.clear()
            self.preview.setText("No character selected.\nDrop reference images onto the window to add some.")
            self.mask_info.clear()
            self.concepts.clear()
            return
        self.name.setText(character.name)
        self.class_word.setText(character.class_word)
        self.tags.setText(", ".join(character.tags))
        self.caption.setText(character.caption)
        self.notes.setPlainText(character.notes)
        self.method.setCurrentText(character.mask_method if character.mask_method in MASK_CHOICES else "auto")
        self.mask_info.setText(f"Mask method: <b>{character.mask_method or '—'}</b> · {character.mask_note}")
        self.refresh_concepts(character)
        self._draw()

    def refresh_concepts(self, character: Any) -> None:
        self.concepts.clear()
        for c in character.concepts:
            when, model, how = describe_concept(c)
            item = QTreeWidgetItem([when, model])
            tip = f"{when}\nBase model: {c.base_model}\n{how}\n{c.path}"
            for col in range(2):
                item.setToolTip(col, tip)
            self.concepts.addTopLevelItem(item)
            if how:
                line = QTreeWidgetItem(item, [how])
                line.setToolTip(0, tip)
                line.setFirstColumnSpanned(True)
                line.setForeground(0, self.palette().placeholderText())
                item.setExpanded(True)
        if not character.concepts:
            hint = QTreeWidgetItem(["none yet — learned by the first job", ""])
            self.concepts.addTopLevelItem(hint)
            hint.setFirstColumnSpanned(True)  # across the columns, so it does not widen the first one
        text = learned_caption(character.concepts[-1]) if character.concepts else ""
        faces = learned_faces(character.concepts[-1]) if character.concepts else ""
        shown = (f"Last learned with: <i>{escape(text)}</i>" if text else "") + (
            f"<br>{escape(faces)}" if text and faces else escape(faces))
        self.learned_caption.setText(shown)
        self.learned_caption.setVisible(bool(shown))
        self.edit_caption_btn.setVisible(bool(text))
        self._learned_text = text

    def _use_learned_caption(self) -> None:
        if getattr(self, "_learned_text", ""):
            self.caption.setText(self._learned_text)
            self._edited()

    def _draw(self) -> None:
        if self.character is None:
            return
        side = max(120, min(self.preview.width(), self.preview.height()) - 8)
        self.preview.setPixmap(thumbs.mask_overlay(self.character.reference, self.character.mask, side,
                                                   self.show_mask.isChecked()))

    def resizeEvent(self, event: Any) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(event)
        self._draw()

    # ---- actions ---------------------------------------------------------------
    def save(self) -> bool:
        if self.character is None:
            return False
        try:
            updated = self.store.update(self.character.id, name=self.name.text(), class_word=self.class_word.text(),
                                        tags=self.tags.text(), notes=self.notes.toPlainText(),
                                        caption=self.caption.text())
        except SealError as err:
            show_error(self.window(), "Cannot save the character", str(err), kind=err.kind.value)
            return False
        self.set_character(updated)
        self.changed.emit(updated.id)
        return True

    def recompute_mask(self) -> None:
        self._set_mask(method=self.method.currentText())

    def load_mask(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load mask (white = character)", "",
                                              "Images (*.png *.jpg *.jpeg *.webp *.bmp *.tif *.tiff)")
        if path:
            self._set_mask(mask_file=Path(path))

    def _set_mask(self, method: str = "auto", mask_file: Optional[Path] = None) -> None:
        if self.character is None:
            return
        try:
            updated = self.store.set_mask(self.character.id, method, mask_file)
        except SealError as err:
            show_error(self.window(), "Cannot compute the mask", str(err), kind=err.kind.value)
            return
        self.set_character(updated)
        self.changed.emit(updated.id)

    def queue_job(self) -> Optional[int]:
        if self.character is None:
            return None
        if self.dirty and not self.save():  # the job uses what was just typed (class word, name)
            return None
        preset = self.controller.ctx.presets.get(self.preset.currentData())
        if preset is None:
            show_error(self.window(), "No preset", "Choose a preset first (Presets tab).")
            return None
        try:
            job = self.controller.enqueue(self.character, preset.to_dict(), variants=self.variants.value(),
                                          steps=self.steps.value(), seed=self.seed.value())
        except SealError as err:
            show_error(self.window(), "Cannot queue the job", str(err), kind=err.kind.value)
            return None
        self.jobQueued.emit(job.id)
        return job.id
