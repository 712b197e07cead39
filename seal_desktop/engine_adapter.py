"""The app's side of the engine: Qt-free, so it can be tested and timed without a window.

A job delegates to `seal_engine.pack_job.run_pack_job`, the function `seal pack` runs
(intake, mask, personalize or reuse the cached concept, generate N variants per preset
item, pick, finish), so the CLI and the app never drift apart. The adapter adds only
what the app needs around it: every variant finished (for keep/reject), one sticker
regenerated with a new seed, re-finishing with new settings, per-platform export
reports, and errors turned into (kind, message, traceback). Engine modules are
imported inside functions, so the window opens without torch or diffusers.
"""

from __future__ import annotations

import time
import traceback as tb
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from seal_engine.errors import SealError
from seal_engine.progress import CancelToken, EtaClock, ProgressCallback, ProgressEvent, no_progress

NEGATIVE_PROMPT = "photo, realistic, blurry, text, watermark, cropped"
DEFAULT_FINISHING = {"outline": 8, "margin": 16, "size": 512, "shadow": False}


# ---------------------------------------------------------------------------------- masks
@dataclass
class MaskOutcome:
    mask: Any  # PIL "L", 255 = subject
    method: str
    note: str


def compute_mask(image: Any, method: str = "auto", sam_checkpoint: Optional[str] = None) -> MaskOutcome:
    """seal_engine.masks.compute_mask; `auto` records which method it actually used."""
    from seal_engine.masks import compute_mask as engine_compute_mask

    result = engine_compute_mask(image, method, sam_checkpoint=Path(sam_checkpoint) if sam_checkpoint else None)
    return MaskOutcome(result.mask, result.method, result.note)


# ---------------------------------------------------------------------------------- finishing
def finish_image(image: Any, settings: Optional[dict[str, Any]] = None) -> Any:
    """seal_engine.finishing.finish_sticker with the job's adjustable settings."""
    from seal_engine.errors import InputError
    from seal_engine.finishing import finish_sticker

    finish = _finish_settings(settings or {})
    try:
        return finish_sticker(image, finish)
    except InputError:  # nothing to cut out (a dry run's random model): keep the frame, as run_pack_job does
        from PIL import Image

        return finish_sticker(image, finish, mask=Image.new("L", image.size, 255))


# ---------------------------------------------------------------------------------- jobs
@dataclass
class JobSpec:
    """Everything the worker needs, copied out of the database on the GUI thread."""

    job_id: int
    character_name: str
    class_word: str
    reference: Path
    mask: Optional[Path]
    preset: dict[str, Any]
    model: str
    runtime: dict[str, Any]
    steps: int = 30
    variants: int = 2
    seed: int = 0
    schedule: str = "quality"
    edit_consistency: bool = False  # opt-in SEAL component (seal_engine/personalize/edit_consistency.py)
    size: int = 0
    finishing: dict[str, Any] = field(default_factory=dict)
    output_dir: Path = Path(".")
    concept_dir: Optional[Path] = None  # an existing concept to reuse
    concepts_root: Optional[Path] = None  # where a new concept is written
    personalize_overrides: dict[str, Any] = field(default_factory=dict)  # PersonalizeConfig fields (tests, experts)


@dataclass
class StickerOutcome:
    item_index: int
    variant: int
    label: str
    emoji: str
    prompt: str
    seed: int
    raw_path: Path
    finished_path: Path
    kept: bool = True


@dataclass
class JobOutcome:
    concept_dir: Optional[Path]
    concept_settings: dict[str, Any]
    stickers: list[StickerOutcome]
    notes: list[str]
    seconds: dict[str, float]


class ModelCache:
    """Keeps the last loaded pipeline (per model, options and concept) for the next job."""

    def __init__(self) -> None:
        self.key: Optional[tuple] = None
        self.model: Any = None

    def get(self, spec: JobSpec, concept_dir: Optional[Path], progress: ProgressCallback,
            cancel: Optional[CancelToken]) -> Any:
        key = (spec.model, tuple(sorted(spec.runtime.items())), str(concept_dir or ""))
        if self.key == key and self.model is not None:
            return self.model
        self.clear()
        from seal_engine.devices import RuntimeOptions
        from seal_engine.loading import load_pipeline

        model = load_pipeline(spec.model, RuntimeOptions(**spec.runtime), progress=progress, cancel=cancel)
        if concept_dir is not None:
            _apply_concept(model, concept_dir)
        self.key, self.model = key, model
        return model

    def clear(self) -> None:
        self.key, self.model = None, None


def concept_key(schedule: str, seed: int, edit_consistency: bool = False) -> dict[str, Any]:
    """How a character's concept was learned, as its *Learned concepts* list shows it (the engine's
    cache key, `pack_job.concept_cache_key`, decides reuse); the opt-in component is named only when
    on, so concepts recorded before it read as before."""
    key = {"schedule": schedule, "seed": seed, "base": "ti+lora", "seal": True}
    if edit_consistency:
        key["edit_consistency"] = True
    return key


def concept_settings(spec: JobSpec) -> dict[str, Any]:
    return concept_key(spec.schedule, spec.seed, spec.edit_consistency)


def personalize_config(spec: JobSpec) -> Any:
    """The engine's PersonalizeConfig for this job, or None for the pack job's own (schedule and seed)."""
    overrides = {**({"edit_consistency": True} if spec.edit_consistency else {}), **spec.personalize_overrides}
    if not overrides:
        return None
    from seal_engine.personalize.config import PersonalizeConfig

    return PersonalizeConfig(schedule=spec.schedule, seed=spec.seed, **overrides)


def _apply_concept(model: Any, concept_dir: Path) -> None:
    from seal_engine.concept import apply_concept, load_concept  # type: ignore[import-not-found]

    identity = apply_concept(model, load_concept(concept_dir))
    model.extras["concept"] = str(concept_dir)
    model.extras["identity"] = identity


def _finish_settings(finishing: dict[str, Any]) -> Any:
    from seal_engine.finishing import FinishSettings

    opts = {**DEFAULT_FINISHING, **(finishing or {})}
    side = int(opts["size"])
    return FinishSettings(outline_px=int(opts["outline"]), margin=int(opts["margin"]), size=(side, side),
                          shadow=bool(opts["shadow"]))


class _PreviewingProgress:
    """Adds an ETA per phase and, while generating, the newest image as the preview."""

    def __init__(self, progress: ProgressCallback, out_dir: Path) -> None:
        self.progress, self.out_dir = progress, out_dir
        self.clocks: dict[str, EtaClock] = {}

    def __call__(self, event: ProgressEvent) -> None:
        if event.total > 0 and event.eta_s is None:
            clock = self.clocks.get(event.phase)
            if clock is None or clock.total != event.total:
                clock = self.clocks[event.phase] = EtaClock(event.total)
            event.eta_s = clock.eta(event.step)
        if event.phase == "generate" and event.step > 0 and event.preview is None:
            paths = event_paths(event)
            event.preview = self._newest(paths[-1] if paths else None)
        self.progress(event)

    def _newest(self, path: Optional[Path] = None) -> Any:
        from PIL import Image

        if path is None or not Path(path).is_file():
            files = sorted((self.out_dir / "generated").glob("*/*.png"), key=lambda p: p.stat().st_mtime)
            if not files:
                return None
            path = files[-1]
        with Image.open(path) as im:
            im.thumbnail((256, 256))
            return im.convert("RGBA")


# Share of a whole job each phase takes (measured on CPU and GPU runs: learning and generating dominate).
# One bar across phases instead of one that restarts at every phase.
PHASE_WEIGHTS = {"setup": 1.0, "load": 8.0, "learn": 50.0, "generate": 36.0, "select": 1.0, "finish": 4.0}
PHASE_GROUP = {"intake": "setup", "mask": "setup", "download": "load", "load": "load", "personalize": "learn",
               "prepare": "learn", "embeddings": "learn", "lora": "learn", "save": "learn", "generate": "generate",
               "select": "select", "finish": "finish", "export": "finish"}
LEARN_SHARE = {"prepare": (0.0, 0.04), "embeddings": (0.04, 0.5), "lora": (0.5, 0.97), "save": (0.97, 1.0)}


class OverallProgress:
    """Turns per-phase events into one fraction of the whole job (never going back) and an ETA for the
    whole job. A reused concept drops the learning share, so the bar does not wait for a phase that
    never comes."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.start = clock()
        self.learning = True
        self.fraction = 0.0
        self._measured_from: Optional[tuple[float, float]] = None  # (time, fraction) once the work is steady

    def update(self, event: ProgressEvent) -> tuple[float, Optional[float]]:
        group = PHASE_GROUP.get(event.phase)
        if event.phase == "personalize" and event.message.startswith(("Reusing", "Using")):
            self.learning = False
        if group is None:
            return self.fraction, self.eta()
        order = [g for g in PHASE_WEIGHTS if self.learning or g != "learn"]
        total = sum(PHASE_WEIGHTS[g] for g in order)
        if group not in order:
            return self.fraction, self.eta()
        done = sum(PHASE_WEIGHTS[g] for g in order[:order.index(group)])
        inner = event.fraction
        if group == "learn" and event.phase in LEARN_SHARE:
            lo, hi = LEARN_SHARE[event.phase]
            inner = lo + (hi - lo) * event.fraction
        elif group == "learn":
            inner = 0.0
        value = min(1.0, (done + PHASE_WEIGHTS[group] * inner) / total)
        self.fraction = max(self.fraction, value)
        if self._measured_from is None and group in ("learn", "generate") and event.step > 0:
            self._measured_from = (self.clock(), self.fraction)  # model loading is not representative
        return self.fraction, self.eta()

    def eta(self) -> Optional[float]:
        if self._measured_from is None:
            return None
        t0, f0 = self._measured_from
        elapsed, gained = self.clock() - t0, self.fraction - f0
        if gained <= 0.005 or elapsed <= 0:
            return None
        return elapsed / gained * (1.0 - self.fraction)


def variant_of_file(raw: Path, first_seed: int) -> Optional[tuple[int, int]]:
    """(item index, variant) of a generated image from its path, as run_pack_job names it:
    `generated/NN-label/seed-S.png` with S = first seed + 1000 * index + variant."""
    import re

    folder = re.match(r"(\d+)-", raw.parent.name)
    seed = re.fullmatch(r"seed-(\d+)", raw.stem)
    if folder is None or seed is None:
        return None
    index = int(folder.group(1)) - 1
    variant = int(seed.group(1)) - first_seed - 1000 * index
    return (index, variant) if index >= 0 and 0 <= variant < 1000 else None


def event_paths(event: ProgressEvent) -> list[Path]:
    """The file(s) a progress event reports (one path, or the images of a whole preset item)."""
    path = getattr(event, "path", None)
    if path is None:
        return []
    return [Path(p) for p in path] if isinstance(path, (list, tuple)) else [Path(path)]


def variant_sticker_path(out_dir: Path, item_index: int, label: str, variant: int) -> Path:
    from seal_engine.pack_job import slug

    return out_dir / "stickers" / "variants" / f"{item_index + 1:02d}-{slug(label)}-v{variant}.png"


class _Streaming:
    """Finishes each image as soon as run_pack_job reports it (its generate events carry the files), so
    stickers reach the gallery while the job runs and a cancelled job keeps the ones it made."""

    def __init__(self, spec: "JobSpec", progress: ProgressCallback, on_sticker: Callable[["StickerOutcome"], None],
                 on_concept: Callable[[Path], None] = lambda path: None) -> None:
        self.spec, self.progress, self.on_sticker, self.on_concept = spec, progress, on_sticker, on_concept
        self.finished: dict[tuple[int, int], StickerOutcome] = {}

    def __call__(self, event: ProgressEvent) -> None:
        self.progress(event)
        if event.phase == "generate":
            for raw in event_paths(event):
                self._finish(raw)
        elif event.phase == "personalize" and event.path is not None:
            self.on_concept(Path(event.path))  # learned (or reused) and saved, before any sticker

    def _finish(self, raw: Path) -> None:
        import json

        where = variant_of_file(raw, self.spec.seed)
        items = self.spec.preset.get("items", [])
        if where is None or where[0] >= len(items) or where in self.finished or not raw.is_file():
            return
        index, v = where
        item = items[index]
        try:
            record = json.loads(raw.with_suffix(".json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            record = {}
        finished = variant_sticker_path(self.spec.output_dir, index, item.get("label", "sticker"), v)
        refinish(raw, finished, self.spec.finishing)
        outcome = StickerOutcome(index, v, item.get("label", ""), item.get("emoji", ""), str(record.get("prompt", "")),
                                 int(record.get("seed", self.spec.seed + 1000 * index + v)), raw, finished,
                                 kept=(v == 0))
        self.finished[(index, v)] = outcome
        self.on_sticker(outcome)


def run_job(spec: JobSpec, *, progress: ProgressCallback = no_progress,
            on_sticker: Callable[[StickerOutcome], None] = lambda s: None,
            on_concept: Callable[[Path], None] = lambda path: None,
            cancel: Optional[CancelToken] = None, cache: Optional[ModelCache] = None) -> JobOutcome:
    """Delegates to seal_engine.pack_job.run_pack_job (the same function `seal pack` runs). Each image
    is finished and handed to `on_sticker` as soon as it is generated; at the end the chosen variant of
    each item is reported again with its final sticker file (kept), the others unkept. `on_concept`
    gets the concept's folder as soon as it is learned or found, before generation starts.

    Run again on the same `output_dir`, it resumes like `seal pack` does: the learned concept and every
    image already generated with the same prompt and seed are reused."""
    from seal_engine.attributes import Preset
    from seal_engine.devices import RuntimeOptions
    from seal_engine.loading import load_pipeline
    from seal_engine.pack_job import PackJob, run_pack_job

    cancel = cancel or CancelToken()
    cache = cache or ModelCache()
    spec.output_dir.mkdir(parents=True, exist_ok=True)
    job = PackJob(reference=spec.reference, preset=Preset.from_dict(spec.preset), out_dir=spec.output_dir,
                  platforms=[], model=spec.model, runtime=RuntimeOptions(**spec.runtime), mask=spec.mask,
                  schedule=spec.schedule, concept_dir=spec.concept_dir, variants=spec.variants, seed=spec.seed,
                  steps=spec.steps, size=spec.size or None, finish=_finish_settings(spec.finishing))
    job.personalize = personalize_config(spec)
    progress(ProgressEvent("load", 0, 0, message="Loading the model…"))
    cache.clear()  # run_pack_job applies the concept to the model it gets: always hand it a clean one
    model = load_pipeline(spec.model, RuntimeOptions(**spec.runtime), progress=progress, cancel=cancel)
    stream = _Streaming(spec, progress, on_sticker, on_concept)
    result = run_pack_job(job, model=model, progress=_PreviewingProgress(stream, spec.output_dir), cancel=cancel)
    cache.key = (spec.model, tuple(sorted(spec.runtime.items())), str(result.concept_dir))
    cache.model = model
    stickers: list[StickerOutcome] = []
    for item in result.items:
        for v, variant in enumerate(item.variants):
            cancel.raise_if_cancelled()
            raw = spec.output_dir / variant["file"]
            chosen = variant["file"] == item.chosen and item.sticker
            streamed = stream.finished.get((item.index, v))
            if chosen:
                finished = spec.output_dir / item.sticker
            elif streamed is not None and streamed.raw_path == raw:
                finished = streamed.finished_path
            else:
                finished = variant_sticker_path(spec.output_dir, item.index, item.spec.label, v)
                refinish(raw, finished, spec.finishing)
            outcome = StickerOutcome(item.index, v, item.spec.label, item.spec.emoji, item.prompt,
                                     int(variant["seed"]), raw, finished)
            outcome.kept = bool(chosen)
            on_sticker(outcome)
            stickers.append(outcome)
    notes = [f"concept {'reused' if result.concept_reused else 'learned'}: {result.concept_dir.name}"]
    if result.generated_reused:
        notes.append(f"{result.generated_reused} image(s) reused from an earlier run")
    notes.extend(size_notes(model, spec))
    return JobOutcome(result.concept_dir, concept_settings(spec), stickers, notes,
                      dict(result.phase_seconds))


def size_notes(model: Any, spec: JobSpec) -> list[str]:
    """Say so when small generated images are enlarged to the 512 px sticker canvas (they look blurry)."""
    side = spec.size or 0
    if not side:
        try:
            side = int(model.pipe.unet.config.sample_size) * int(getattr(model.pipe, "vae_scale_factor", 8))
        except (AttributeError, TypeError, ValueError):
            return []
    canvas = int({**DEFAULT_FINISHING, **(spec.finishing or {})}["size"])
    if side and side < canvas // 2:
        return [f"images are {side} px and were enlarged to {canvas} px stickers (they look soft): "
                "use a larger model for sharp stickers"]
    return []


def regenerate_one(spec: JobSpec, item_index: int, variant: int, seed: int, *, prompt: str,
                   progress: ProgressCallback = no_progress, cancel: Optional[CancelToken] = None,
                   cache: Optional[ModelCache] = None) -> StickerOutcome:
    """One sticker again with a new seed and the same prompt (the concept is reused, never retrained)."""
    from seal_engine.atomic import atomic_save_image, atomic_write_json
    from seal_engine.generation import GenerationSettings, generate
    from seal_engine.pack_job import slug

    cancel = cancel or CancelToken()
    cache = cache or ModelCache()
    model = cache.get(spec, spec.concept_dir, progress, cancel)
    item = spec.preset["items"][item_index]
    settings = GenerationSettings(prompt=prompt, negative_prompt=NEGATIVE_PROMPT, seeds=[seed], steps=spec.steps,
                                  width=spec.size or None, height=spec.size or None)
    image = generate(model, settings, progress=progress, cancel=cancel)[0]
    stem = f"{item_index + 1:02d}-{slug(item.get('label', 'sticker'))}"
    raw = spec.output_dir / "generated" / stem / f"seed-{seed}.png"
    atomic_save_image(image.image, raw)
    atomic_write_json(raw.with_suffix(".json"), image.record)
    finished = spec.output_dir / "stickers" / "variants" / f"{stem}-v{variant}-s{seed}.png"
    refinish(raw, finished, spec.finishing)
    return StickerOutcome(item_index, variant, item.get("label", ""), item.get("emoji", ""), prompt, seed, raw,
                          finished)


def refinish(raw_path: Path, finished_path: Path, finishing: dict[str, Any]) -> Path:
    """Re-run finishing on a kept raw image with new settings (no generation)."""
    from PIL import Image

    from seal_engine.atomic import atomic_save_image

    with Image.open(raw_path) as im:
        image = im.convert("RGBA")
    atomic_save_image(finish_image(image, finishing), finished_path)
    return finished_path


# ---------------------------------------------------------------------------------- export
@dataclass
class ExportItem:
    path: Path
    label: str
    emoji: str


@dataclass
class ExportReport:
    platform: str
    pack_dir: Optional[Path]
    violations: list[str]
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.violations and not self.error


def export_platforms() -> list[str]:
    return ["whatsapp", "telegram", "signal", "line", "discord", "imessage", "png", "webp"]


def export_packs(items: list[ExportItem], platforms: list[str], *, title: str, author: str, out_root: Path,
                 progress: ProgressCallback = no_progress, cancel: Optional[CancelToken] = None) -> list[ExportReport]:
    """Run each platform's exporter, then its validator; one report per platform."""
    try:
        from seal_engine.export import export_pack, validate_pack  # type: ignore[attr-defined]
        from seal_engine.export.base import StickerInput
    except ImportError as err:
        from seal_engine.errors import ExportError

        raise ExportError(f"The pack exporters are not installed in this build ({err}).") from err
    import re

    out_root.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:40] or "pack"
    stickers = [StickerInput(image=i.path, label=i.label, emojis=[i.emoji] if i.emoji else []) for i in items]
    reports = []
    for platform in platforms:
        if cancel is not None:
            cancel.raise_if_cancelled()
        out_dir = out_root / f"{slug}-{platform}-{stamp}"
        n = 2
        while out_dir.exists():
            out_dir = out_root / f"{slug}-{platform}-{stamp}-{n}"
            n += 1
        try:
            result = export_pack(stickers, platform, title=title, author=author, out_dir=out_dir,
                                 **({"progress": progress, "cancel": cancel} if _accepts(export_pack, "progress") else {}))
            pack_dir = Path(getattr(result, "pack_dir", out_dir))
            violations = list(validate_pack(pack_dir, platform))
            reports.append(ExportReport(platform, pack_dir, violations))
        except SealError as err:
            violations = list(getattr(err, "violations", []) or [])
            reports.append(ExportReport(platform, None, violations, error=str(err)))
    return reports


def _accepts(func: Callable, name: str) -> bool:
    import inspect

    try:
        return name in inspect.signature(func).parameters
    except (TypeError, ValueError):
        return False


# ---------------------------------------------------------------------------------- errors
@dataclass
class ErrorInfo:
    kind: str
    message: str
    traceback: str = ""


def describe_error(err: BaseException) -> ErrorInfo:
    """Typed engine errors keep their one sentence; anything else is a bug with a traceback."""
    if isinstance(err, SealError):
        from .wording import in_app_words

        return ErrorInfo(err.kind.value, in_app_words(str(err)), "")
    name = type(err).__name__
    if name == "OutOfMemoryError" or "out of memory" in str(err).lower():
        from seal_engine.loading import OOM_ADVICE

        return ErrorInfo("out_of_memory", f"Out of memory: {OOM_ADVICE}", "".join(tb.format_exception(err)))
    return ErrorInfo("bug", f"Unexpected error ({name}: {' '.join(str(err).split())[:300]}). "
                            "Please report it with the details below.", "".join(tb.format_exception(err)))
