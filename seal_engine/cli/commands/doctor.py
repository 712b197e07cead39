"""`seal doctor`: what a bug report needs to know about this machine."""

from __future__ import annotations

import argparse
import platform
import sys

NAME = "doctor"
HELP = "show versions, devices, VRAM and whether the default model is cached"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    from importlib import metadata

    from ... import __version__
    from ...devices import device_report
    from ...model_source import DEFAULT_MODEL, is_cached
    from ...paths import models_cache_dir, seal_home

    def version(dist: str) -> str:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return "not installed"

    rows = [
        ("seal", __version__),
        ("python", f"{platform.python_version()} ({sys.executable})"),
        ("platform", platform.platform()),
    ]
    rows += [(d, version(d)) for d in ("torch", "diffusers", "transformers", "peft", "huggingface_hub",
                                       "safetensors", "Pillow", "PySide6-Essentials", "segment-anything")]
    rows += [(f"device.{k}", str(v)) for k, v in device_report().items()]
    rows += [
        ("data dir", str(seal_home())),
        ("model cache", str(models_cache_dir())),
        ("default model", f"{DEFAULT_MODEL} ({_cache_state()})"),
    ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    return 0


def _cache_state() -> str:
    """Cached, or what the first run will download on this machine (fp16 files on a GPU, fp32 on CPU)."""
    from ...model_source import DEFAULT_MODEL, download_size_gb, is_cached, preferred_variant

    variant = preferred_variant()
    if is_cached(DEFAULT_MODEL, variant=variant):
        return "cached"
    return f"not cached; about {download_size_gb(variant):g} GB to download ({variant or 'fp32'} weights)"
