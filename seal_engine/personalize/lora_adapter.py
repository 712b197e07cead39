"""The LoRA phase's adapter: attached where the layer restriction says, written as diffusers reads it.

peft does the low-rank layers (diffusers' `add_adapter`, `get_peft_model_state_dict`); this module
only decides the adapter's name, its trainable parameters and how it is saved.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..concept import LORA_FILE

if TYPE_CHECKING:  # pragma: no cover
    from .trainer import Trainer


def attach(t: "Trainer") -> list[Any]:
    """Adds this run's LoRA adapter on the layers the layer restriction chose (peft, through diffusers'
    `add_adapter`), under a fresh name when the model already holds another concept's, and returns
    its parameters as fp32 master weights; every other parameter stays frozen."""
    import torch

    from .layer_restriction import lora_config, resolve_targets

    cfg, unet = t.cfg, t.pipe.unet
    t.lora_targets = resolve_targets(unet, t.lora_preset or "all", t.lora_patterns,
                                     latent_side=t.latent_side)
    existing = set(getattr(unet, "peft_config", {}) or {}) if getattr(unet, "_hf_peft_config_loaded", False) else set()
    name, i = "seal", 1
    while name in existing:
        i += 1
        name = f"seal_{i}"
    with torch.random.fork_rng(devices=[]), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*multiple adapters.*")  # a second concept on one model
        torch.manual_seed(cfg.seed)
        unet.add_adapter(lora_config(t.lora_targets, int(cfg.lora_rank)), adapter_name=name)
    t.adapter = name
    params = []
    total = sum(p.numel() for p in unet.parameters())
    for pname, p in unet.named_parameters():
        if p.requires_grad:
            if f".{name}." not in pname:
                p.requires_grad_(False)  # another concept's adapter: leave it alone
                continue
            p.data = p.data.float()  # fp32 master weights (diffusers' cast_training_params)
            params.append(p)
    trainable = sum(p.numel() for p in params)
    t.lora_counts = {"trainable_params": int(trainable), "frozen_params": int(total - trainable)}
    return params


def lora_writer(t: "Trainer") -> Any:
    """Writes the adapter in diffusers' LoRA format, so a plain diffusers `load_lora_weights` reads it."""
    from diffusers.utils import convert_state_dict_to_diffusers
    from peft.utils import get_peft_model_state_dict

    unet, name = t.pipe.unet, t.adapter
    state = convert_state_dict_to_diffusers(get_peft_model_state_dict(unet, adapter_name=name))
    meta = unet.peft_config[name].to_dict()
    meta["target_modules"] = sorted(meta.get("target_modules") or [])

    def write(stage: Path) -> None:
        type(t.pipe).save_lora_weights(str(stage), unet_lora_layers=state, safe_serialization=True,
                                       weight_name=LORA_FILE, unet_lora_adapter_metadata=meta)

    return write
