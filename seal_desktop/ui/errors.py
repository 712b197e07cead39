"""Every failure is shown in a visible message box whose text can be selected and copied,
with a 'Copy' button and, for bugs, the traceback in the details pane.

The engine's messages are written for the command line (`--model`, `seal tiny-model`,
environment variables); `in_app_words` rewrites those bits into what to click here, and
the errors a setting can fix get an **Open Settings** button.
"""

from __future__ import annotations

from typing import Any, Optional

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from ..wording import in_app_words

LOW_VRAM_HINT = ("Open Settings and turn on the low-VRAM options (attention slicing, VAE slicing and tiling, "
                 "model CPU offload), choose fp16/bf16, or set a smaller image size, then Retry the job: "
                 "a retry uses the settings as they are now.")

ADVICE = {
    "out_of_memory": LOW_VRAM_HINT,
    "offline": "Connect to the internet once to download the model, or choose a local model folder or "
               ".safetensors file in Settings, then Retry the job.",
    "model": "Check the model in Settings (hub id, local folder or single file), then Retry the job: "
             "a retry uses the settings as they are now.",
    "export": "Fix the listed problem (sticker count, title, emoji) and export again.",
    "validation": "The pack was not kept; fix the listed rules and export again.",
}
SETTINGS_KINDS = ("out_of_memory", "offline", "model")

def show_error(parent: Optional[QWidget], title: str, message: str, *, kind: str = "", details: str = "",
               modal: bool = True) -> QMessageBox:
    """Non-blocking (window-modal) box; returns it so callers and tests can inspect it."""
    message = in_app_words(message)
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Critical if kind == "bug" else QMessageBox.Icon.Warning)
    box.setWindowTitle(title)
    box.setText(message)
    advice = ADVICE.get(kind, "")
    if advice:
        box.setInformativeText(advice)
    if details:
        box.setDetailedText(details)
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse
                                | Qt.TextInteractionFlag.TextSelectableByKeyboard)
    window = parent.window() if parent is not None else None
    if (kind in SETTINGS_KINDS or "in Settings" in message) and hasattr(window, "open_settings"):
        settings = box.addButton("Open Settings", QMessageBox.ButtonRole.ActionRole)
        settings.clicked.disconnect()
        settings.clicked.connect(lambda: (box.close(), window.open_settings()))
        box.settings_button = settings  # type: ignore[attr-defined]
    copy = box.addButton("Copy", QMessageBox.ButtonRole.ActionRole)
    box.addButton(QMessageBox.StandardButton.Ok)
    full = "\n\n".join(p for p in (message, advice, details) if p)
    copy.clicked.disconnect()
    copy.clicked.connect(lambda: QApplication.clipboard().setText(full))
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    if parent is not None and hasattr(parent, "error_boxes"):
        parent.error_boxes.append(box)
    elif window is not None and hasattr(window, "error_boxes"):
        window.error_boxes.append(box)
    if modal:
        box.open()
    else:
        box.show()
    return box


def show_error_info(parent: Optional[QWidget], title: str, info: Any) -> QMessageBox:
    return show_error(parent, title, info.message, kind=info.kind, details=info.traceback)


def ask(parent: Optional[QWidget], title: str, text: str, yes: str = "Yes", no: str = "Cancel") -> bool:
    """A yes/no question with buttons that say what they do."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Question)
    box.setWindowTitle(title)
    box.setText(text)
    yes_btn = box.addButton(yes, QMessageBox.ButtonRole.AcceptRole)
    box.addButton(no, QMessageBox.ButtonRole.RejectRole)
    box.setDefaultButton(yes_btn)
    box.exec()
    return box.clickedButton() is yes_btn


def ask_unsaved(parent: Optional[QWidget], what: str) -> str:
    """'save', 'discard' or 'cancel' for unsaved edits of `what`."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Question)
    box.setWindowTitle("Unsaved changes")
    box.setText(f"{what} has unsaved changes.")
    box.setInformativeText("Save them before switching?")
    box.setStandardButtons(QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
                           | QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(QMessageBox.StandardButton.Save)
    answer = box.exec()
    return {QMessageBox.StandardButton.Save: "save", QMessageBox.StandardButton.Discard: "discard"}.get(
        QMessageBox.StandardButton(answer), "cancel")
