"""Model sources: folders, checkpoints, pickles, the hub cache, and the offline message."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from seal_engine.errors import InputError, ModelError, OfflineError
from seal_engine.model_source import SourceKind, classify, is_cached, resolve


def seed_hub_cache(cache: Path, repo_id: str, folder: Path, revision: str = "a" * 40) -> Path:
    """Lay a model out exactly as huggingface_hub's cache does (snapshots + refs/main)."""
    repo_dir = cache / ("models--" + repo_id.replace("/", "--"))
    snap = repo_dir / "snapshots" / revision
    shutil.copytree(folder, snap)
    (repo_dir / "refs").mkdir(parents=True)
    (repo_dir / "refs" / "main").write_text(revision)
    return snap


def test_classify_each_kind(tmp_path, tiny_sd15_dir):
    (tmp_path / "model.safetensors").write_bytes(b"x")
    (tmp_path / "model.ckpt").write_bytes(b"x")
    (tmp_path / "notes.txt").write_text("x")
    assert classify(tiny_sd15_dir) is SourceKind.FOLDER
    assert classify(tmp_path / "model.safetensors") is SourceKind.SINGLE_FILE
    assert classify(tmp_path / "model.ckpt") is SourceKind.PICKLE_FILE
    assert classify("stable-diffusion-v1-5/stable-diffusion-v1-5") is SourceKind.HUB
    with pytest.raises(InputError, match="not a model"):
        classify(tmp_path / "notes.txt")
    for bad in ("/nonexistent", "./missing", "missing.safetensors", "no-slash", "a/b/c", ""):
        with pytest.raises(InputError):
            classify(bad)


def test_folder_without_model_index_is_refused(tmp_path):
    with pytest.raises(ModelError, match="model_index.json"):
        resolve(tmp_path)


def test_pickle_refused_unless_allowed(tmp_path):
    ckpt = tmp_path / "old.ckpt"
    ckpt.write_bytes(b"\x80\x04")
    with pytest.raises(ModelError, match="pickle"):
        resolve(ckpt)
    assert resolve(ckpt, allow_pickle=True).kind is SourceKind.PICKLE_FILE


def test_hub_model_found_in_cache_offline(tmp_path, tiny_sd15_dir):
    cache = tmp_path / "cache"
    snap = seed_hub_cache(cache, "org/tiny", tiny_sd15_dir)
    resolved = resolve("org/tiny", cache_dir=cache, offline=True)
    assert resolved.kind is SourceKind.HUB and resolved.path == snap and resolved.repo_id == "org/tiny"
    assert is_cached("org/tiny", cache)
    assert not is_cached("org/other", cache)


def test_hub_model_not_cached_offline_says_what_to_do(tmp_path):
    with pytest.raises(OfflineError) as info:
        resolve("org/absent", cache_dir=tmp_path, offline=True)
    message = str(info.value)
    assert "not in the local cache" in message and "seal tiny-model" in message and "\n" not in message


def test_hub_model_uses_app_cache_under_seal_home(isolated_seal_home, tiny_sd15_dir):
    from seal_engine.paths import models_cache_dir

    assert models_cache_dir().is_relative_to(isolated_seal_home)
    seed_hub_cache(models_cache_dir(), "org/tiny", tiny_sd15_dir)
    assert resolve("org/tiny").path.is_relative_to(isolated_seal_home)


def test_half_downloaded_snapshot_is_not_cached(tmp_path, tiny_sd15_dir):
    cache = tmp_path / "cache"
    snap = seed_hub_cache(cache, "org/tiny", tiny_sd15_dir)
    (snap / "unet" / "diffusion_pytorch_model.safetensors").unlink()  # a download killed half-way
    assert not is_cached("org/tiny", cache)
    with pytest.raises(OfflineError):
        resolve("org/tiny", cache_dir=cache, offline=True)
