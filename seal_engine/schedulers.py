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
