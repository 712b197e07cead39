"""Shared fixtures: tiny offline pipelines built once per test session, and an isolated SEAL_HOME."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing in the suite may reach a model hub
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def tiny_sd15_dir(tmp_path_factory) -> Path:
    from seal_engine.testing import save_tiny_model

    return save_tiny_model(tmp_path_factory.mktemp("models") / "tiny-sd15", "sd15")


@pytest.fixture(scope="session")
def tiny_sdxl_dir(tmp_path_factory) -> Path:
    from seal_engine.testing import save_tiny_model

    return save_tiny_model(tmp_path_factory.mktemp("models") / "tiny-sdxl", "sdxl")


@pytest.fixture(autouse=True)
def isolated_seal_home(tmp_path, monkeypatch) -> Path:
    """Every test gets its own SEAL_HOME so no test touches the user's data dir."""
    home = tmp_path / "seal-home"
    monkeypatch.setenv("SEAL_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def tiny_clip_dir(tmp_path_factory) -> Path:
    """A tiny random CLIP model + processor for the evaluation metrics (built offline)."""
    from seal_engine.evaluation.clip_models import save_tiny_clip

    return save_tiny_clip(tmp_path_factory.mktemp("models") / "tiny-clip")
