"""SEAL component 3: structure-aware layer restriction (which U-Net layers may adapt).

Layout lives in the inner, coarse layers and appearance in the outer ones (P+), and
B-LoRA found an SDXL character's content in `up_blocks.0.attentions.0` (style in `.1`).
So LoRA is attached only to the allowed Linear modules; every other weight stays frozen
and bit-identical. Restriction is a named, inspectable preset or a custom list of
module-name patterns (fnmatch globs), so it can be measured by ablation instead of trusted.

`decoder-attn` (the SD1.x/SD2.x default): the encoder and the mid block, which read the
noisy image's global layout, stay frozen; the decoder's attention projections adapt (their
query/key projections give the attention loss a gradient path in the LoRA phase).
`fine-levels` is chosen by feature-map size, for any U-Net: each attention block's side is
read off the U-Net's layout, the coarser half of the resolution levels (global layout) stays
frozen and the cross-attention projections of the finer half (texture, colour, detail) adapt.
It was the default until measured on the toy world's protocol (docs/personalization.md):
inside SEAL it cost 0.15 identity against `decoder-attn` [+0.06, +0.26] and lowered pose
rigidity by nothing (4.3% against 4.1%); the toy creatures' shape is decided at the 8x8 level
it freezes. `decoder-kv` (Custom Diffusion's choice) includes the coarsest decoder level,
which holds layout.
"""

from __future__ import annotations

import fnmatch
import re
from typing import Any, Iterable

from typing import TYPE_CHECKING, Optional

from ..architecture import Architecture
from ..errors import InputError
from .component import Component

if TYPE_CHECKING:  # pragma: no cover
    from .trainer import Trainer

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
FINE_LEVELS = "fine-levels"
"""Chosen by feature-map size (see the module docstring), so it has no fixed pattern."""
_FINE_PROJ = re.compile(rf"\.attn2\.{_PROJ}$")
PRESET_HELP = {
    FINE_LEVELS: "cross-attention projections at the finer half of the resolution levels",
    "decoder-kv": "cross-attention key/value in the decoder (Custom Diffusion)",
    "decoder-attn": "every attention projection in the decoder; encoder and mid block frozen (SD1.x/SD2.x default)",
    "blora": "B-LoRA's two up_blocks.0 attention blocks (SDXL default)",
    "all": "every attention projection (no restriction; the baseline)",
}


PRESET_NAMES = (FINE_LEVELS, *PRESETS)


def default_preset(arch: Architecture) -> str:
    return "blora" if arch.is_xl else "decoder-attn"


def module_sides(unet: Any, names: Iterable[str], latent_side: int) -> dict[str, int]:
    """Feature-map side of each attention module name (those inside down/mid/up blocks)."""
    from .attention_maps import block_side

    out = {}
    for n in names:
        side = block_side(unet, n, latent_side)
        if side is not None:
            out[n] = side
    return out


def fine_level_targets(unet: Any, names: list[str], latent_side: int) -> list[str]:
    """attn2 projections whose feature maps are at the finer half of the attention resolutions
    (the mid block, the coarsest of all, never adapts)."""
    candidates = [n for n in names if _FINE_PROJ.search(n) and not n.startswith("mid_block")]
    sides = module_sides(unet, candidates, latent_side)
    levels = sorted(set(sides.values()), reverse=True)
    keep = set(levels[: max(1, (len(levels) + 1) // 2)])
    return [n for n in candidates if sides.get(n) in keep]


def _linear_names(unet: Any) -> list[str]:
    import torch

    names = []
    for name, mod in unet.named_modules():
        if ".lora_" in name or name.endswith(".base_layer"):
            continue  # peft's own sub-modules (a U-Net that already carries an adapter)
        if isinstance(mod, torch.nn.Linear) or isinstance(getattr(mod, "base_layer", None), torch.nn.Linear):
            names.append(name)
    return names


def resolve_targets(unet: Any, preset: str = "all", patterns: Iterable[str] | None = None,
                    latent_side: Optional[int] = None) -> list[str]:
    """Full names of the Linear modules that may adapt (peft `target_modules`).

    Custom `patterns` (fnmatch globs such as `up_blocks.1.*attn2.to_k`) override the preset.
    `latent_side` sizes the levels for `fine-levels` (default: the U-Net's sample size).
    """
    names = _linear_names(unet)
    patterns = [p.strip() for p in (patterns or []) if p and p.strip()]
    if patterns:
        chosen = [n for n in names if any(fnmatch.fnmatchcase(n, p) for p in patterns)]
        what = f"the patterns {', '.join(patterns)}"
    elif preset == FINE_LEVELS:
        side = latent_side or int(getattr(unet.config, "sample_size", 64) or 64)
        chosen = fine_level_targets(unet, names, side)
        what = f"the preset '{preset}'"
    else:
        if preset not in PRESETS:
            raise InputError(f"Unknown layer preset '{preset}'; choose one of {', '.join(PRESET_NAMES)}.")
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


class LayerRestriction(Component):
    """Chooses which layers the LoRA phase may adapt (without it: every attention projection)."""

    name = "layer_restriction"

    def configure(self, t: "Trainer") -> None:
        t.lora_preset = t.cfg.layer_preset
        t.lora_patterns = t.cfg.layer_patterns

    def record(self, t: "Trainer") -> dict:
        sides = module_sides(t.pipe.unet, t.lora_targets, t.latent_side) if t.lora_targets else {}
        return {"preset": t.cfg.layer_preset, "patterns": t.cfg.layer_patterns,
                "adapted_map_sides": sorted(set(sides.values())), "targets": len(t.lora_targets)}
