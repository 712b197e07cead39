"""SEAL component 1: layer choice, capture without changing the output, and the loss's real effect."""

from __future__ import annotations

import pytest
import torch

from personalize_helpers import QK_PATTERNS, load, reference_image, short_config, single_torch_thread  # noqa: F401
from seal_engine.attention_loss import (AttentionStore, StoringAttnProcessor, attention_loss, capture, choose_layers,
                                        mass_inside)


def _unet(down, up, sample):
    from diffusers import UNet2DConditionModel

    n = len(down)
    return UNet2DConditionModel(sample_size=sample, block_out_channels=(8,) * n, down_block_types=down,
                                up_block_types=up, layers_per_block=2, cross_attention_dim=8,
                                attention_head_dim=2, norm_num_groups=4)


def test_sd15_layout_at_512_picks_break_a_scene_16x16_layers():
    unet = _unet(("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",), ("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3, 64)
    names, side = choose_layers(unet, 512)
    assert side == 16
    blocks = sorted({n.split(".transformer_blocks")[0] for n in names})
    assert blocks == ["down_blocks.2.attentions.0", "down_blocks.2.attentions.1", "up_blocks.1.attentions.0",
                      "up_blocks.1.attentions.1", "up_blocks.1.attentions.2"]


def test_sdxl_layout_at_1024_picks_32x32_layers_without_mid():
    unet = _unet(("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
                 ("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"), 128)
    names, side = choose_layers(unet, 1024)
    assert side == 32
    assert {n.split(".attentions")[0] for n in names} == {"down_blocks.2", "up_blocks.0"}


def test_tiny_models_follow_the_same_rule(tiny_sd15_dir):
    unet = load(tiny_sd15_dir).pipe.unet
    names, side = choose_layers(unet, 64)  # 64/32 = 2 -> the 2x2 mid block is the only match
    assert side == 2 and all(n.startswith("mid_block") for n in names)
    names, side = choose_layers(unet, 64, resolution=4)
    assert side == 4 and {n.split(".attentions")[0] for n in names} == {"down_blocks.1", "up_blocks.1"}


def test_capture_replaces_only_chosen_layers_and_keeps_outputs(tiny_sd15_dir):
    unet = load(tiny_sd15_dir).pipe.unet
    names, _ = choose_layers(unet, 64, resolution=4)
    torch.manual_seed(0)
    x, t, enc = torch.randn(2, 4, 8, 8), torch.tensor([10, 500]), torch.randn(2, 77, 32)
    with torch.no_grad():
        plain = unet(x, t, enc).sample
    before = {k: type(v) for k, v in unet.attn_processors.items()}
    store = AttentionStore()
    with capture(unet, names, store):
        procs = unet.attn_processors
        assert {k for k, v in procs.items() if isinstance(v, StoringAttnProcessor)} == set(names)
        assert all(type(v) is before[k] for k, v in procs.items() if k not in names)  # SDPA kept elsewhere
        with torch.no_grad():
            captured = unet(x, t, enc).sample
        assert len(store.maps) == len(names) and store.mean_map().shape == (2, 16, 77)
        assert torch.allclose(store.mean_map().sum(-1), torch.ones(2, 16), atol=1e-5)  # probabilities
    assert {k: type(v) for k, v in unet.attn_processors.items()} == before
    assert torch.allclose(plain, captured, atol=1e-5)


def test_loss_is_zero_only_for_a_map_inside_the_mask():
    target = torch.zeros(1, 4, 4)
    target[0, :2, :2] = 1
    inside = target.clone()
    spread = torch.ones(1, 4, 4)
    include = torch.tensor([True])
    assert attention_loss(inside, target, include).item() == pytest.approx(0.0, abs=1e-6)
    assert attention_loss(spread, target, include).item() > 0.5
    assert mass_inside(spread, target).item() == pytest.approx(0.25)


def _inside(tmp_path, model_dir, on: bool, name: str):
    from seal_engine.personalize import personalize

    ref = reference_image()
    cfg = short_config(base="lora", lora_steps=30, lora_lr=1e-2, attention_loss=on, attention_weight=1.0,
                       split_merge=False, augment=False, probe_attention=True, layer_patterns=QK_PATTERNS)
    concept = personalize(load(model_dir), ref, ref.getchannel("A"), cfg, tmp_path / name)
    return concept.meta["attention"]


def test_attention_mass_inside_mask_rises_and_beats_the_loss_off(tmp_path, tiny_sd15_dir):
    on = _inside(tmp_path, tiny_sd15_dir, True, "on")
    off = _inside(tmp_path, tiny_sd15_dir, False, "off")
    assert on["layers"] == ["mid_block.attentions.0.transformer_blocks.0.attn2"] and on["map_side"] == 2
    before, mask_fraction = on["probe_before"]["identity_inside"], on["probe_before"]["mask_fraction"]
    assert before == off["probe_before"]["identity_inside"]  # same seed, same start
    assert on["probe_after"]["identity_inside"] > before + 0.2
    assert on["probe_after"]["identity_inside"] > off["probe_after"]["identity_inside"] + 0.2
    assert on["probe_after"]["identity_inside"] > 2 * mask_fraction
