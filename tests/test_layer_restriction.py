"""SEAL component 3: presets resolve to the right layers; frozen weights stay bit-identical."""

from __future__ import annotations

import pytest
import torch

from personalize_helpers import load, reference_image, short_config, single_torch_thread  # noqa: F401
from seal_engine.errors import InputError
from seal_engine.personalize.layer_restriction import resolve_targets


def test_presets_on_the_tiny_models(tiny_sd15_dir, tiny_sdxl_dir):
    unet = load(tiny_sd15_dir).pipe.unet
    kv = resolve_targets(unet, "decoder-kv")
    assert kv and all(n.startswith("up_blocks.") and n.split(".")[-2:] in (["attn2", "to_k"], ["attn2", "to_v"])
                      for n in kv)
    everything = resolve_targets(unet, "all")
    assert set(kv) < set(everything) and any(n.startswith("down_blocks") for n in everything)
    assert resolve_targets(unet, "all", ["mid_block.*attn2.to_q"]) == ["mid_block.attentions.0.transformer_blocks.0.attn2.to_q"]
    with pytest.raises(InputError):
        resolve_targets(unet, "all", ["nothing.matches.this"])
    xl = resolve_targets(load(tiny_sdxl_dir).pipe.unet, "blora")
    assert xl and {n.split(".transformer_blocks")[0] for n in xl} == {"up_blocks.0.attentions.0",
                                                                      "up_blocks.0.attentions.1"}


def test_fine_levels_on_the_sd15_layout_freezes_the_coarse_half():
    from diffusers import UNet2DConditionModel

    from seal_engine.personalize.layer_restriction import module_sides

    unet = UNet2DConditionModel(sample_size=64, block_out_channels=(8,) * 4, layers_per_block=1,
                                down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
                                up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3, cross_attention_dim=8,
                                attention_head_dim=2, norm_num_groups=4)
    targets = resolve_targets(unet, "fine-levels", latent_side=64)
    assert set(module_sides(unet, targets, 64).values()) == {64, 32}  # 16x16 and the 8x8 mid block stay frozen
    assert {t.rsplit(".attn2.", 1)[1] for t in targets} == {"to_q", "to_k", "to_v", "to_out.0"}


def _base_weights(unet):
    """Every non-LoRA weight, by its name before peft wrapped the module."""
    return {k.replace(".base_layer", ""): v.detach().clone() for k, v in unet.state_dict().items() if "lora_" not in k}


@pytest.mark.parametrize("restricted", [True, False])
def test_frozen_layers_bit_identical_allowed_layers_changed(tmp_path, tiny_sd15_dir, restricted):
    from seal_engine.personalize import personalize

    original = load(tiny_sd15_dir)
    before = _base_weights(original.pipe.unet)
    te_before = {k: v.clone() for k, v in original.pipe.text_encoder.state_dict().items()}
    vae_before = {k: v.clone() for k, v in original.pipe.vae.state_dict().items()}
    model = load(tiny_sd15_dir)
    ref = reference_image()
    cfg = short_config(base="ti+lora", lora_lr=1e-2, layer_restriction=restricted)
    concept = personalize(model, ref, ref.getchannel("A"), cfg, tmp_path / "c")
    unet = model.pipe.unet
    after = _base_weights(unet)
    assert after.keys() == before.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)  # base weights never move
    targets = concept.meta["lora"]["target_modules"]
    if restricted:
        assert concept.meta["lora"]["preset"] == "decoder-attn"
        assert targets and all(t.startswith("up_blocks") and (".attn1." in t or ".attn2." in t) for t in targets)
        # the encoder and the mid block stay frozen; the decoder levels with attention adapt
        assert concept.meta["component_records"]["layer_restriction"]["adapted_map_sides"] == [4, 8]
    else:
        assert concept.meta["lora"]["preset"] == "all" and any(t.startswith("down_blocks") for t in targets)
    modules = dict(unet.named_modules())
    lora_modules = {n for n, m in modules.items() if hasattr(m, "lora_B") and "seal" in getattr(m, "lora_B", {})}
    assert lora_modules == set(targets)  # adapters exactly on the allowed layers
    for name in targets:  # and each allowed layer's effective weight changed (B starts at zero)
        assert modules[name].lora_B["seal"].weight.abs().sum() > 0
    assert all(torch.equal(vae_before[k], v) for k, v in model.pipe.vae.state_dict().items())
    te_after = model.pipe.text_encoder.state_dict()
    assert all(torch.equal(te_before[k], te_after[k]) for k in te_before if "token_embedding" not in k)
