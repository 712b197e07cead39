"""Export dialog: platforms, title, author, an emoji per sticker (prefilled from the
preset), runs the exporters off the GUI thread and shows the validation report."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Optional

from PySide6.QtCore import QSize, Qt, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (QCheckBox, QDialog, QFileDialog, QFormLayout, QGridLayout, QHBoxLayout, QLabel,
                               QLineEdit, QPlainTextEdit, QProgressBar, QPushButton, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QWidget)

from .. import engine_adapter as ea
from . import thumbs
from .errors import show_error_info

PLATFORM_NAMES = {"whatsapp": "WhatsApp", "telegram": "Telegram", "signal": "Signal", "line": "LINE",
                  "discord": "Discord", "imessage": "iMessage", "png": "PNG set", "webp": "WebP set"}


class ExportDialog(QDialog):
    def __init__(self, controller: Any, job_id: int, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export sticker pack")
        self.resize(760, 640)
        self.controller = controller
        self.job = controller.ctx.jobs.get(job_id)
        self.results = [r for r in controller.ctx.jobs.results(job_id) if r.kept]
        self.thread: Any = None
        self.reports: list[ea.ExportReport] = []

        self.checks: dict[str, QCheckBox] = {}
        grid = QGridLayout()
        for i, key in enumerate(ea.export_platforms()):
            box = QCheckBox(PLATFORM_NAMES.get(key, key))
            box.setChecked(key == "whatsapp")
            self.checks[key] = box
            grid.addWidget(box, i // 4, i % 4)
        self.title = QLineEdit(f"{self.job.character_name} stickers" if self.job else "Stickers")
        self.author = QLineEdit(controller.ctx.settings.author or "Me")
        self.out_dir = QLineEdit(str(Path(controller.ctx.settings.output_root()) / "exports"))
        browse = QPushButton("…")
        browse.clicked.connect(self._browse)
        out_row = QHBoxLayout()
        out_row.addWidget(self.out_dir, 1)
        out_row.addWidget(browse)
        form = QFormLayout()
        form.addRow("Platforms", grid)
        form.addRow("Title", self.title)
        form.addRow("Author", self.author)
        form.addRow("Output folder", out_row)
        self.table = QTableWidget(len(self.results), 3)
        self.table.setHorizontalHeaderLabels(["Sticker", "Label", "Emoji"])
        self.table.setIconSize(QSize(56, 56))
        self.table.verticalHeader().setDefaultSectionSize(60)
        self.table.setColumnWidth(0, 80)
        self.table.setColumnWidth(1, 240)
        self.table.horizontalHeader().setStretchLastSection(True)
        for row, r in enumerate(self.results):
            pic = QTableWidgetItem(thumbs.icon(r.finished_path, 56), "")
            pic.setFlags(Qt.ItemFlag.ItemIsEnabled)
            label = QTableWidgetItem(r.label)
            label.setFlags(Qt.ItemFlag.ItemIsEnabled)
            self.table.setItem(row, 0, pic)
            self.table.setItem(row, 1, label)
            self.table.setItem(row, 2, QTableWidgetItem(r.emoji))
        self.bar = QProgressBar()
        self.bar.setVisible(False)
        self.report = QPlainTextEdit()
        self.report.setReadOnly(True)
        self.report.setPlaceholderText("The validation report appears here after export.")
        self.report.setMaximumHeight(140)
        self.export_btn = QPushButton("Export")
        self.export_btn.setObjectName("Primary")
        self.export_btn.clicked.connect(self.start_export)
        self.open_btn = QPushButton("Open output folder")
        self.open_btn.setEnabled(False)
        self.open_btn.clicked.connect(self.open_output)
        close = QPushButton("Close")
        close.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addWidget(QLabel(f"{len(self.results)} kept stickers"))
        buttons.addStretch(1)
        buttons.addWidget(self.open_btn)
        buttons.addWidget(self.export_btn)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.bar)
        layout.addWidget(self.report)
        layout.addLayout(buttons)

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export into", self.out_dir.text())
        if folder:
            self.out_dir.setText(folder)

    def items(self) -> list[ea.ExportItem]:
        return [ea.ExportItem(r.finished_path, r.label, (self.table.item(i, 2).text() or "").strip() or r.emoji)
                for i, r in enumerate(self.results)]

    def platforms(self) -> list[str]:
        return [k for k, box in self.checks.items() if box.isChecked()]

    def start_export(self) -> Any:
        platforms = self.platforms()
        if not platforms:
            self.report.setPlainText("Choose at least one platform.")
            return None
        items, title, author = self.items(), self.title.text().strip(), self.author.text().strip()
        out_root = Path(self.out_dir.text()).expanduser()
        self.export_btn.setEnabled(False)
        self.bar.setVisible(True)
        self.bar.setRange(0, 0)
        self.report.setPlainText(f"Exporting {len(items)} stickers for {', '.join(platforms)}…")
        began = time.perf_counter()

        def work(progress, cancel):
            return ea.export_packs(items, platforms, title=title, author=author, out_root=out_root,
                                   progress=progress, cancel=cancel)

        self.thread = self.controller.start_helper(work, report_errors=False)
        self.thread.succeeded.connect(lambda reports: self._done(reports, time.perf_counter() - began))
        self.thread.failed.connect(self._failed)
        return self.thread

    def _done(self, reports: list[ea.ExportReport], seconds: float) -> None:
        self.reports = reports
        self.bar.setVisible(False)
        self.export_btn.setEnabled(True)
        lines = []
        for r in reports:
            name = PLATFORM_NAMES.get(r.platform, r.platform)
            if r.ok:
                lines.append(f"✔ {name}: valid pack at {r.pack_dir}")
            else:
                lines.append(f"✖ {name}: {r.error or 'validation failed'}")
                lines += [f"    - {v}" for v in r.violations]
        lines.append(f"({seconds:.1f} s)")
        self.report.setPlainText("\n".join(lines))
        self.open_btn.setEnabled(any(r.pack_dir for r in reports))

    def _failed(self, info: Any) -> None:
        self.bar.setVisible(False)
        self.export_btn.setEnabled(True)
        self.report.setPlainText(info.message)
        show_error_info(self.parent() or self, "Export failed", info)

    def open_output(self) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(self.out_dir.text()))

    def done(self, code: int) -> None:  # noqa: D401 - Qt API; never leave the export thread running
        if self.thread is not None and self.thread.isRunning():
            self.thread.cancel_and_wait()
        super().done(code)
