"""Named samplers, mapped onto diffusers' scheduler classes.

The names are what the CLI and the app show; the classes and their configs
come from diffusers (`from_config` keeps the model's own beta schedule).
"""

from __future__ import annotations

from typing import Any

from .errors import InputError

SCHEDULERS: dict[str, tuple[str, dict]] = {
    "default": ("", {}),
    "ddim": ("DDIMScheduler", {}),
    "euler": ("EulerDiscreteScheduler", {}),
    "euler-a": ("EulerAncestralDiscreteScheduler", {}),
    "dpm++2m": ("DPMSolverMultistepScheduler", {}),
    "dpm++2m-karras": ("DPMSolverMultistepScheduler", {"use_karras_sigmas": True}),
    "unipc": ("UniPCMultistepScheduler", {}),
    "pndm": ("PNDMScheduler", {}),
}

SAMPLING_PRESETS: dict[str, tuple[str, int]] = {
    "standard": ("default", 30),
    "fast": ("unipc", 12),
}
"""(sampler, steps) per named preset. `fast`: a multistep solver at 12 steps. On the toy world
(benchmarks/toyworld_schedulers.py, 96 prompts, detectors) UniPC 12 and DPM-Solver++ 2M 12 keep
DDIM 20's attribute accuracy (mean 0.998 and 0.997 vs 0.999) at about a third of the time, while
DPM-Solver++ 2M with Karras sigmas drops to 0.844 on that zero-terminal-SNR model, so UniPC,
not the Karras variant, is the preset."""


def sampling_preset(name: str) -> tuple[str, int]:
    if name not in SAMPLING_PRESETS:
        raise InputError(f"Unknown sampling preset '{name}'; choose one of {', '.join(SAMPLING_PRESETS)}.")
    return SAMPLING_PRESETS[name]


def set_scheduler(pipe: Any, name: str) -> None:
    """Swap the pipeline's scheduler in place; 'default' keeps the model's own."""
    import diffusers

    if name not in SCHEDULERS:
        raise InputError(f"Unknown scheduler '{name}'; choose one of {', '.join(SCHEDULERS)}.")
    cls_name, extra = SCHEDULERS[name]
    base = getattr(pipe, "_seal_default_scheduler", None)
    if base is None:
        base = pipe._seal_default_scheduler = pipe.scheduler
    if not cls_name:
        pipe.scheduler = base
        return
    pipe.scheduler = getattr(diffusers, cls_name).from_config(base.config, **extra)
