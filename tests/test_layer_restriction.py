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
        assert concept.meta["lora"]["preset"] == "decoder-kv"
        assert all(t.startswith("up_blocks.") and t.endswith(("attn2.to_k", "attn2.to_v")) for t in targets)
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
