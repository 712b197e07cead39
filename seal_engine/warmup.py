"""Import the engine's job path ahead of the first job.

Why: importing torch, diffusers and their C extensions takes seconds, and parts of
it (loading extension libraries, unmarshalling large modules) hold the GIL for up to
a few hundred milliseconds at a time. Done when the first job starts, that both
delays the job and freezes the app's window while the user watches the progress.
The desktop app calls `import_engine` on its worker thread shortly after its window
shows, so that a job starts with nothing left to import. The CLI does not need it.
"""

from __future__ import annotations

import importlib
import time

# The modules one learn-generate-finish-export job touches, including the ones the
# engine imports lazily inside functions (the personalization components, the
# exporters, Pillow's codec plug-ins).
ENGINE_MODULES = (
    "torch",
    "torch.profiler._cupti_monitor",  # imported by the first backward pass (private: skipped if absent)
    "safetensors.torch",
    "platformdirs",
    "transformers.models.clip.modeling_clip",
    "diffusers.pipelines.stable_diffusion.pipeline_stable_diffusion",
    "diffusers.pipelines.stable_diffusion_xl.pipeline_stable_diffusion_xl",
    "diffusers.loaders.single_file_utils",
    "diffusers.guiders",
    "peft",
    "seal_engine.loading",
    "seal_engine.pack_job",
    "seal_engine.intake",
    "seal_engine.locks",
    "seal_engine.concept",
    "seal_engine.clip_pair",
    "seal_engine.class_word",
    "seal_engine.caption",
    "seal_engine.augment",
    "seal_engine.generation",
    "seal_engine.finishing",
    "seal_engine.masks",
    "seal_engine.export",
    "seal_engine.personalize.trainer",
    "seal_engine.personalize.auto_caption",
    "seal_engine.personalize.split_merge",
    "seal_engine.personalize.layer_restriction",
    "seal_engine.personalize.image_start",
    "seal_engine.personalize.attention_loss",
    "seal_engine.personalize.background_loss",
    "seal_engine.personalize.bank",
)


def import_engine() -> dict[str, float]:
    """Import every module of the job path; returns seconds per module (missing optional ones are skipped)."""
    from PIL import Image

    seconds: dict[str, float] = {}
    for name in ENGINE_MODULES:
        start = time.perf_counter()
        try:
            importlib.import_module(name)
        except ImportError:  # an optional package a user may lack: the job reports it if it needs it
            continue
        seconds[name] = time.perf_counter() - start
    start = time.perf_counter()
    try:  # loading a pipeline lists its scheduler's compatible classes, which imports each of them
        from diffusers import DDPMScheduler

        DDPMScheduler().compatibles
    except ImportError:
        pass
    seconds["schedulers"] = time.perf_counter() - start
    start = time.perf_counter()
    Image.init()  # registers (imports) every codec plug-in, as the first image save would
    seconds["PIL plug-ins"] = time.perf_counter() - start
    return seconds
