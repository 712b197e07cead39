"""What the window remembers between runs (geometry, splitter and column sizes, last preset,
current tab), in an INI file under SEAL_HOME so a portable install keeps it too."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QSettings


def store() -> QSettings:
    from seal_engine.paths import seal_home

    return QSettings(str(seal_home() / "window.ini"), QSettings.Format.IniFormat)


def value(key: str, default: Any = None) -> Any:
    return store().value(key, default)


def set_value(key: str, data: Any) -> None:
    s = store()
    s.setValue(key, data)
    s.sync()
