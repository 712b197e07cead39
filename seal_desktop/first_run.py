"""First run: make sure the app has a model before the main window opens.

A creator who just installed the app has no Stable Diffusion model. When the
configured model is neither cached nor on disk, this dialog says what it would
download and how big it is, downloads it with a progress bar that can be
cancelled, or lets the user point at a diffusers folder or a single
.safetensors checkpoint instead. The choice goes into the app settings
(`seal_desktop.settings`), so the dialog does not come back once a model works.

The download runs `seal_engine.model_source.resolve` in a QThread; its progress
callback and outcome reach the GUI thread through queued signals. A cancelled
or failed download removes the model's partial cache folder: huggingface_hub's
local-only lookup (`is_cached`) does not check that every file arrived, so a
half-filled snapshot would later pass for a complete model.
"""

from __future__ import annotations

import enum
import os
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Callable, Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QDialog, QFileDialog, QHBoxLayout, QLabel, QLayout, QProgressBar, QPushButton, QVBoxLayout,
                               QWidget)

from seal_engine.errors import Cancelled, SealError
from seal_engine.model_source import DEFAULT_MODEL, download_size_gb, is_cached, preferred_variant
from seal_engine.paths import models_cache_dir, settings_path
from seal_engine.progress import CancelToken, ProgressEvent

from .gui_thread_gc import GuiCollectedThread
from .settings import Settings, load_settings, save_settings

SKIP_ENV = "SEAL_SKIP_FIRST_RUN"
"""Set to 1 to never show the dialog (kiosk installs, screenshots, scripted runs)."""

ResolveFn = Callable[..., object]


class Choice(str, enum.Enum):
    DOWNLOADED = "downloaded"
    FOLDER = "folder"
    FILE = "file"
    SKIPPED = "skipped"


def needs_first_run(settings: Settings, cache_dir: Optional[Path] = None) -> bool:
    """True when the configured model cannot be used without a download or a choice."""
    if settings.model_source == "hub":
        return not is_cached(settings.model, cache_dir, variant=preferred_variant(settings.device, settings.precision))
    path = Path(settings.model).expanduser()
    if settings.model_source == "folder":
        return not (path / "model_index.json").is_file()
    return not path.is_file()


def hub_cache_folder(repo_id: str, cache_dir: Path) -> Path:
    """huggingface_hub's cache layout: models--org--name."""
    return cache_dir / ("models--" + repo_id.replace("/", "--"))


def discard_partial_download(repo_id: str, cache_dir: Path) -> bool:
    """Remove a model's cache folder and its lock folder. True if something was removed.

    Only called for a download that started from an incomplete cache and did not finish,
    so whatever is there is partial (is_cached cannot tell: see the module docstring)."""
    removed = False
    folder = hub_cache_folder(repo_id, cache_dir)
    for path in (folder, cache_dir / ".locks" / folder.name):
        if path.exists():
            shutil.rmtree(path, ignore_errors=True)
            removed = True
    return removed


def _gb(n: float) -> str:
    return f"{n / 1e9:.2f} GB"


class DownloadThread(GuiCollectedThread):
    """Runs resolve(repo_id) off the GUI thread; every outcome arrives as a signal."""

    progressed = Signal(float, float, str)  # bytes done, bytes total (0: unknown), message
    succeeded = Signal(str)  # local snapshot folder
    failed = Signal(str)  # one sentence
    cancelled = Signal()

    def __init__(self, repo_id: str, cache_dir: Path, resolve_fn: ResolveFn, parent=None,
                 variant: Optional[str] = None) -> None:
        super().__init__(parent)
        self.variant = variant
        self.repo_id = repo_id
        self.cache_dir = cache_dir
        self.resolve_fn = resolve_fn
        self.token = CancelToken()

    def cancel(self) -> None:
        self.token.cancel()

    def _progress(self, event: ProgressEvent) -> None:
        self.progressed.emit(float(event.step), float(event.total), event.message or "")
        self.token.raise_if_cancelled()

    def run(self) -> None:  # noqa: D401 - QThread API
        complete_before = is_cached(self.repo_id, self.cache_dir, variant=self.variant)
        try:
            resolved = self.resolve_fn(self.repo_id, cache_dir=self.cache_dir, progress=self._progress,
                                       cancel=self.token)
        except Cancelled:
            if not complete_before:
                discard_partial_download(self.repo_id, self.cache_dir)
            self.cancelled.emit()
            return
        except Exception as err:  # any failure: clean up, then one sentence for the user
            if not complete_before:
                discard_partial_download(self.repo_id, self.cache_dir)
            if self.token.cancelled:
                self.cancelled.emit()
            else:
                self.failed.emit(str(err) if isinstance(err, SealError) else
                                 f"The download failed ({type(err).__name__}: {err}).")
            return
        self.succeeded.emit(str(getattr(resolved, "path", resolved)))


class FirstRunDialog(QDialog):
    """Explain, then download / pick a folder / pick a file / not now."""

    def __init__(self, settings: Optional[Settings] = None, *, settings_file: Optional[Path] = None,
                 cache_dir: Optional[Path] = None, resolve_fn: Optional[ResolveFn] = None,
                 parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.settings_file = Path(settings_file) if settings_file else settings_path()
        self.settings = settings or load_settings(self.settings_file)
        self.cache_dir = Path(cache_dir) if cache_dir else models_cache_dir()
        # A GPU run reads the repo's fp16 weight files: half the download (see model_source.preferred_variant).
        self.variant = preferred_variant(self.settings.device, self.settings.precision)
        if resolve_fn is None:
            from functools import partial

            from seal_engine.model_source import resolve

            resolve_fn = partial(resolve, variant=self.variant)
        self.resolve_fn = resolve_fn
        self.repo_id = self.settings.model if self.settings.model_source == "hub" else DEFAULT_MODEL
        self.choice: Optional[Choice] = None
        self.thread: Optional[DownloadThread] = None
        self.setWindowTitle("Welcome to SEAL Sticker Studio")
        self.setMinimumWidth(680)

        size = f"about {download_size_gb(self.variant):g} GB" if self.repo_id == DEFAULT_MODEL \
            else "size depends on the model"
        intro = QLabel(
            "<h3>Choose a Stable Diffusion model</h3>"
            "<p>SEAL Sticker Studio draws your stickers with a Stable Diffusion model. None is set up yet.</p>"
            f"<p><b>Download</b> fetches <code>{self.repo_id}</code> from the Hugging Face hub "
            f"(<b>{size}</b>, once) into<br><code>{self.cache_dir}</code>.</p>"
            "<p>Or use a model you already have: a <b>diffusers folder</b> (with model_index.json) or a single "
            "<b>.safetensors</b> checkpoint (SD 1.x, SD 2.x or SDXL).</p>")
        intro.setWordWrap(True)
        intro.setMinimumWidth(620)
        intro.setTextFormat(Qt.TextFormat.RichText)
        self.download_button = QPushButton(f"Download ({size})")
        self.download_button.setDefault(True)
        self.folder_button = QPushButton("Use a model folder…")
        self.file_button = QPushButton("Use a .safetensors file…")
        self.later_button = QPushButton("Not now")
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setVisible(False)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.cancel_button = QPushButton("Cancel download")
        self.cancel_button.setVisible(False)

        download_row = QHBoxLayout()
        download_row.addWidget(self.download_button)
        download_row.addStretch(1)
        choices = QHBoxLayout()
        choices.addWidget(self.folder_button)
        choices.addWidget(self.file_button)
        choices.addStretch(1)
        choices.addWidget(self.later_button)
        running = QHBoxLayout()
        running.addWidget(self.progress, 1)
        running.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.setSizeConstraint(QLayout.SizeConstraint.SetMinimumSize)  # room for the wrapped text
        layout.addWidget(intro)
        layout.addLayout(download_row)
        layout.addLayout(choices)
        layout.addLayout(running)
        layout.addWidget(self.status)

        self.download_button.clicked.connect(self.start_download)
        self.folder_button.clicked.connect(self._pick_folder)
        self.file_button.clicked.connect(self._pick_file)
        self.later_button.clicked.connect(self.skip)
        self.cancel_button.clicked.connect(self.cancel_download)

    # ---- choices -------------------------------------------------------------------------------
    def _save(self, source: str, model: str, choice: Choice) -> bool:
        settings = replace(self.settings, model_source=source, model=model)
        try:
            save_settings(settings, self.settings_file)
        except SealError as err:
            self.status.setText(str(err))
            return False
        self.settings = settings
        self.choice = choice
        self.accept()
        return True

    def choose_folder(self, folder: str | Path) -> bool:
        """Use a local diffusers folder; False (with the reason shown) when it is not one."""
        path = Path(folder).expanduser().resolve()
        if not (path / "model_index.json").is_file():
            self.status.setText(f"{path} is not a diffusers model folder (model_index.json is missing).")
            return False
        return self._save("folder", str(path), Choice.FOLDER)

    def choose_file(self, file: str | Path) -> bool:
        """Use a single .safetensors checkpoint; False (with the reason shown) otherwise."""
        path = Path(file).expanduser().resolve()
        if path.suffix.lower() != ".safetensors" or not path.is_file():
            self.status.setText(f"{path.name} is not a .safetensors checkpoint.")
            return False
        return self._save("file", str(path), Choice.FILE)

    def skip(self) -> None:
        self.choice = Choice.SKIPPED
        self.accept()

    def _pick_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a diffusers model folder")
        if folder:
            self.choose_folder(folder)

    def _pick_file(self) -> None:
        file, _ = QFileDialog.getOpenFileName(self, "Choose a checkpoint", "", "Safetensors checkpoints (*.safetensors)")
        if file:
            self.choose_file(file)

    # ---- download ------------------------------------------------------------------------------
    @property
    def downloading(self) -> bool:
        return self.thread is not None and self.thread.isRunning()

    def start_download(self) -> None:
        if self.downloading:
            return
        self._set_busy(True)
        self.status.setText(f"Connecting to the hub for {self.repo_id}…")
        self.thread = DownloadThread(self.repo_id, self.cache_dir, self.resolve_fn, self, variant=self.variant)
        self.thread.progressed.connect(self._on_progress)
        self.thread.succeeded.connect(self._on_done)
        self.thread.failed.connect(self._on_failed)
        self.thread.cancelled.connect(self._on_cancelled)
        self.thread.start()

    def cancel_download(self) -> None:
        if self.thread is not None and self.downloading:
            self.thread.cancel()
            self.cancel_button.setEnabled(False)
            self.status.setText("Cancelling; removing the partial download…")

    def _set_busy(self, busy: bool) -> None:
        for button in (self.download_button, self.folder_button, self.file_button, self.later_button):
            button.setEnabled(not busy)
        self.progress.setVisible(busy)
        self.progress.setRange(0, 0)  # busy until the first byte count arrives
        self.cancel_button.setVisible(busy)
        self.cancel_button.setEnabled(busy)

    def _on_progress(self, done: float, total: float, message: str) -> None:
        if total > 0:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(1000 * min(done / total, 1.0)))
            self.status.setText(f"Downloading {self.repo_id}: {_gb(done)} of {_gb(total)}")
        elif message:
            self.status.setText(message)

    def _finish_thread(self) -> None:
        if self.thread is not None:
            self.thread.wait()
            self.thread.deleteLater()
            self.thread = None

    def _on_done(self, folder: str) -> None:
        self._finish_thread()
        self._set_busy(False)
        if not self._save("hub", self.repo_id, Choice.DOWNLOADED):
            return
        self.status.setText(f"{self.repo_id} is ready in {folder}.")

    def _on_failed(self, message: str) -> None:
        self._finish_thread()
        self._set_busy(False)
        self.status.setText(message + " You can retry, or use a local model instead.")

    def _on_cancelled(self) -> None:
        self._finish_thread()
        self._set_busy(False)
        self.status.setText("Download cancelled; nothing was kept. Download again, or use a local model.")

    def reject(self) -> None:
        """Escape / window close: cancel a running download and wait for it to clean up."""
        if self.thread is not None:
            self.thread.cancel()
            self._finish_thread()
        if self.choice is None:
            self.choice = Choice.SKIPPED
        super().reject()


def run_first_run_if_needed(parent: Optional[QWidget] = None) -> Optional[Choice]:
    """Called by app.main() before the main window: shows the dialog only when no usable model is set up."""
    if os.environ.get(SKIP_ENV) in ("1", "true", "yes"):
        return None
    settings = load_settings()
    if not needs_first_run(settings):
        return None
    dialog = FirstRunDialog(settings, parent=parent)
    dialog.exec()
    return dialog.choice
