"""The whole product in one engine call: reference image to finished, validated packs.

`seal pack` and the desktop app's worker both call `run_pack_job`, so the CLI
and the app never drift apart. Phases: intake, mask, load, personalize,
generate, select, finish, export. Every artifact is written atomically and the
job is resumable: the concept is cached under the user data dir keyed by the
reference's pixels, its mask, the model and the settings; generated images are
kept in the output folder with their records and reused when the prompt, seed,
concept and sampler settings match. A cancel at any point leaves finished
files only, never half-written ones (packs are assembled in a staging folder).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from .atomic import atomic_save_image, atomic_write_json
from .attributes import Preset, StickerSpec, compose_prompt
from .devices import RuntimeOptions
from .errors import InputError
from .model_source import DEFAULT_MODEL
from .progress import CancelToken, ProgressCallback, ProgressEvent, no_progress

STICKER_CANVAS = (512, 512)
"""Finished stickers are fitted (up or down) onto this canvas: the size every platform's exporter starts from."""

PHASES = ("intake", "mask", "load", "personalize", "generate", "select", "finish", "export")
JOB_FORMAT_VERSION = 1


@dataclass
class PackJob:
    reference: Path
    preset: Preset
    out_dir: Path
    platforms: list[str] = field(default_factory=list)  # empty: stop after finishing
    title: str = "My stickers"
    author: str = "SEAL Sticker Studio"
    model: str = DEFAULT_MODEL
    runtime: RuntimeOptions = field(default_factory=RuntimeOptions)
    model_config: Optional[str] = None  # single-file checkpoints: a diffusers folder with the configs
    mask: Optional[Path] = None  # a mask file; default: computed with `mask_method`
    mask_method: str = "auto"
    sam_checkpoint: Optional[Path] = None
    personalize: Any = None  # PersonalizeConfig; default: PersonalizeConfig(schedule=schedule)
    schedule: str = "quality"
    concept_dir: Optional[Path] = None  # reuse this concept instead of learning one
    variants: int = 2  # generated per preset item; the best one is kept
    seed: int = 0
    steps: int = 30
    guidance_scale: float = 7.5
    scheduler: str = "default"
    size: Optional[int] = None  # generation side; default: the model's native size
    negative_prompt: str = "blurry, low quality, watermark, text, cropped"
    clip_model: Optional[str] = None  # for picking the best variant by identity; None: the first
    finish: Any = None  # FinishSettings; default: outlined, on a 512x512 canvas (what the exporters start from)
    overwrite_packs: bool = True


@dataclass
class ItemResult:
    index: int
    spec: StickerSpec
    prompt: str
    variants: list[dict]  # {"file", "seed", "score"}
    chosen: Optional[str] = None
    reason: str = ""
    sticker: Optional[str] = None  # finished sticker file


@dataclass
class PackJobResult:
    out_dir: Path
    concept_dir: Path
    concept_reused: bool
    items: list[ItemResult]
    packs: dict[str, Any]  # platform -> PackResult
    violations: dict[str, list[str]]
    phase_seconds: dict[str, float]
    generated_reused: int = 0

    def summary_rows(self) -> list[dict]:
        rows = []
        for platform, pack in self.packs.items():
            stickers = pack.stickers if hasattr(pack, "stickers") else []
            sizes = [f.bytes for f in stickers]
            rows.append({"platform": platform, "stickers": len(stickers),
                         "min_bytes": min(sizes) if sizes else 0, "max_bytes": max(sizes) if sizes else 0,
                         "total_bytes": sum(sizes), "valid": not self.violations.get(platform),
                         "folder": str(pack.pack_dir)})
        return rows


def slug(text: str, limit: int = 32) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:limit] or "sticker"


def concept_cache_key(reference: Any, mask: Any, model_id: str, config: Any) -> str:
    """Same pixels, same mask, same model, same settings -> the same learned concept."""
    h = hashlib.sha256()
    for img in (reference, mask):
        buf = io.BytesIO()
        img.save(buf, format="PNG")
        h.update(hashlib.sha256(buf.getvalue()).digest())
    settings = {k: v for k, v in config.to_dict().items() if not k.startswith("preview")}
    h.update(json.dumps({"model": model_id, "settings": settings}, sort_keys=True, default=str).encode())
    return h.hexdigest()[:20]


class _Phases:
    """Times each phase and tags every progress event with it."""

    def __init__(self, progress: ProgressCallback, cancel: Optional[CancelToken]) -> None:
        self.progress, self.cancel = progress, cancel
        self.seconds: dict[str, float] = {}
        self._name: Optional[str] = None
        self._start = 0.0

    def start(self, name: str, message: str = "") -> None:
        self.stop()
        if self.cancel:
            self.cancel.raise_if_cancelled()
        self._name, self._start = name, time.perf_counter()
        self.progress(ProgressEvent(name, 0, 0, message=message))

    def stop(self) -> None:
        if self._name:
            self.seconds[self._name] = self.seconds.get(self._name, 0.0) + time.perf_counter() - self._start
            self._name = None


def run_pack_job(
    job: PackJob,
    *,
    model: Any = None,
    progress: ProgressCallback = no_progress,
    cancel: Optional[CancelToken] = None,
    load_model: Optional[Callable[[], Any]] = None,
) -> PackJobResult:
    """Run (or resume) a whole job. `model`: an already loaded `LoadedModel` to reuse (the app keeps one)."""
    from .finishing import FinishSettings, finish_sticker
    from .intake import load_image
    from .masks import compute_mask
    from .personalize_config import PersonalizeConfig

    _check_job(job)
    out = Path(job.out_dir)
    phases = _Phases(progress, cancel)

    phases.start("intake", f"Reading {job.reference}")
    reference = load_image(job.reference)
    mask_image = load_image(job.mask).getchannel("R") if job.mask else None

    phases.start("mask", "Finding the character")
    if mask_image is None:
        result = compute_mask(reference, job.mask_method, sam_checkpoint=job.sam_checkpoint)
        mask_image, mask_method = result.mask, result.method
    else:
        if mask_image.size != reference.size:
            raise InputError(f"The mask is {mask_image.size[0]}x{mask_image.size[1]} but the reference is "
                             f"{reference.size[0]}x{reference.size[1]}; they must match.")
        mask_image, mask_method = mask_image.point(lambda v: 255 if v >= 128 else 0), "file"
    if max(mask_image.getextrema()) == 0:
        raise InputError(f"No character was found in {job.reference}; give a mask file with --mask.")
    out.mkdir(parents=True, exist_ok=True)

    phases.start("load", f"Loading {job.model}")
    if model is None:
        if load_model is not None:
            model = load_model()
        else:
            from .loading import load_pipeline

            model = load_pipeline(job.model, job.runtime, config=job.model_config, progress=progress, cancel=cancel)

    config = job.personalize or PersonalizeConfig(schedule=job.schedule)
    config.seed = config.seed if job.personalize else job.seed
    concept, reused = _concept(job, model, reference, mask_image, config, phases, progress, cancel)
    from .concept import apply_concept

    identity = apply_concept(model, concept)

    items, generated_reused = _generate(job, model, concept, identity, out, phases, progress, cancel)

    phases.start("select", "Choosing the best variant of each sticker")
    _select(job, items, reference, mask_image, out)

    phases.start("finish", "Cutting out and outlining")
    settings = job.finish or FinishSettings(size=STICKER_CANVAS)
    from .intake import load_image as _load

    for n, item in enumerate(items, 1):
        if cancel:
            cancel.raise_if_cancelled()
        image = _load(out / item.chosen)
        try:
            finished = finish_sticker(image, settings, mask_method=job.mask_method)
        except InputError as err:  # nothing to cut out (e.g. a dry run's random model): keep the whole frame
            from PIL import Image

            finished = finish_sticker(image, settings, mask=Image.new("L", image.size, 255))
            item.reason += f"; not cut out: {err}"
        item.sticker = f"stickers/{item.index + 1:02d}-{slug(item.spec.label)}.png"
        atomic_save_image(finished, out / item.sticker)
        progress(ProgressEvent("finish", n, len(items)))

    packs, violations = {}, {}
    if job.platforms:
        from .export import export_pack, validate_pack
        from .export.base import StickerInput

        stickers = [StickerInput(out / i.sticker, label=i.spec.label, emojis=[i.spec.emoji]) for i in items]
        for n, platform in enumerate(job.platforms, 1):
            phases.start("export", f"Exporting for {platform}")
            pack_dir = out / "packs" / platform
            packs[platform] = export_pack(stickers, platform, title=job.title, author=job.author, out_dir=pack_dir,
                                          overwrite=job.overwrite_packs, progress=progress, cancel=cancel)
            violations[platform] = validate_pack(pack_dir, platform)
    phases.stop()

    result = PackJobResult(out, Path(concept.path), reused, items, packs, violations, dict(phases.seconds),
                           generated_reused)
    atomic_write_json(out / "job.json", _record(job, result, mask_method, concept))
    return result


def _check_job(job: PackJob) -> None:
    if job.variants < 1 or job.variants > 16:
        raise InputError(f"Variants per sticker must be 1 to 16, not {job.variants}.")
    if job.steps < 1:
        raise InputError("Generation steps must be at least 1.")
    if not job.preset.items:
        raise InputError(f"Preset '{job.preset.name}' has no stickers.")
    if len(set(job.platforms)) != len(job.platforms):
        raise InputError("A platform is listed twice.")
    from .export import PLATFORMS

    for platform in job.platforms:
        if platform not in PLATFORMS:
            raise InputError(f"Unknown platform '{platform}'; choose from {', '.join(PLATFORMS)}.")


def _concept(job, model, reference, mask, config, phases, progress, cancel):
    from .concept import load_concept
    from .paths import concepts_cache_dir
    from .personalize import personalize

    if job.concept_dir:
        phases.start("personalize", f"Using the concept in {job.concept_dir}")
        return load_concept(job.concept_dir), True
    key = concept_cache_key(reference, mask, model.model_id, config)
    folder = concepts_cache_dir() / key
    if (folder / "concept.json").is_file():
        phases.start("personalize", f"Reusing the learned concept {key}")
        return load_concept(folder), True
    phases.start("personalize", "Learning the character")
    concept = personalize(model, reference, mask, config, folder, progress=progress, cancel=cancel)
    return concept, False


def _generate(job, model, concept, identity, out, phases, progress, cancel):
    from .generation import GenerationSettings, generate

    phases.start("generate", "Generating stickers")
    class_word = ""  # the identity string already ends with the class word
    items: list[ItemResult] = []
    total = len(job.preset.items) * job.variants
    done = reused = 0
    for index, spec in enumerate(job.preset.items):
        prompt = compose_prompt(spec, identity=identity, class_word=class_word)
        folder = f"generated/{index + 1:02d}-{slug(spec.label)}"
        variants = []
        for v in range(job.variants):
            if cancel:
                cancel.raise_if_cancelled()
            seed = job.seed + 1000 * index + v
            png = out / folder / f"seed-{seed}.png"
            wanted = {"prompt": prompt, "seed": seed, "steps": job.steps, "guidance_scale": job.guidance_scale,
                      "scheduler": job.scheduler, "negative_prompt": job.negative_prompt,
                      "concept": str(concept.path), "size": job.size}
            record_path = png.with_suffix(".json")
            if png.is_file() and record_path.is_file() and _same(record_path, wanted):
                reused += 1
            else:
                settings = GenerationSettings(prompt=prompt, negative_prompt=job.negative_prompt, seeds=[seed],
                                              steps=job.steps, guidance_scale=job.guidance_scale,
                                              width=job.size, height=job.size, scheduler=job.scheduler)
                image = generate(model, settings, cancel=cancel)[0]
                atomic_save_image(image.image, png)
                atomic_write_json(record_path, {**image.record, **wanted, "label": spec.label})
            done += 1
            progress(ProgressEvent("generate", done, total, message=spec.label, path=png))
            variants.append({"file": f"{folder}/{png.name}", "seed": seed, "score": None})
        items.append(ItemResult(index, spec, prompt, variants))
    return items, reused


def _same(record_path: Path, wanted: dict) -> bool:
    try:
        record = json.loads(record_path.read_text())
    except (OSError, json.JSONDecodeError):
        return False
    return all(record.get(k) == v for k, v in wanted.items())


def _select(job: PackJob, items: list[ItemResult], reference: Any, mask: Any, out: Path) -> None:
    """Best variant by identity (CLIP, subject regions) when a CLIP model is given, else the first."""
    if job.variants == 1:
        for item in items:
            item.chosen, item.reason = item.variants[0]["file"], "only one variant"
        return
    clip = None
    why_not = "no CLIP model configured"
    if job.clip_model:
        try:
            from .evaluation.clip_models import load_clip

            clip = load_clip(job.clip_model, offline=job.runtime.offline)
        except Exception as err:  # a missing optional model must not sink the job: record why
            why_not = f"CLIP model unavailable ({' '.join(str(err).split())[:120]})"
    if clip is None:
        for item in items:
            item.chosen, item.reason = item.variants[0]["file"], f"first variant: {why_not}"
        return
    from .evaluation.identity import identity_scores
    from .intake import load_image

    for item in items:
        images = [load_image(out / v["file"]) for v in item.variants]
        scores = identity_scores(clip, reference, mask, images)
        for v, s in zip(item.variants, scores):
            v["score"] = round(float(s), 4)
        best = max(range(len(scores)), key=lambda i: scores[i])
        item.chosen = item.variants[best]["file"]
        item.reason = f"highest identity score {scores[best]:.3f} of {len(scores)} ({job.clip_model})"


def _record(job: PackJob, result: PackJobResult, mask_method: str, concept: Any) -> dict:
    return {
        "format_version": JOB_FORMAT_VERSION,
        "reference": str(job.reference),
        "preset": job.preset.name,
        "model": job.model,
        "mask_method": mask_method,
        "concept": {"path": str(concept.path), "reused": result.concept_reused},
        "generation": {"variants": job.variants, "seed": job.seed, "steps": job.steps,
                       "guidance_scale": job.guidance_scale, "scheduler": job.scheduler, "size": job.size},
        "items": [{"label": i.spec.label, "emoji": i.spec.emoji, "prompt": i.prompt, "variants": i.variants,
                   "chosen": i.chosen, "reason": i.reason, "sticker": i.sticker} for i in result.items],
        "packs": {p: {"folder": str(pack.pack_dir), "valid": not result.violations.get(p),
                      "violations": result.violations.get(p, [])} for p, pack in result.packs.items()},
        "phase_seconds": {k: round(v, 3) for k, v in result.phase_seconds.items()},
        "generated_reused": result.generated_reused,
    }
