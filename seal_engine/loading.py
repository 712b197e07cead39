"""Load a Stable Diffusion pipeline from any source, on the right device and precision.

Everything (the tiny test models included) goes through `load_pipeline`, so the
tests exercise the same path a user's real model takes. diffusers does the
heavy lifting: `from_pretrained` for folders and hub snapshots,
`from_single_file` for checkpoints (it reads pickles with torch's weights-only
mode, which we rely on when the user allows a pickle).
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Optional

from .architecture import Architecture, detect_checkpoint, detect_folder
from .devices import RuntimeOptions, dtype_name, select_device, select_dtype
from .errors import ModelError, OfflineError, OutOfMemoryError
from .model_source import DEFAULT_MODEL, FP16_VARIANT, ResolvedModel, SourceKind, hub_offline, resolve
from .paths import models_cache_dir
from .progress import CancelToken, ProgressCallback, ProgressEvent, no_progress

SINGLE_FILE_CONFIGS = {
    Architecture.SD1: DEFAULT_MODEL,
    Architecture.SD2: "stabilityai/stable-diffusion-2-1",
    Architecture.SDXL: "stabilityai/stable-diffusion-xl-base-1.0",
}
"""Hub repos whose configs describe a single-file checkpoint of each family."""


_UNREACHABLE = {"LocalEntryNotFoundError", "OfflineModeIsEnabled", "ConnectError", "ConnectTimeout",
                "ReadTimeout", "HfHubHTTPError"}


@dataclass
class LoadedModel:
    pipe: Any
    arch: Architecture
    source: ResolvedModel
    device: str
    dtype: Any
    options: RuntimeOptions
    load_seconds: float = 0.0
    extras: dict = field(default_factory=dict)  # e.g. the concept applied, set by personalization

    @property
    def model_id(self) -> str:
        return self.source.repo_id or str(self.source.path)

    @property
    def dtype_label(self) -> str:
        return dtype_name(self.dtype)

    @property
    def execution_device(self) -> str:
        return str(getattr(self.pipe, "_execution_device", self.device))


def quiet_libraries() -> None:
    """diffusers/transformers log and draw bars on stderr; our own progress replaces them."""
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    for lib in (diffusers_logging, transformers_logging):
        lib.set_verbosity_error()
        lib.disable_progress_bar()


def pipeline_class(arch: Architecture):
    from diffusers import StableDiffusionPipeline, StableDiffusionXLPipeline

    return StableDiffusionXLPipeline if arch.is_xl else StableDiffusionPipeline


OOM_ADVICE = (
    "the GPU ran out of memory; turn on the low-VRAM options (attention slicing, VAE slicing and "
    "tiling, model CPU offload), lower the image size or batch, or use fp16/bf16."
)


@contextlib.contextmanager
def oom_guard(what: str) -> Iterator[None]:
    """Turn torch's out-of-memory error into one sentence that says what to change."""
    import torch

    try:
        yield
    except torch.OutOfMemoryError as err:
        with contextlib.suppress(Exception):
            torch.cuda.empty_cache()
        raise OutOfMemoryError(f"While {what}, {OOM_ADVICE}") from err


def _read_single_file(resolved: ResolvedModel) -> Architecture:
    from diffusers.loaders.single_file_utils import load_single_file_checkpoint

    try:
        state = load_single_file_checkpoint(str(resolved.path), local_files_only=True)
    except Exception as err:
        raise ModelError(f"{resolved.path.name} cannot be read as a checkpoint ({type(err).__name__}).") from err
    return detect_checkpoint(state)


def load_pipeline(
    spec: str | os.PathLike = DEFAULT_MODEL,
    options: Optional[RuntimeOptions] = None,
    *,
    config: Optional[str | os.PathLike] = None,
    progress: ProgressCallback = no_progress,
    cancel: Optional[CancelToken] = None,
) -> LoadedModel:
    """Resolve, load and place a pipeline. `config` only matters for single-file checkpoints:
    a diffusers folder (or hub id) whose configs describe the checkpoint's architecture."""
    options = options or RuntimeOptions()
    start = time.perf_counter()
    quiet_libraries()
    device = select_device(options.device)
    dtype = select_dtype(device, options.dtype)
    # Half precision on a GPU: fetch and read the hub repo's fp16 weight files (half the download).
    variant = FP16_VARIANT if dtype_name(dtype) in ("fp16", "bf16") else None
    resolved = resolve(spec, allow_pickle=options.allow_pickle, offline=options.offline,
                       progress=progress, cancel=cancel, variant=variant)
    progress(ProgressEvent("load", 0, 1, message=f"Loading {resolved.spec}"))

    if resolved.kind in (SourceKind.FOLDER, SourceKind.HUB):
        arch = detect_folder(resolved.path)
        cls = pipeline_class(arch)
        try:
            extra = {} if arch.is_xl else dict(safety_checker=None, requires_safety_checker=False)
            if resolved.variant:
                extra["variant"] = resolved.variant
            pipe = cls.from_pretrained(str(resolved.path), dtype=dtype, local_files_only=True, **extra)
        except (OSError, ValueError, KeyError) as err:
            raise ModelError(f"{resolved.spec} could not be loaded as a Stable Diffusion pipeline: "
                             f"{' '.join(str(err).split())[:200]}") from err
    else:
        arch = _read_single_file(resolved)
        cls = pipeline_class(arch)
        cfg = str(config) if config else SINGLE_FILE_CONFIGS[arch]
        local_only = hub_offline(options.offline)
        try:
            pipe = cls.from_single_file(str(resolved.path), config=cfg, dtype=dtype,
                                        local_files_only=local_only, cache_dir=str(models_cache_dir()))
        except Exception as err:
            unreachable = type(err).__name__ in _UNREACHABLE or isinstance(err, (ConnectionError, TimeoutError))
            if config is None and not Path(cfg).is_dir() and (local_only or unreachable):
                raise OfflineError(
                    f"{resolved.path.name} is an {arch.label} checkpoint whose configuration files are not cached "
                    f"and the hub cannot be reached; pass --config with a diffusers folder of the same "
                    f"architecture, or connect once."
                ) from err
            raise ModelError(f"{resolved.path.name} could not be loaded: {' '.join(str(err).split())[:200]}") from err
        if getattr(pipe, "safety_checker", None) is not None:
            pipe.safety_checker = None

    pipe.set_progress_bar_config(disable=True)
    with oom_guard("loading the model"):
        _place(pipe, device, options)
    progress(ProgressEvent("load", 1, 1, message=f"{arch.label} on {device} ({dtype_name(dtype)})"))
    return LoadedModel(pipe=pipe, arch=arch, source=resolved, device=device, dtype=dtype, options=options,
                       load_seconds=time.perf_counter() - start)


def _place(pipe: Any, device: str, options: RuntimeOptions) -> None:
    if options.attention_slicing:
        pipe.enable_attention_slicing()
    if options.vae_slicing:
        pipe.vae.enable_slicing()
    if options.vae_tiling:
        pipe.vae.enable_tiling()
    if options.cpu_offload and device != "cpu":
        pipe.enable_model_cpu_offload(device=device)
    else:
        pipe.to(device)
