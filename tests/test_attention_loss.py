"""SEAL component 1: layer choice, capture without changing the output, and the loss's real effect."""

from __future__ import annotations

import pytest
import torch

from personalize_helpers import QK_PATTERNS, load, reference_image, short_config, single_torch_thread  # noqa: F401
from seal_engine.personalize.attention_loss import attention_loss
from seal_engine.personalize.attention_maps import (AttentionStore, StoringAttnProcessor, capture, correlation,
                                                    cross_attention_layers, mass_inside, select_layers)


def _unet(down, up, sample):
    from diffusers import UNet2DConditionModel

    n = len(down)
    return UNet2DConditionModel(sample_size=sample, block_out_channels=(8,) * n, down_block_types=down,
                                up_block_types=up, layers_per_block=2, cross_attention_dim=8,
                                attention_head_dim=2, norm_num_groups=4)


def test_sd15_layout_at_512_has_maps_at_64_32_16_and_8():
    unet = _unet(("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",), ("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3, 64)
    sides = {}
    for layer in cross_attention_layers(unet, 64):
        sides.setdefault(layer.side, set()).add(layer.name.split(".attentions")[0])
    assert sides == {64: {"down_blocks.0", "up_blocks.3"}, 32: {"down_blocks.1", "up_blocks.2"},
                     16: {"down_blocks.2", "up_blocks.1"}, 8: {"mid_block"}}


def test_layers_are_kept_by_score():
    scores = {"a": 0.9, "b": 0.8, "c": 0.6, "d": 0.3}
    assert select_layers(scores, 0.5, 0.75) == ["a", "b"]
    assert select_layers(scores, 0.5, 0.5) == ["a", "b", "c"]
    assert select_layers({"x": 0.1, "y": 0.2}, 0.5, 0.75) == ["y"]  # nothing informative: the best one
    m = torch.zeros(1, 4, 4)
    m[0, :2, :2] = 1
    assert correlation(m, m).item() == pytest.approx(1.0)
    assert correlation(1 - m, m).item() == pytest.approx(-1.0)


def test_capture_replaces_only_chosen_layers_and_keeps_outputs(tiny_sd15_dir):
    unet = load(tiny_sd15_dir).pipe.unet
    names = [l.name for l in cross_attention_layers(unet, 8) if l.side == 4]
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
        assert set(store.maps) == set(names) and all(m.shape == (2, 16, 77) for m in store.maps.values())
        assert all(torch.allclose(m.sum(-1), torch.ones(2, 16), atol=1e-5) for m in store.maps.values())
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


def test_the_coverage_term_alone_asks_the_map_to_fill_the_whole_mask():
    """Coverage (Break-A-Scene's max-normalised MSE) penalises a map on one part of the subject,
    leaving the rest of it (a face) to other words; the outside term alone does not."""
    target = torch.zeros(1, 4, 4)
    target[0, :2, :2] = 1
    one_part = torch.zeros(1, 4, 4)
    one_part[0, 0, 0] = 1
    include = torch.tensor([True])
    assert attention_loss(one_part, target, include, coverage_weight=1.0).item() > 0.1
    assert attention_loss(one_part, target, include, coverage_weight=0.0).item() == pytest.approx(0.0, abs=1e-6)
    outside = torch.zeros(1, 4, 4)
    outside[0, 3, 3] = 1
    assert attention_loss(outside, target, include, coverage_weight=0.0).item() == pytest.approx(1.0, abs=1e-6)
