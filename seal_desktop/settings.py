"""Typed application settings, declared once with defaults and descriptions,
validated and persisted as JSON (krita-ai-diffusion's pattern). Qt-free."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Optional

SETTINGS_VERSION = 1
MODEL_SOURCE_KINDS = ("hub", "folder", "file")
DEVICES = ("auto", "cuda", "mps", "cpu")
PRECISIONS = ("auto", "fp32", "fp16", "bf16")
SCHEDULES = ("paper", "fast", "quality")
SCHEDULE_LABELS = {
    "paper": "paper: 20 steps after the image start (seconds on a GPU)",
    "fast": "fast: 200 steps (previews, dry runs)",
    "quality": "quality: 800 steps (best identity)",
}


def _default_model() -> str:
    # the constant lives in seal_engine.model_source, which imports nothing heavy
    from seal_engine.model_source import DEFAULT_MODEL

    return DEFAULT_MODEL


@dataclass
class Settings:
    model_source: str = field(default="hub", metadata={"doc": "hub id, local diffusers folder or single file"})
    model: str = field(default_factory=_default_model, metadata={"doc": "hub id, folder or .safetensors path"})
    device: str = field(default="auto", metadata={"doc": "auto picks CUDA, then MPS, then CPU"})
    precision: str = field(default="auto", metadata={"doc": "auto: bf16/fp16 on GPUs, fp32 on CPU"})
    attention_slicing: bool = field(default=False, metadata={"doc": "less VRAM, a little slower"})
    vae_slicing: bool = field(default=False, metadata={"doc": "decode one image at a time"})
    vae_tiling: bool = field(default=False, metadata={"doc": "decode in tiles (large images)"})
    cpu_offload: bool = field(default=False, metadata={"doc": "keep idle parts of the model in RAM"})
    allow_pickle: bool = field(default=False, metadata={"doc": "allow .ckpt/.bin checkpoints (unsafe)"})
    offline: bool = field(default=False, metadata={"doc": "never reach the model hub"})
    sam_checkpoint: str = field(default="", metadata={"doc": "segment-anything checkpoint for masks"})
    output_dir: str = field(default="", metadata={"doc": "where jobs and packs are written (empty: library)"})
    steps: int = field(default=30, metadata={"doc": "denoising steps per sticker"})
    variants: int = field(default=2, metadata={"doc": "images generated per preset item"})
    seed: int = field(default=0, metadata={"doc": "first seed; variants use seed+1, seed+2..."})
    schedule: str = field(default="quality", metadata={"doc": "personalization schedule: paper, fast or quality"})
    edit_consistency: bool = field(default=False, metadata={
        "doc": "keep emotion words acting while learning (measured: emotions right more often, "
               "the likeness a little less often, learning about twice as long)"})
    size: int = field(default=0, metadata={"doc": "image side in pixels (0: the model's native size)"})
    author: str = field(default="", metadata={"doc": "default pack author"})

    def validate(self) -> list[str]:
        """One sentence per problem; empty when the settings can be used."""
        problems = []
        if self.model_source not in MODEL_SOURCE_KINDS:
            problems.append(f"Model source must be one of {', '.join(MODEL_SOURCE_KINDS)}.")
        if not self.model.strip():
            problems.append("Choose a model: a hub id like 'org/name', a diffusers folder or a .safetensors file.")
        elif self.model_source == "folder" and not (Path(self.model).expanduser() / "model_index.json").is_file():
            problems.append(f"{self.model} is not a diffusers model folder (model_index.json is missing).")
        elif self.model_source == "file" and not Path(self.model).expanduser().is_file():
            problems.append(f"Model file {self.model} does not exist.")
        elif self.model_source == "hub" and "/" not in self.model:
            problems.append(f"'{self.model}' is not a hub id like 'org/name'.")
        if self.device not in DEVICES and not self.device.startswith("cuda:"):
            problems.append(f"Device must be one of {', '.join(DEVICES)}.")
        if self.precision not in PRECISIONS:
            problems.append(f"Precision must be one of {', '.join(PRECISIONS)}.")
        if self.sam_checkpoint and not Path(self.sam_checkpoint).expanduser().is_file():
            problems.append(f"Segment-anything checkpoint {self.sam_checkpoint} does not exist.")
        if not 1 <= self.steps <= 1000:
            problems.append("Steps must be between 1 and 1000.")
        if not 1 <= self.variants <= 16:
            problems.append("Variants per sticker must be between 1 and 16.")
        if not 0 <= self.seed < 2**63:
            problems.append("The seed must be a whole number from 0 to 2^63-1.")
        if self.schedule not in SCHEDULES:
            problems.append(f"Schedule must be one of {', '.join(SCHEDULES)}.")
        if self.size and (self.size % 8 or not 64 <= self.size <= 2048):
            problems.append("Image size must be 0 (native) or a multiple of 8 from 64 to 2048.")
        return problems

    def runtime_options(self) -> dict[str, Any]:
        """Keyword arguments for seal_engine.devices.RuntimeOptions."""
        return {"device": self.device, "dtype": self.precision, "attention_slicing": self.attention_slicing,
                "vae_slicing": self.vae_slicing, "vae_tiling": self.vae_tiling, "cpu_offload": self.cpu_offload,
                "allow_pickle": self.allow_pickle, "offline": self.offline}

    def output_root(self) -> Path:
        from seal_engine.paths import seal_home

        return Path(self.output_dir).expanduser() if self.output_dir else seal_home() / "jobs"

    # ---- persistence -----------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {"version": SETTINGS_VERSION, **asdict(self)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Settings":
        """Unknown keys are dropped and wrongly typed values fall back to defaults (migration by tolerance)."""
        default = cls()
        values = {}
        for f in fields(cls):
            if f.name in data:
                value = data[f.name]
                expected = type(getattr(default, f.name))
                if expected is int and isinstance(value, bool):
                    continue
                if isinstance(value, expected) or (expected is float and isinstance(value, int)):
                    values[f.name] = value
        return cls(**values)

    @classmethod
    def doc(cls, name: str) -> str:
        return next(f.metadata.get("doc", "") for f in fields(cls) if f.name == name)


def load_settings(path: Optional[Path] = None) -> Settings:
    if path is None:
        from seal_engine.paths import settings_path

        path = settings_path()
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
        return Settings()
    return Settings.from_json(data) if isinstance(data, dict) else Settings()


def save_settings(settings: Settings, path: Optional[Path] = None) -> None:
    from seal_engine.atomic import atomic_write_json
    from seal_engine.errors import InputError

    problems = settings.validate()
    if problems:
        raise InputError(" ".join(problems))
    if path is None:
        from seal_engine.paths import settings_path

        path = settings_path()
    atomic_write_json(Path(path), settings.to_json())
