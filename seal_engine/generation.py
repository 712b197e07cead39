"""Text-to-image generation with recorded settings, per-step progress and cancel.

One image per seed, each from its own CPU `torch.Generator`, so a seed gives the
same pixels on the same machine and the same starting noise whatever the batch
it ran in (batched kernels may round a pixel level differently). That is what
lets a sticker pack generate all variants of an item in ONE pipeline call
(`batch_size`): the GPU runs one wide U-Net call per step instead of one per
image, and every variant is still reproducible from its own recorded seed.
Classifier-free guidance is already one batch in diffusers: the pipelines
concatenate the unconditional and the text embeddings and call the U-Net once
per step on `torch.cat([latents] * 2)`, then split the prediction.
The pipeline's `callback_on_step_end` reports progress and checks the cancel
token, so a cancel lands within one denoising step. A batch that runs out of
GPU memory is retried in halves, so a large batch never fails a job that one
image at a time would have finished.
"""

from __future__ import annotations

import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional

from .errors import InputError, OutOfMemoryError
from .loading import LoadedModel, oom_guard
from .progress import CancelToken, EtaClock, ProgressCallback, ProgressEvent, no_progress
from .schedulers import SCHEDULERS, set_scheduler


@dataclass
class GenerationSettings:
    prompt: str
    negative_prompt: str = ""
    seeds: list[int] = field(default_factory=lambda: [0])
    steps: int = 30
    guidance_scale: float = 7.5
    width: Optional[int] = None  # None: the model's native size
    height: Optional[int] = None
    scheduler: str = "default"
    batch_size: int = 1

    def validate(self) -> None:
        if not self.prompt.strip():
            raise InputError("The prompt is empty; describe the sticker to generate.")
        if not self.seeds:
            raise InputError("Give at least one seed.")
        if any(s < 0 or s >= 2**63 for s in self.seeds):
            raise InputError("Seeds must be whole numbers from 0 to 2^63-1.")
        if not 1 <= self.steps <= 1000:
            raise InputError(f"Steps must be between 1 and 1000, not {self.steps}.")
        if not 0 <= self.guidance_scale <= 50:
            raise InputError(f"Guidance scale must be between 0 and 50, not {self.guidance_scale}.")
        for side in (self.width, self.height):
            if side is not None and (side < 8 or side > 4096 or side % 8):
                raise InputError(f"Image sides must be multiples of 8 between 8 and 4096, not {side}.")
        if self.scheduler not in SCHEDULERS:
            raise InputError(f"Unknown scheduler '{self.scheduler}'; choose one of {', '.join(SCHEDULERS)}.")
        if self.batch_size < 1:
            raise InputError("Batch size must be at least 1.")


@dataclass
class GeneratedImage:
    image: Any  # PIL.Image
    seed: int
    settings: GenerationSettings
    record: dict  # everything needed to reproduce it (the JSON sidecar)


def parse_size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise InputError(f"Size '{text}' is not WIDTHxHEIGHT, for example 512x512.") from None
    return w, h


def native_size(model: LoadedModel) -> int:
    pipe = model.pipe
    return int(pipe.unet.config.sample_size) * int(pipe.vae_scale_factor)


MAX_BATCH = {"cuda": 16, "mps": 4, "cpu": 4}
"""Most images per pipeline call when a caller batches variants. A GPU gains the most from wide
batches and its out-of-memory error is recoverable (the batch is split); on CPU and MPS a batch
gains little at full size and running out of memory is not always a catchable error."""


def batch_size_for(model: LoadedModel, wanted: int) -> int:
    device = str(model.device).split(":")[0]
    return max(1, min(wanted, MAX_BATCH.get(device, 1)))


def generate(
    model: LoadedModel,
    settings: GenerationSettings,
    *,
    progress: ProgressCallback = no_progress,
    cancel: Optional[CancelToken] = None,
) -> list[GeneratedImage]:
    import torch

    settings.validate()
    pipe = model.pipe
    set_scheduler(pipe, settings.scheduler)
    size = native_size(model)
    width, height = settings.width or size, settings.height or size
    total = len(settings.seeds) * settings.steps
    clock = EtaClock(total)
    done = 0
    results: list[GeneratedImage] = []

    def on_step_end(_pipe, step, _timestep, kwargs):
        nonlocal done
        done += batch_now  # one denoising step advances every image of the batch
        progress(ProgressEvent("generate", done, total, eta_s=clock.eta(done)))
        if cancel is not None:
            cancel.raise_if_cancelled()
        return kwargs

    def run_chunk(chunk: list[int]) -> None:
        nonlocal done, batch_now
        if cancel is not None:
            cancel.raise_if_cancelled()
        generators = [torch.Generator(device="cpu").manual_seed(s) for s in chunk]
        before, batch_now = done, len(chunk)
        began = time.perf_counter()
        try:
            with oom_guard("generating"), torch.inference_mode():
                out = pipe(
                    prompt=[settings.prompt] * len(chunk),
                    negative_prompt=[settings.negative_prompt] * len(chunk) if settings.negative_prompt else None,
                    num_inference_steps=settings.steps,
                    guidance_scale=settings.guidance_scale,
                    width=width,
                    height=height,
                    generator=generators,
                    callback_on_step_end=on_step_end,
                )
        except OutOfMemoryError:
            if len(chunk) == 1:
                raise
            done = before  # the halves report these steps again
            half = (len(chunk) + 1) // 2
            run_chunk(chunk[:half])
            run_chunk(chunk[half:])
            return
        seconds = (time.perf_counter() - began) / len(chunk)
        for seed, image in zip(chunk, out.images):
            record = {
                **asdict(settings),
                "seed": seed,
                "seeds": None,
                "width": width,
                "height": height,
                "model": model.model_id,
                "architecture": model.arch.value,
                "device": model.device,
                "dtype": model.dtype_label,
                "concept": model.extras.get("concept"),
                "seconds": round(seconds, 3),
                "batch": len(chunk),
                "host": platform.node(),
            }
            results.append(GeneratedImage(image=image, seed=seed, settings=settings, record=record))

    batch_now = 1
    seeds = list(settings.seeds)
    for start in range(0, len(seeds), settings.batch_size):
        run_chunk(seeds[start:start + settings.batch_size])
    return results


def write_outputs(results: list[GeneratedImage], out_dir: Path, stem: str = "seed") -> list[Path]:
    """One PNG per image plus a JSON sidecar with every setting, each written atomically."""
    from .atomic import atomic_save_image, atomic_write_json

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for item in results:
        png = out_dir / f"{stem}-{item.seed}.png"
        atomic_save_image(item.image, png)
        atomic_write_json(png.with_suffix(".json"), item.record)
        paths.append(png)
    return paths
