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


def concept_cache_key(reference: Any, mask: Any, model_id: str, arch: Any, config: Any) -> str:
    """Same pixels, same mask, same model, same settings as run (the schedule's defaults filled in,
    so a changed default learns anew) -> the same learned concept."""
    h = hashlib.sha256()
    for img in (reference, mask):
        buf = io.BytesIO()
        img.save(buf, format="PNG")
        h.update(hashlib.sha256(buf.getvalue()).digest())
    settings = {k: v for k, v in config.run_settings(arch).items() if not k.startswith("preview")}
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
    """Run (or resume) a whole job. `model`: an already loaded `LoadedModel` to reuse (the app keeps one).

    Everything that can be checked without the model is checked first; the output folder is locked
    for the whole run (a concurrent run on it waits) and created only once the model has loaded."""
    check_pack_job(job)
    if model is None and load_model is None:
        from .model_source import classify

        classify(job.model)  # a mistyped model path is refused before intake and masking
    out = Path(job.out_dir)
    from .locks import output_lock

    created = not out.exists()
    try:
        with output_lock(out, progress=progress, cancel=cancel):
            return _run_locked(job, out, model=model, progress=progress, cancel=cancel, load_model=load_model)
    finally:
        if created:
            _remove_if_empty(out)  # a refusal or a failure before anything was written leaves no empty folder


def _remove_if_empty(folder: Path) -> None:
    import contextlib

    with contextlib.suppress(OSError):
        folder.rmdir()  # only succeeds when empty


def _run_locked(job: PackJob, out: Path, *, model: Any, progress: ProgressCallback, cancel: Optional[CancelToken],
                load_model: Optional[Callable[[], Any]]) -> PackJobResult:
    from .atomic import sweep_stale
    from .finishing import FinishSettings, finish_sticker
    from .intake import load_image
    from .masks import compute_mask
    from .personalize.config import PersonalizeConfig

    phases = _Phases(progress, cancel)
    for folder in (out, out / "stickers", out / "packs", *sorted((out / "generated").glob("*/"))):
        sweep_stale(folder)  # temporary files of a run that was killed

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

    phases.start("load", f"Loading {job.model}")
    if model is None:
        if load_model is not None:
            model = load_model()
        else:
            from .loading import load_pipeline

            model = load_pipeline(job.model, job.runtime, config=job.model_config, progress=progress, cancel=cancel)
    from .fs_errors import writing

    with writing(out):
        out.mkdir(parents=True, exist_ok=True)

    config = job.personalize or PersonalizeConfig(schedule=job.schedule)
    config.seed = config.seed if job.personalize else job.seed
    concept, reused = _concept(job, model, reference, mask_image, config, phases, progress, cancel)
    # The concept is saved now: a listener can show it before the stickers exist (and keep it after a cancel).
    progress(ProgressEvent("personalize", 1, 1, message="The character is learned", path=Path(concept.path)))
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


def check_pack_job(job: PackJob) -> None:
    """Every check that does not need the model or generated pixels, before anything loads or is written:
    options (finite, positive, within the documented bounds), the platforms' count and text rules, the
    output folder and the packs `overwrite_packs` would replace."""
    from .atomic import check_replaceable
    from .fs_errors import check_output_folder
    from .generation import GenerationSettings

    if not isinstance(job.variants, int) or not 1 <= job.variants <= 16:
        raise InputError(f"Variants per sticker must be 1 to 16, not {job.variants}.")
    if not job.preset.items:
        raise InputError(f"Preset '{job.preset.name}' has no stickers.")
    n = len(job.preset.items)
    if not isinstance(job.seed, int) or job.seed < 0:
        raise InputError(f"The seed must be a whole number of 0 or more, not {job.seed}.")
    last_seed = job.seed + 1000 * (n - 1) + job.variants - 1
    if last_seed >= 2**63:
        raise InputError(f"The seed must be at most {2**63 - 1 - 1000 * (n - 1) - (job.variants - 1)} for this "
                         f"preset (each sticker uses seeds above it), not {job.seed}.")
    if job.steps < 1:
        raise InputError("Generation steps must be at least 1.")
    GenerationSettings(prompt="check", negative_prompt=job.negative_prompt, seeds=[job.seed, last_seed],
                       steps=job.steps, guidance_scale=job.guidance_scale, width=job.size, height=job.size,
                       scheduler=job.scheduler).validate()
    if job.personalize is not None and job.concept_dir is None:
        job.personalize.validate()
    if len(set(job.platforms)) != len(job.platforms):
        raise InputError("A platform is listed twice.")
    from .export import PLATFORMS, platform_rules
    from .export.names import check_text

    for platform in job.platforms:
        if platform not in PLATFORMS:
            raise InputError(f"Unknown platform '{platform}'; choose from {', '.join(PLATFORMS)}.")
        rules = platform_rules(platform)
        problem = rules.count_problem(n)
        if problem:
            raise InputError(f"{problem[:-1]} (the preset '{job.preset.name}' has {n}); choose another preset "
                             f"or platform.")
        check_text(job.title, field="title", platform=rules.display, max_len=rules.title_max,
                   asian_double=rules.asian_double)
        check_text(job.author, field="author", platform=rules.display, max_len=rules.author_max,
                   asian_double=rules.asian_double)
    out = Path(job.out_dir)
    check_output_folder(out)
    for platform in job.platforms:
        check_replaceable(out / "packs" / platform, overwrite=job.overwrite_packs, markers=("pack.json",))
    if job.concept_dir is not None:
        from .concept import load_concept

        load_concept(job.concept_dir)  # a missing or damaged concept is refused before the model loads


def _concept(job, model, reference, mask, config, phases, progress, cancel):
    from .concept import load_concept
    from .paths import concepts_cache_dir
    from .personalize import personalize

    if job.concept_dir:
        phases.start("personalize", f"Using the concept in {job.concept_dir}")
        return load_concept(job.concept_dir), True
    from .locks import concept_lock

    key = concept_cache_key(reference, mask, model.model_id, model.arch, config)
    folder = concepts_cache_dir() / key
    phases.start("personalize", "Learning the character")
    # One run learns a given concept at a time; a second one waits here and then reuses it.
    with concept_lock(key, progress=progress, cancel=cancel):
        if (folder / "concept.json").is_file():
            progress(ProgressEvent("personalize", 0, 0, message=f"Reusing the learned concept {key}"))
            return load_concept(folder), True
        concept = personalize(model, reference, mask, config, folder, progress=progress, cancel=cancel)
    return concept, False


GENERATE_PROGRESS_INTERVAL_S = 0.25
"""Per-step progress inside a batch is forwarded at most this often (the app redraws a preview per event)."""


def _generate(job, model, concept, identity, out, phases, progress, cancel):
    """All variants of a preset item that still need an image run as ONE batched pipeline call.

    Each variant keeps its own seed and generator (see `generation`), so a batched variant
    equals the same seed generated alone and resuming reuses exactly the missing ones.
    Progress counts denoising steps of every image (reused images count as done); an event
    with the item's label follows each item's saved images."""
    from .generation import GenerationSettings, batch_size_for, generate

    phases.start("generate", "Generating stickers")
    class_word = ""  # the identity string already ends with the class word
    items: list[ItemResult] = []
    total = len(job.preset.items) * job.variants * job.steps
    done = reused = 0
    last_event = 0.0
    for index, spec in enumerate(job.preset.items):
        if cancel:
            cancel.raise_if_cancelled()
        prompt = compose_prompt(spec, identity=identity, class_word=class_word)
        folder = f"generated/{index + 1:02d}-{slug(spec.label)}"
        variants, missing = [], {}
        for v in range(job.variants):
            seed = job.seed + 1000 * index + v
            png = out / folder / f"seed-{seed}.png"
            wanted = {"prompt": prompt, "seed": seed, "steps": job.steps, "guidance_scale": job.guidance_scale,
                      "scheduler": job.scheduler, "negative_prompt": job.negative_prompt,
                      "concept": str(concept.path), "size": job.size}
            record_path = png.with_suffix(".json")
            if png.is_file() and record_path.is_file() and _same(record_path, wanted):
                reused += 1
                done += job.steps
            else:
                missing[seed] = (png, wanted)
            variants.append({"file": f"{folder}/{png.name}", "seed": seed, "score": None})
        if missing:
            base = done

            def on_step(event: ProgressEvent) -> None:
                nonlocal last_event
                now = time.perf_counter()
                if now - last_event >= GENERATE_PROGRESS_INTERVAL_S and event.step < event.total:
                    last_event = now
                    progress(ProgressEvent("generate", base + event.step, total))

            settings = GenerationSettings(prompt=prompt, negative_prompt=job.negative_prompt, seeds=list(missing),
                                          steps=job.steps, guidance_scale=job.guidance_scale,
                                          width=job.size, height=job.size, scheduler=job.scheduler,
                                          batch_size=batch_size_for(model, len(missing)))
            for image in generate(model, settings, progress=on_step, cancel=cancel):
                png, wanted = missing[image.seed]
                atomic_save_image(image.image, png)
                atomic_write_json(png.with_suffix(".json"), {**image.record, **wanted, "label": spec.label})
            done += len(missing) * job.steps
        progress(ProgressEvent("generate", done, total, message=spec.label,
                               path=[out / v["file"] for v in variants]))  # the app shows them now
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
