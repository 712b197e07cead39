"""Settings: model source (hub id with download progress, local folder or single file),
device, precision, low-VRAM options, SAM checkpoint, output folder, default steps and
seeds. Validated by seal_desktop.settings before anything is saved."""

from __future__ import annotations

import dataclasses
from typing import Any, Optional

from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFileDialog, QFormLayout, QFrame,
                               QGroupBox, QHBoxLayout, QLabel, QLineEdit, QProgressBar, QPushButton, QScrollArea,
                               QSpinBox, QVBoxLayout, QWidget)

from ..settings import DEVICES, MODEL_SOURCE_KINDS, PRECISIONS, SCHEDULE_LABELS, SCHEDULES, Settings
from .errors import show_error_info

SOURCE_LABELS = {"hub": "Hub id", "folder": "Local diffusers folder", "file": "Single .safetensors file"}


class SettingsDialog(QDialog):
    def __init__(self, controller: Any, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.resize(620, 640)
        self.controller = controller
        s = controller.ctx.settings
        self.download_thread: Any = None

        self.source = QComboBox()
        for key in MODEL_SOURCE_KINDS:
            self.source.addItem(SOURCE_LABELS[key], key)
        self.source.setCurrentIndex(MODEL_SOURCE_KINDS.index(s.model_source))
        self.model = QLineEdit(s.model)
        browse = QPushButton("…")
        browse.clicked.connect(self._browse_model)
        self.download_btn = QPushButton("Download now")
        self.download_btn.clicked.connect(self.download)
        self.download_bar = QProgressBar()
        self.download_bar.setVisible(False)
        self.download_note = QLabel()
        self.download_note.setObjectName("Hint")
        model_row = QHBoxLayout()
        model_row.addWidget(self.model, 1)
        model_row.addWidget(browse)
        model_row.addWidget(self.download_btn)
        model_form = QFormLayout()
        model_form.addRow("Source", self.source)
        model_form.addRow("Model", model_row)
        model_form.addRow("", self.download_bar)
        model_form.addRow("", self.download_note)
        self.offline = QCheckBox("Offline (never reach the model hub)")
        self.offline.setChecked(s.offline)
        self.allow_pickle = QCheckBox("Allow pickle checkpoints (.ckpt) — only from sources you trust")
        self.allow_pickle.setChecked(s.allow_pickle)
        model_form.addRow("", self.offline)
        model_form.addRow("", self.allow_pickle)
        model_box = QGroupBox("Model")
        model_box.setLayout(model_form)

        self.device = QComboBox()
        self.device.addItems(DEVICES)
        self.device.setCurrentText(s.device)
        self.precision = QComboBox()
        self.precision.addItems(PRECISIONS)
        self.precision.setCurrentText(s.precision)
        self.low = {name: QCheckBox(label) for name, label in (
            ("attention_slicing", "Attention slicing"), ("vae_slicing", "VAE slicing"),
            ("vae_tiling", "VAE tiling"), ("cpu_offload", "Model CPU offload"))}
        low_row = QHBoxLayout()
        for name, box in self.low.items():
            box.setChecked(getattr(s, name))
            box.setToolTip(Settings.doc(name))
            low_row.addWidget(box)
        preset = QPushButton("Low-VRAM preset")
        preset.clicked.connect(lambda: [b.setChecked(True) for b in self.low.values()])
        low_row.addWidget(preset)
        run_form = QFormLayout()
        run_form.addRow("Device", self.device)
        run_form.addRow("Precision", self.precision)
        run_form.addRow("Low VRAM", low_row)
        run_box = QGroupBox("Device")
        run_box.setLayout(run_form)

        self.sam = QLineEdit(s.sam_checkpoint)
        self.sam.setPlaceholderText("optional: segment-anything .pth checkpoint")
        sam_browse = QPushButton("…")
        sam_browse.clicked.connect(lambda: self._browse_file(self.sam, "Segment-anything checkpoint (*.pth *.pt)"))
        sam_row = QHBoxLayout()
        sam_row.addWidget(self.sam, 1)
        sam_row.addWidget(sam_browse)
        self.output = QLineEdit(s.output_dir)
        self.output.setPlaceholderText(str(s.output_root()))
        out_browse = QPushButton("…")
        out_browse.clicked.connect(self._browse_output)
        out_row = QHBoxLayout()
        out_row.addWidget(self.output, 1)
        out_row.addWidget(out_browse)
        self.steps = QSpinBox(minimum=1, maximum=1000, value=s.steps)
        self.variants = QSpinBox(minimum=1, maximum=16, value=s.variants)
        self.seed = QSpinBox(minimum=0, maximum=2**31 - 1, value=min(s.seed, 2**31 - 1))
        self.schedule = QComboBox()
        for name in SCHEDULES:
            self.schedule.addItem(SCHEDULE_LABELS[name], name)
        self.schedule.setCurrentIndex(max(0, self.schedule.findData(s.schedule)))
        self.edit_consistency = QCheckBox("Keep emotion words acting (learning takes about twice as long)")
        self.edit_consistency.setChecked(s.edit_consistency)
        self.edit_consistency.setToolTip("While learning, asking for another emotion must change the character "
                                         "as it changes any creature. Measured on the toy world: the asked "
                                         "emotion comes back more often, the likeness a little less often, and "
                                         "learning takes about twice as long.")
        self.author = QLineEdit(s.author)
        self.image_size = QSpinBox(minimum=0, maximum=2048, singleStep=64, value=s.size, suffix=" px")
        self.image_size.setSpecialValueText("the model's native size")
        self.image_size.setToolTip("Side of the generated images. Smaller uses less GPU memory; "
                                   "0 = the model's own size.")
        gen_form = QFormLayout()
        gen_form.addRow("SAM checkpoint", sam_row)
        gen_form.addRow("Output folder", out_row)
        gen_form.addRow("Default steps", self.steps)
        gen_form.addRow("Variants per sticker", self.variants)
        gen_form.addRow("First seed", self.seed)
        gen_form.addRow("Learning schedule", self.schedule)
        gen_form.addRow("", self.edit_consistency)
        gen_form.addRow("Image size", self.image_size)
        gen_form.addRow("Pack author", self.author)
        gen_box = QGroupBox("Generation and output")
        gen_box.setLayout(gen_form)

        self.problems = QLabel()
        self.problems.setObjectName("Error")
        self.problems.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        body = QWidget()
        body_layout = QVBoxLayout(body)
        body_layout.setContentsMargins(0, 0, 0, 0)
        for w in (model_box, run_box, gen_box):
            body_layout.addWidget(w)
        scroll = QScrollArea()  # fits a 768 px high screen: the groups scroll, Save stays visible
        scroll.setWidget(body)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        layout = QVBoxLayout(self)
        layout.addWidget(scroll, 1)
        layout.addWidget(self.problems)
        layout.addWidget(buttons)
        from PySide6.QtGui import QGuiApplication

        screen = QGuiApplication.primaryScreen()
        area = screen.availableGeometry() if screen is not None else None
        width = body.sizeHint().width() + scroll.verticalScrollBar().sizeHint().width() + 30
        height = body.sizeHint().height() + 110
        if area is not None:
            width, height = min(width, int(area.width() * 0.95)), min(height, int(area.height() * 0.9))
        self.resize(max(620, width), height)
        self.source.currentIndexChanged.connect(self._source_changed)
        self._source_changed()

    def _source_changed(self) -> None:
        self.download_btn.setVisible(self.source.currentData() == "hub")

    def _browse_model(self) -> None:
        if self.source.currentData() == "folder":
            folder = QFileDialog.getExistingDirectory(self, "Diffusers model folder")
            if folder:
                self.model.setText(folder)
        else:
            self._browse_file(self.model, "Checkpoints (*.safetensors *.ckpt)")
            if self.model.text() and self.source.currentData() == "hub":
                self.source.setCurrentIndex(MODEL_SOURCE_KINDS.index("file"))

    def _browse_file(self, target: QLineEdit, filter_: str) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose a file", "", filter_)
        if path:
            target.setText(path)

    def _browse_output(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Output folder")
        if folder:
            self.output.setText(folder)

    def settings(self) -> Settings:
        values = dict(model_source=self.source.currentData(), model=self.model.text().strip(),
                      device=self.device.currentText(), precision=self.precision.currentText(),
                      offline=self.offline.isChecked(), allow_pickle=self.allow_pickle.isChecked(),
                      sam_checkpoint=self.sam.text().strip(), output_dir=self.output.text().strip(),
                      steps=self.steps.value(), variants=self.variants.value(), seed=self.seed.value(),
                      schedule=self.schedule.currentData(), edit_consistency=self.edit_consistency.isChecked(),
                      author=self.author.text().strip(),
                      size=self.image_size.value(),
                      **{k: b.isChecked() for k, b in self.low.items()})
        return dataclasses.replace(self.controller.ctx.settings, **values)

    def accept(self) -> None:
        settings = self.settings()
        problems = settings.validate()
        if problems:
            self.problems.setText("\n".join(problems))
            return
        self.controller.ctx.save_settings(settings)
        super().accept()

    def download(self) -> None:
        """Fetch the hub model into the cache now, with progress (cancelled if the dialog closes)."""
        spec = self.model.text().strip()
        self.download_btn.setEnabled(False)
        self.download_bar.setVisible(True)
        self.download_bar.setRange(0, 0)
        self.download_note.setText(f"Checking {spec}…")

        def work(progress, cancel):
            from seal_engine.model_source import resolve

            return resolve(spec, progress=progress, cancel=cancel)

        def on_progress(p: dict) -> None:
            if p["total"]:
                self.download_bar.setRange(0, 1000)
                self.download_bar.setValue(int(p["fraction"] * 1000))
            self.download_note.setText(p.get("message") or "Downloading…")

        def done(resolved: Any) -> None:
            self.download_bar.setVisible(False)
            self.download_btn.setEnabled(True)
            self.download_note.setText(f"Ready: {resolved.path}")

        def failed(info: Any) -> None:
            self.download_bar.setVisible(False)
            self.download_btn.setEnabled(True)
            self.download_note.setText(info.message)
            show_error_info(self, "Model download failed", info)

        self.download_thread = self.controller.start_helper(work, report_errors=False)
        self.download_thread.progressed.connect(on_progress)
        self.download_thread.succeeded.connect(done)
        self.download_thread.failed.connect(failed)

    def done(self, code: int) -> None:  # noqa: D401 - Qt API
        if self.download_thread is not None and self.download_thread.isRunning():
            self.download_thread.cancel_and_wait()
        super().done(code)
