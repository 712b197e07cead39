"""Thumbnails and mask overlays drawn with Qt's own image code (no PIL at start-up)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QColor, QIcon, QImage, QPainter, QPixmap

_CACHE: dict[tuple[str, float, int], QPixmap] = {}


def checkerboard(size: QSize, cell: int = 8) -> QPixmap:
    pix = QPixmap(size)
    pix.fill(QColor("#3a3d44"))
    p = QPainter(pix)
    for y in range(0, size.height(), cell):
        for x in range(0, size.width(), cell):
            if (x // cell + y // cell) % 2:
                p.fillRect(x, y, cell, cell, QColor("#454952"))
    p.end()
    return pix


def thumbnail(path: Path, side: int = 128, *, checker: bool = True) -> QPixmap:
    path = Path(path)
    try:
        key = (str(path), path.stat().st_mtime, side)
    except OSError:
        return placeholder(side)
    if key in _CACHE:
        return _CACHE[key]
    image = QImage(str(path))
    if image.isNull():
        return placeholder(side)
    scaled = image.scaled(side, side, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
    pix = checkerboard(QSize(side, side)) if checker else QPixmap(side, side)
    if not checker:
        pix.fill(Qt.GlobalColor.transparent)
    p = QPainter(pix)
    p.drawImage((side - scaled.width()) // 2, (side - scaled.height()) // 2, scaled)
    p.end()
    _CACHE[key] = pix
    return pix


def icon(path: Path, side: int = 128) -> QIcon:
    return QIcon(thumbnail(path, side))


def placeholder(side: int) -> QPixmap:
    pix = QPixmap(side, side)
    pix.fill(QColor("#2b2e35"))
    return pix


_OVERLAYS: dict[tuple, QPixmap] = {}


def _stamp(path: Optional[Path]) -> tuple:
    try:
        return (str(path), Path(path).stat().st_mtime) if path is not None else ("", 0.0)
    except OSError:
        return (str(path), 0.0)


def mask_overlay(reference: Path, mask: Optional[Path], side: int = 360, show_mask: bool = True) -> QPixmap:
    """The reference with the background tinted and the subject outlined by the mask (cached: the
    library refreshes the shown character whenever a job adds a concept, which must not redraw it)."""
    key = (_stamp(reference), _stamp(mask), side, show_mask)
    if key not in _OVERLAYS:
        if len(_OVERLAYS) > 32:
            _OVERLAYS.clear()
        _OVERLAYS[key] = _mask_overlay(reference, mask, side, show_mask)
    return _OVERLAYS[key]


def _mask_overlay(reference: Path, mask: Optional[Path], side: int, show_mask: bool) -> QPixmap:
    ref = QImage(str(reference))
    if ref.isNull():
        return placeholder(side)
    ref = ref.convertToFormat(QImage.Format.Format_ARGB32)
    if show_mask and mask is not None and Path(mask).is_file():
        m = QImage(str(mask)).convertToFormat(QImage.Format.Format_Grayscale8)
        if m.size() != ref.size():
            m = m.scaled(ref.size())
        tint = QImage(ref.size(), QImage.Format.Format_ARGB32)
        tint.fill(QColor(255, 64, 96, 150))
        inverted = m.copy()
        inverted.invertPixels()
        tint.setAlphaChannel(_scale_alpha(inverted, 150))
        p = QPainter(ref)
        p.drawImage(0, 0, tint)
        p.end()
    scaled = ref.scaled(side, side, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
    pix = checkerboard(QSize(scaled.width(), scaled.height()), 12)
    p = QPainter(pix)
    p.drawImage(0, 0, scaled)
    p.end()
    return pix


def _scale_alpha(gray: QImage, peak: int) -> QImage:
    """0..255 -> 0..peak (Qt has no per-pixel multiply for alpha channels)."""
    table = [round(v * peak / 255) for v in range(256)]
    out = gray.copy()
    buf = memoryview(out.bits()).cast("B")
    buf[:] = bytes(buf).translate(bytes(table))
    return out
