"""Every failure is shown in a visible message box whose text can be selected and copied,
with a 'Copy' button and, for bugs, the traceback in the details pane."""

from __future__ import annotations

from typing import Any, Optional

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

LOW_VRAM_HINT = ("Open Settings and turn on the low-VRAM options (attention slicing, VAE slicing and tiling, "
                 "model CPU offload), choose fp16/bf16, or lower the image size, then retry the job.")

ADVICE = {
    "out_of_memory": LOW_VRAM_HINT,
    "offline": "Connect to the internet once to download the model, or choose a local model folder or "
               ".safetensors file in Settings.",
    "model": "Check the model in Settings (hub id, local folder or single file).",
    "export": "Fix the listed problem (sticker count, title, emoji) and export again.",
    "validation": "The pack was not kept; fix the listed rules and export again.",
}


def show_error(parent: Optional[QWidget], title: str, message: str, *, kind: str = "", details: str = "",
               modal: bool = True) -> QMessageBox:
    """Non-blocking (window-modal) box; returns it so callers and tests can inspect it."""
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
    copy = box.addButton("Copy", QMessageBox.ButtonRole.ActionRole)
    box.addButton(QMessageBox.StandardButton.Ok)
    full = "\n\n".join(p for p in (message, advice, details) if p)
    copy.clicked.disconnect()
    copy.clicked.connect(lambda: QApplication.clipboard().setText(full))
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    if parent is not None and hasattr(parent, "error_boxes"):
        parent.error_boxes.append(box)
    if modal:
        box.open()
    else:
        box.show()
    return box


def show_error_info(parent: Optional[QWidget], title: str, info: Any) -> QMessageBox:
    return show_error(parent, title, info.message, kind=info.kind, details=info.traceback)
