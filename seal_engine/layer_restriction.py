"""SEAL component 3: structure-aware layer restriction (which U-Net layers may adapt).

Layout lives in the inner, coarse layers and appearance in the outer ones (P+),
and B-LoRA found an SDXL character's content in `up_blocks.0.attentions.0`
(style in `.1`). So LoRA is attached only to the allowed Linear modules; every
other weight stays frozen and bit-identical. Restriction is a named,
inspectable preset or a custom list of module-name patterns (fnmatch globs), so
it can be measured by ablation instead of trusted.
"""

from __future__ import annotations

import fnmatch
import re
from typing import Any, Iterable

from .architecture import Architecture
from .errors import InputError

_PROJ = r"(to_q|to_k|to_v|to_out\.0)"

PRESETS: dict[str, str] = {
    # Custom Diffusion: cross-attention key/value only; restricted to the decoder.
    "decoder-kv": r"^up_blocks\.\d+\.attentions\.\d+\.transformer_blocks\.\d+\.attn2\.(to_k|to_v)$",
    # every attention projection in the decoder
    "decoder-attn": rf"^up_blocks\.\d+\.attentions\.\d+\.transformer_blocks\.\d+\.attn[12]\.{_PROJ}$",
    # B-LoRA (SDXL): the two up_blocks.0 attention blocks, attn1 and attn2 projections
    "blora": rf"^up_blocks\.0\.attentions\.[01]\.transformer_blocks\.\d+\.attn[12]\.{_PROJ}$",
    # unrestricted DreamBooth-LoRA baseline: every attention projection
    "all": rf"^(down_blocks|mid_block|up_blocks)\..*\.attn[12]\.{_PROJ}$",
}
PRESET_HELP = {
    "decoder-kv": "cross-attention key/value in the decoder (SD1.x/SD2.x default)",
    "decoder-attn": "every attention projection in the decoder",
    "blora": "B-LoRA's two up_blocks.0 attention blocks (SDXL default)",
    "all": "every attention projection (no restriction; the baseline)",
}


def default_preset(arch: Architecture) -> str:
    return "blora" if arch.is_xl else "decoder-kv"


def _linear_names(unet: Any) -> list[str]:
    import torch

    names = []
    for name, mod in unet.named_modules():
        if ".lora_" in name or name.endswith(".base_layer"):
            continue  # peft's own sub-modules (a U-Net that already carries an adapter)
        if isinstance(mod, torch.nn.Linear) or isinstance(getattr(mod, "base_layer", None), torch.nn.Linear):
            names.append(name)
    return names


def resolve_targets(unet: Any, preset: str = "all", patterns: Iterable[str] | None = None) -> list[str]:
    """Full names of the Linear modules that may adapt (peft `target_modules`).

    Custom `patterns` (fnmatch globs such as `up_blocks.1.*attn2.to_k`) override the preset.
    """
    names = _linear_names(unet)
    patterns = [p.strip() for p in (patterns or []) if p and p.strip()]
    if patterns:
        chosen = [n for n in names if any(fnmatch.fnmatchcase(n, p) for p in patterns)]
        what = f"the patterns {', '.join(patterns)}"
    else:
        if preset not in PRESETS:
            raise InputError(f"Unknown layer preset '{preset}'; choose one of {', '.join(PRESETS)}.")
        rx = re.compile(PRESETS[preset])
        chosen = [n for n in names if rx.match(n)]
        what = f"the preset '{preset}'"
    if not chosen:
        raise InputError(f"No U-Net layer matches {what}; check the layer names (e.g. up_blocks.1.*attn2.to_k).")
    return chosen


def lora_config(targets: list[str], rank: int) -> Any:
    """The DreamBooth-LoRA peft config (alpha = rank, gaussian init) on exactly `targets`."""
    from peft import LoraConfig

    return LoraConfig(r=rank, lora_alpha=rank, init_lora_weights="gaussian", target_modules=targets)


def trainable_summary(module: Any) -> dict[str, int]:
    """Counts of trainable and frozen parameters (recorded in the concept)."""
    trainable = sum(p.numel() for p in module.parameters() if p.requires_grad)
    total = sum(p.numel() for p in module.parameters())
    return {"trainable": int(trainable), "frozen": int(total - trainable)}
