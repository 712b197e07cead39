"""Single `.safetensors` checkpoints (original LDM/CompVis layout) through the real loader.

No such checkpoint exists offline, so `seal_engine.testing.save_tiny_single_file` writes the tiny
SD1.x pipeline in that layout; diffusers' own `from_single_file` conversion must then give back
every tensor exactly, which checks the writer and our loading path against each other.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from seal_engine.architecture import Architecture, detect_checkpoint
from seal_engine.cli import main
from seal_engine.errors import OfflineError
from seal_engine.model_source import SourceKind

COMPONENTS = ("unet", "vae", "text_encoder")


@pytest.fixture(scope="module")
def tiny_ckpt(tiny_sd15_dir, tmp_path_factory) -> Path:
    from seal_engine.testing import save_tiny_single_file

    return save_tiny_single_file(tiny_sd15_dir, tmp_path_factory.mktemp("ckpt") / "tiny-sd15.safetensors")


@pytest.fixture(scope="module")
def reference(tiny_sd15_dir):
    from diffusers import StableDiffusionPipeline

    return StableDiffusionPipeline.from_pretrained(str(tiny_sd15_dir))


def assert_same_weights(pipe, reference) -> None:
    for name in COMPONENTS:
        got, want = getattr(pipe, name).state_dict(), getattr(reference, name).state_dict()
        assert set(got) == set(want), f"{name}: {sorted(set(got) ^ set(want))[:5]}"
        for key, tensor in want.items():
            assert got[key].dtype == tensor.dtype and torch.equal(got[key], tensor), f"{name}.{key} differs"


def test_checkpoint_uses_the_original_ldm_layout(tiny_ckpt, reference):
    from diffusers.loaders.single_file_utils import infer_diffusers_model_type
    from safetensors.torch import load_file

    state = load_file(str(tiny_ckpt))
    prefixes = ("model.diffusion_model.", "first_stage_model.", "cond_stage_model.transformer.text_model.")
    assert all(key.startswith(prefixes) for key in state)
    assert len(state) == sum(len(getattr(reference, n).state_dict()) for n in COMPONENTS)
    unet = "model.diffusion_model."
    for key in (
        "input_blocks.0.0.weight",                               # conv_in
        "input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight",  # down block 0, cross-attention
        "input_blocks.2.0.op.weight",                            # down block 0 downsampler (layers_per_block=1)
        "input_blocks.5.0.in_layers.2.weight",                   # down block 2 resnet conv1
        "middle_block.1.proj_in.weight", "middle_block.2.emb_layers.1.weight",
        "output_blocks.1.1.conv.weight",                         # up block 0 (no attention): upsampler at .1
        "output_blocks.3.2.conv.weight",                         # up block 1 (attention): upsampler at .2
        "output_blocks.5.1.transformer_blocks.0.attn2.to_v.weight",
        "output_blocks.2.0.skip_connection.weight", "time_embed.2.bias", "out.2.weight",
    ):
        assert unet + key in state, key
    vae = "first_stage_model."
    for key in ("encoder.down.0.downsample.conv.weight", "encoder.down.1.block.0.nin_shortcut.weight",
                "decoder.up.3.block.0.conv1.weight", "decoder.up.1.upsample.conv.weight",
                "encoder.norm_out.weight", "decoder.mid.block_2.conv2.weight", "post_quant_conv.weight"):
        assert vae + key in state, key
    for part in ("q", "k", "v", "proj_out"):  # LDM's VAE attention is 1x1 convolutions
        assert state[f"{vae}decoder.mid.attn_1.{part}.weight"].ndim == 4
    assert "cond_stage_model.transformer.text_model.embeddings.position_embedding.weight" in state
    assert infer_diffusers_model_type(state) == "v1"
    assert detect_checkpoint(state) is Architecture.SD1


def test_diffusers_from_single_file_reproduces_every_tensor(tiny_ckpt, tiny_sd15_dir, reference):
    from diffusers import StableDiffusionPipeline

    pipe = StableDiffusionPipeline.from_single_file(str(tiny_ckpt), config=str(tiny_sd15_dir), local_files_only=True)
    assert_same_weights(pipe, reference)


def test_load_pipeline_reads_the_checkpoint(tiny_ckpt, tiny_sd15_dir, reference):
    from seal_engine.loading import load_pipeline

    model = load_pipeline(tiny_ckpt, config=tiny_sd15_dir)
    assert model.source.kind is SourceKind.SINGLE_FILE and model.arch is Architecture.SD1
    assert type(model.pipe).__name__ == "StableDiffusionPipeline" and model.dtype == torch.float32
    assert_same_weights(model.pipe, reference)
    assert type(model.pipe.scheduler).__name__ == type(reference.scheduler).__name__


def test_precision_override_applies_to_the_checkpoint(tiny_ckpt, tiny_sd15_dir):
    from seal_engine.devices import RuntimeOptions
    from seal_engine.loading import load_pipeline

    model = load_pipeline(tiny_ckpt, RuntimeOptions(dtype="bf16"), config=tiny_sd15_dir)
    assert model.dtype == torch.bfloat16
    for name in COMPONENTS:
        assert {p.dtype for p in getattr(model.pipe, name).parameters()} == {torch.bfloat16}, name


def test_cli_generate_from_checkpoint_matches_the_folder(tiny_ckpt, tiny_sd15_dir, tmp_path, capsys):
    common = ["--prompt", "a cat sticker", "--seed", "3", "--steps", "1", "--guidance", "1"]  # cheap: no CFG
    assert main(["generate", "--model", str(tiny_ckpt), "--config", str(tiny_sd15_dir), *common,
                 "-o", str(tmp_path / "ckpt")]) == 0
    assert main(["generate", "--model", str(tiny_sd15_dir), *common, "-o", str(tmp_path / "folder")]) == 0
    from_ckpt, from_folder = (np.asarray(Image.open(tmp_path / d / "seed-3.png")) for d in ("ckpt", "folder"))
    # Same weights (the state dicts compare equal) and scheduler; the converted checkpoint's tensors
    # may sit in another memory layout, so a value on a rounding edge may land one level off.
    diff = np.abs(from_ckpt.astype(int) - from_folder.astype(int))
    assert diff.max() <= 1 and (diff > 0).mean() < 0.001, "same weights and scheduler -> the same pixels"
    sidecar = json.loads((tmp_path / "ckpt" / "seed-3.json").read_text())
    assert sidecar["seed"] == 3 and sidecar["prompt"] == "a cat sticker"
    assert capsys.readouterr().err == ""


def test_without_config_offline_is_one_clear_offline_error(tiny_ckpt, capsys):
    from seal_engine.loading import load_pipeline

    with pytest.raises(OfflineError) as info:  # HF_HUB_OFFLINE=1 (tests/conftest.py), nothing cached
        load_pipeline(tiny_ckpt)
    message = str(info.value)
    assert "\n" not in message and message.count(". ") == 0 and message.endswith(".")
    assert "SD1.x" in message and "--config" in message
    assert main(["generate", "--model", str(tiny_ckpt), "--prompt", "x", "-o", "unused"]) == 2
    err = capsys.readouterr().err.strip()
    assert err and "\n" not in err and "--config" in err and "Traceback" not in err
