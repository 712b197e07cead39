"""Loading through the real path, architecture detection, device and precision choice."""

from __future__ import annotations

import pytest
import torch

from seal_engine import devices
from seal_engine.architecture import Architecture, detect_folder, from_unet_config
from seal_engine.devices import RuntimeOptions, select_device, select_dtype
from seal_engine.errors import InputError, ModelError
from seal_engine.loading import load_pipeline


def test_load_tiny_sd15_folder(tiny_sd15_dir):
    model = load_pipeline(tiny_sd15_dir)
    assert model.arch is Architecture.SD1
    assert model.device == "cpu" and model.dtype == torch.float32
    assert type(model.pipe).__name__ == "StableDiffusionPipeline"


def test_load_tiny_sdxl_folder(tiny_sdxl_dir):
    model = load_pipeline(tiny_sdxl_dir)
    assert model.arch is Architecture.SDXL
    assert type(model.pipe).__name__ == "StableDiffusionXLPipeline"
    assert model.pipe.text_encoder_2 is not None


def test_load_from_hub_cache(tiny_sd15_dir):
    from seal_engine.paths import models_cache_dir
    from tests.test_model_source import seed_hub_cache

    seed_hub_cache(models_cache_dir(), "org/tiny", tiny_sd15_dir)
    model = load_pipeline("org/tiny", RuntimeOptions(offline=True))
    assert model.model_id == "org/tiny" and model.arch is Architecture.SD1


def test_low_vram_options_applied(tiny_sd15_dir):
    model = load_pipeline(tiny_sd15_dir, RuntimeOptions(attention_slicing=True, vae_slicing=True, vae_tiling=True))
    assert model.pipe.vae.use_slicing and model.pipe.vae.use_tiling


def test_architecture_rules():
    assert from_unet_config({"cross_attention_dim": 768}) is Architecture.SD1
    assert from_unet_config({"cross_attention_dim": 1024, "use_linear_projection": True}) is Architecture.SD2
    assert from_unet_config({"cross_attention_dim": 2048, "addition_embed_type": "text_time"}) is Architecture.SDXL
    assert from_unet_config({}, "StableDiffusionXLPipeline") is Architecture.SDXL


def test_detect_folder_errors(tmp_path):
    with pytest.raises(ModelError):
        detect_folder(tmp_path)
    (tmp_path / "unet").mkdir()
    (tmp_path / "model_index.json").write_text("{broken")
    (tmp_path / "unet" / "config.json").write_text("{}")
    with pytest.raises(ModelError, match="broken"):
        detect_folder(tmp_path)


def test_device_auto_prefers_cuda_then_mps(monkeypatch):
    monkeypatch.setattr(devices, "cuda_available", lambda: False)
    monkeypatch.setattr(devices, "mps_available", lambda: False)
    assert select_device("auto") == "cpu"
    monkeypatch.setattr(devices, "mps_available", lambda: True)
    assert select_device("auto") == "mps"
    monkeypatch.setattr(devices, "cuda_available", lambda: True)
    assert select_device("auto") == "cuda"


def test_device_override_errors(monkeypatch):
    monkeypatch.setattr(devices, "cuda_available", lambda: False)
    monkeypatch.setattr(devices, "mps_available", lambda: False)
    with pytest.raises(InputError, match="CUDA"):
        select_device("cuda")
    with pytest.raises(InputError, match="MPS"):
        select_device("mps")
    with pytest.raises(InputError, match="Unknown device"):
        select_device("tpu")


def test_dtype_choice(monkeypatch):
    assert select_dtype("cpu") == torch.float32
    assert select_dtype("mps") == torch.float16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert select_dtype("cuda") == torch.bfloat16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert select_dtype("cuda") == torch.float16
    assert select_dtype("cuda", "fp32") == torch.float32
    assert select_dtype("cpu", "bf16") == torch.bfloat16
    with pytest.raises(InputError):
        select_dtype("cpu", "int8")
