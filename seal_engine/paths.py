"""Where the app keeps its data: platformdirs' user data dir, or `SEAL_HOME`.

`SEAL_HOME` points every path at one folder (tests, portable installs).
"""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "SEAL Sticker Studio"
APP_AUTHOR = "SEAL"


def seal_home(create: bool = True) -> Path:
    override = os.environ.get("SEAL_HOME")
    if override:
        path = Path(override).expanduser()
    else:
        import platformdirs

        path = Path(platformdirs.user_data_dir(APP_NAME, APP_AUTHOR))
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def _sub(name: str) -> Path:
    path = seal_home() / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def models_cache_dir() -> Path:
    """Hub downloads (huggingface_hub cache layout)."""
    return _sub("models")


def concepts_cache_dir() -> Path:
    """Learned concepts reused across jobs, keyed by image hash, model and the settings as run."""
    return _sub("concepts")


def library_dir() -> Path:
    """The desktop app's character library (references, masks, results)."""
    return _sub("library")


def settings_path() -> Path:
    return seal_home() / "settings.json"


def database_path() -> Path:
    return seal_home() / "library.sqlite3"
