"""Which Stable Diffusion family a model belongs to (SD1.x, SD2.x, SDXL).

Detected from a diffusers folder's configs, or from a single checkpoint's keys
through diffusers' own `infer_diffusers_model_type` (kept in sync with the
checkpoints diffusers can load, so we do not keep a key table of our own).
"""

from __future__ import annotations

import enum
import json
from pathlib import Path
from typing import Any, Mapping

from .errors import ModelError


class Architecture(str, enum.Enum):
    SD1 = "sd1"
    SD2 = "sd2"
    SDXL = "sdxl"

    @property
    def label(self) -> str:
        return {"sd1": "SD1.x", "sd2": "SD2.x", "sdxl": "SDXL"}[self.value]

    @property
    def is_xl(self) -> bool:
        return self is Architecture.SDXL


def from_unet_config(unet_config: Mapping[str, Any], pipeline_class: str = "") -> Architecture:
    if "XL" in pipeline_class or unet_config.get("addition_embed_type") == "text_time":
        return Architecture.SDXL
    cross = unet_config.get("cross_attention_dim")
    if cross == 1024 or (unet_config.get("use_linear_projection") and cross != 768):
        return Architecture.SD2
    return Architecture.SD1


def detect_folder(folder: Path) -> Architecture:
    folder = Path(folder)
    index = folder / "model_index.json"
    unet_cfg = folder / "unet" / "config.json"
    if not index.is_file() or not unet_cfg.is_file():
        raise ModelError(
            f"{folder} is not a diffusers model folder (model_index.json and unet/config.json are missing)."
        )
    try:
        pipeline_class = json.loads(index.read_text()).get("_class_name", "")
        return from_unet_config(json.loads(unet_cfg.read_text()), pipeline_class)
    except json.JSONDecodeError as err:
        raise ModelError(f"{folder} has a broken model config ({err.msg}).") from err


def detect_checkpoint(state_dict: Mapping[str, Any]) -> Architecture:
    from diffusers.loaders.single_file_utils import infer_diffusers_model_type

    kind = infer_diffusers_model_type(state_dict)
    if kind.startswith("xl") or kind.startswith("playground"):
        return Architecture.SDXL
    if kind.startswith("v2"):
        return Architecture.SD2
    if kind.startswith("v1"):
        return Architecture.SD1
    raise ModelError(f"This checkpoint is a '{kind}' model; SEAL supports SD1.x, SD2.x and SDXL U-Net models.")
