"""Device and precision choice: CUDA, then MPS, then CPU; half precision on GPUs.

bf16 is preferred on CUDA cards that support it (no fp16 overflow in the VAE or
in training), fp16 otherwise and on MPS, fp32 on CPU where half precision is
slow or unsupported. Every choice can be overridden.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from .errors import InputError

DEVICE_CHOICES = ("auto", "cuda", "mps", "cpu")
DTYPE_CHOICES = ("auto", "fp32", "fp16", "bf16")


@dataclass
class RuntimeOptions:
    """How a model runs: device, precision and the low-VRAM switches."""

    device: str = "auto"
    dtype: str = "auto"
    attention_slicing: bool = False
    vae_slicing: bool = False
    vae_tiling: bool = False
    cpu_offload: bool = False
    allow_pickle: bool = False
    offline: bool = False  # never reach the hub, use the cache only

    @classmethod
    def low_vram(cls, **overrides: Any) -> "RuntimeOptions":
        opts = cls(attention_slicing=True, vae_slicing=True, vae_tiling=True, cpu_offload=True)
        for key, value in overrides.items():
            setattr(opts, key, value)
        return opts


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def mps_available() -> bool:
    import torch

    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())


def select_device(requested: str = "auto") -> str:
    requested = (requested or "auto").lower()
    if requested not in DEVICE_CHOICES and not requested.startswith("cuda:"):
        raise InputError(f"Unknown device '{requested}'; choose one of {', '.join(DEVICE_CHOICES)}.")
    if requested == "auto":
        if cuda_available():
            return "cuda"
        if mps_available():
            return "mps"
        return "cpu"
    if requested.startswith("cuda") and not cuda_available():
        raise InputError("CUDA was requested but no CUDA GPU is available; use --device cpu or auto.")
    if requested == "mps" and not mps_available():
        raise InputError("MPS was requested but is not available on this machine; use --device cpu or auto.")
    return requested


def select_dtype(device: str, requested: str = "auto") -> Any:
    import torch

    requested = (requested or "auto").lower()
    table = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
    if requested == "auto":
        if device.startswith("cuda"):
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        if device == "mps":
            return torch.float16
        return torch.float32
    if requested not in table:
        raise InputError(f"Unknown precision '{requested}'; choose one of {', '.join(DTYPE_CHOICES)}.")
    return table[requested]


def dtype_name(dtype: Any) -> str:
    return {"torch.float32": "fp32", "torch.float16": "fp16", "torch.bfloat16": "bf16"}.get(str(dtype), str(dtype))


def device_report() -> dict[str, Optional[str]]:
    """What `seal doctor` prints about accelerators."""
    import torch

    info: dict[str, Optional[str]] = {"cuda": "no", "mps": "yes" if mps_available() else "no"}
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        info["cuda"] = f"yes ({torch.cuda.device_count()} device(s), CUDA {torch.version.cuda})"
        info["gpu"] = props.name
        info["vram_gib"] = f"{props.total_memory / 2**30:.1f}"
    info["selected"] = select_device("auto")
    info["dtype"] = dtype_name(select_dtype(info["selected"] or "cpu"))
    return info
