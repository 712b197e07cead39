"""The bench: baseline vs SEAL vs each ablation, on a dataset of characters, in one resumable run.

For every character and every variant the bench personalizes the model once
(same personalization seed for every variant), generates the dataset's prompt
set with the same generation seeds, then scores every sample with the four
metrics and writes the table (`report.write_report`).

Output folder (everything written atomically, so a kill leaves only whole files):

    OUT/bench.json                               the settings; a rerun must match them
    OUT/concepts/<character>/<variant>/          the learned concept (staged, renamed when complete)
    OUT/samples/<character>/<variant>/<id>.png   generated sample, + <id>.json (prompt, seed, timing)
    OUT/samples/<character>/<variant>/cell.json  timings of that character x variant
    OUT/metrics/<character>/<variant>/<id>.json  per-sample metric values (keyed by CLIP model)
    OUT/results.md, OUT/results.json             the table, per-sample values and bootstrap CIs

Resuming: a concept folder that exists is loaded instead of learned, a sample
whose PNG exists is not generated again, a sample whose metrics file matches
the CLIP model and label sets is not scored again. So an interrupted bench
continues where it stopped, and adding a variant (or changing the CLIP model)
only computes what is new.
"""

from __future__ import annotations

import gc
import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from ..errors import InputError
from ..progress import CancelToken, ProgressCallback, ProgressEvent, no_progress
from .clip_models import DEFAULT_CLIP_MODEL

def _variants() -> dict[str, dict[str, object]]:
    from ..personalize.config import SEAL_SWITCHES, PersonalizeConfig

    defaults = PersonalizeConfig()
    seal = {name: getattr(defaults, name) for name in SEAL_SWITCHES}  # SEAL as shipped (None: by schedule)
    out: dict[str, dict[str, object]] = {
        "baseline": {name: False for name in SEAL_SWITCHES},
        "image-start-only": {**{name: False for name in SEAL_SWITCHES}, "image_start": True},
        "seal": dict(seal),
    }
    for name, on in seal.items():  # one part taken away, or added where it is off by default
        if on is None:  # decided by the schedule: both forced settings are variants
            out["no-" + name.replace("_", "-")] = {**seal, name: False}
            out["with-" + name.replace("_", "-")] = {**seal, name: True}
        else:
            out[("no-" if on else "with-") + name.replace("_", "-")] = {**seal, name: not on}
    out["no-caption"] = {**seal, "auto_caption": False}
    out["baseline-no-caption"] = {**out["baseline"], "auto_caption": False}
    out["seal-merge-context"] = {**seal, "merge": "identity+context"}
    return out


VARIANT_FLAGS: dict[str, dict[str, object]] = _variants()
"""The paper's comparison: plain test-time fine-tuning (`baseline`: the class-word start and the
user's caption, every SEAL part off), TTF+SEAL, and SEAL minus one part at a time. SEAL's parts
are the paper's method section: the image-embedding start, the attention loss, the background
component, split-merge and the layer restriction; `seal` is them as shipped (the engine's
defaults), and `no-X` / `with-X` take one away or add one that is off by default.
`image-start-only` is the baseline with SEAL's start and none of its regularizers, so SEAL minus
it is what the regularizers add. The image start is on by default on `paper` only
(IMAGE_START_BY_SCHEDULE): `no-image-start` and `with-image-start` force it either way, and
likewise for the context hold and the edited views (on by default on `paper` only). The
caption is the app's training prompt for every run (`no-caption` takes it away from SEAL;
`baseline-no-caption` is plain TTF as a LoRA trainer prompts it, "a sticker of <id> creature": a
baseline the app never is, reported beside the captioned one and never in its place)."""

DEFAULT_VARIANTS = tuple(VARIANT_FLAGS)
METRICS_VERSION = 1
SETTINGS_THAT_MUST_MATCH = ("model", "dataset", "base", "schedule", "steps", "seed", "generation_steps",
                            "guidance_scale", "scheduler", "negative_prompt")


def parse_variants(text: str | list[str]) -> list[str]:
    names = [v.strip() for v in (text.split(",") if isinstance(text, str) else text) if v.strip()]
    unknown = [v for v in names if v not in VARIANT_FLAGS]
    if unknown:
        raise InputError(f"Unknown variant(s) {', '.join(unknown)}; choose from {', '.join(VARIANT_FLAGS)}.")
    if not names:
        raise InputError("Give at least one variant.")
    return list(dict.fromkeys(names))


@dataclass
class BenchConfig:
    model: str
    dataset: Path
    out_dir: Path
    variants: list[str] = field(default_factory=lambda: list(DEFAULT_VARIANTS))
    clip_model: str = DEFAULT_CLIP_MODEL
    base: str = "ti+lora"
    schedule: str = "quality"
    steps: Optional[int] = None  # total personalization steps; None: the schedule's
    seed: int = 0  # personalization seed, the same for every variant
    generation_steps: int = 30
    guidance_scale: float = 7.5
    scheduler: str = "default"
    negative_prompt: str = ""
    model_config: Optional[str] = None  # for a single-file checkpoint
    runtime: Any = None  # devices.RuntimeOptions; None: defaults
    n_resamples: int = 2000
    personalize_overrides: dict[str, Any] = field(default_factory=dict)  # extra PersonalizeConfig fields

    def settings(self) -> dict[str, Any]:
        """What determines the results (recorded in bench.json, checked on resume)."""
        return {"model": str(self.model), "dataset": str(Path(self.dataset).resolve()), "base": self.base,
                "schedule": self.schedule, "steps": self.steps, "seed": self.seed,
                "generation_steps": self.generation_steps, "guidance_scale": self.guidance_scale,
                "scheduler": self.scheduler, "negative_prompt": self.negative_prompt,
                "personalize_overrides": self.personalize_overrides}


@dataclass
class BenchResult:
    markdown: Path
    json: Path
    rows: list  # report.ReportRow
    personalized: list[tuple[str, str]]  # (character, variant) cells learned in this run
    generated: int  # samples generated in this run
    seconds: float


def personalize_config(config: BenchConfig, variant: str, class_word: str):
    from ..personalize.config import PersonalizeConfig

    pc = PersonalizeConfig(base=config.base, schedule=config.schedule, seed=config.seed, class_word=class_word,
                           **VARIANT_FLAGS[variant], **config.personalize_overrides)
    if config.steps is not None:
        pc = pc.with_total_steps(config.steps)
    pc.validate()
    return pc


def run_bench(config: BenchConfig, *, progress: ProgressCallback = no_progress,
              cancel: Optional[CancelToken] = None) -> BenchResult:
    from ..atomic import atomic_write_json
    from .dataset import load_dataset

    began = time.perf_counter()
    variants = parse_variants(config.variants)
    dataset = load_dataset(config.dataset)
    out = Path(config.out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out} exists and is not a folder.")
    _check_resume(out, config)
    _remove_stale_staging(out)
    atomic_write_json(out / "bench.json", {"settings": config.settings(), "variants": variants,
                                           "clip_model": config.clip_model})

    personalized: list[tuple[str, str]] = []
    generated = 0
    cells = [(c, v) for c in dataset.characters for v in variants]
    for n, (character, variant) in enumerate(cells):
        if cancel is not None:
            cancel.raise_if_cancelled()
        progress(ProgressEvent("bench", n, len(cells), message=f"{character.id} / {variant}"))
        learned, made = _run_cell(config, dataset, character, variant, out, progress=progress, cancel=cancel)
        if learned:
            personalized.append((character.id, variant))
        generated += made
    progress(ProgressEvent("bench", len(cells), len(cells), message="scoring"))

    rows, cell_times = _evaluate(config, dataset, variants, out, progress=progress, cancel=cancel)
    from .report import write_report

    meta = {"model": config.model, "dataset": f"{dataset.name} ({len(dataset.characters)} characters, "
                                              f"{len(dataset.prompts)} prompts, seeds {dataset.seeds})",
            "base method": config.base, "schedule": config.schedule,
            "personalization steps": config.steps if config.steps is not None else "schedule default",
            "personalization seed": config.seed, "generation steps": config.generation_steps,
            "CLIP model": config.clip_model,
            "wall time of this run (s)": round(time.perf_counter() - began, 1)}
    md, js = write_report(rows, out, title="SEAL bench", meta=meta,
                          extra_sections=[_timing_section(cell_times, variants)])
    return BenchResult(md, js, rows, personalized, generated, time.perf_counter() - began)


def _check_resume(out: Path, config: BenchConfig) -> None:
    previous = out / "bench.json"
    if not previous.is_file():
        if out.is_dir() and any(out.iterdir()):
            raise InputError(f"{out} is not empty and holds no bench; choose an empty or new output folder.")
        return
    try:
        old = json.loads(previous.read_text(encoding="utf-8"))["settings"]
    except (OSError, ValueError, KeyError, TypeError):
        raise InputError(f"{previous} is unreadable; remove the folder or choose another one.") from None
    new = config.settings()
    changed = [k for k in SETTINGS_THAT_MUST_MATCH + ("personalize_overrides",) if old.get(k) != new.get(k)]
    if changed:
        raise InputError(f"{out} holds a bench run with different settings ({', '.join(changed)}); resume it with "
                         f"the same settings or choose another output folder.")


def _remove_stale_staging(out: Path) -> None:
    """A bench killed mid-personalization leaves a hidden staging folder (never a concept); drop it.

    Assumes one bench per output folder at a time, as the resume logic does anyway.
    """
    import shutil

    for stage in out.glob("concepts/*/.*.staging-*"):
        shutil.rmtree(stage, ignore_errors=True)


def _load_model(config: BenchConfig, progress: ProgressCallback, cancel: Optional[CancelToken]):
    from ..devices import RuntimeOptions
    from ..loading import load_pipeline

    return load_pipeline(config.model, config.runtime or RuntimeOptions(), config=config.model_config,
                         progress=progress, cancel=cancel)


def _release_memory() -> None:
    """Call after `del model` so the next cell's pipeline never shares the GPU with this one."""
    gc.collect()
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except ImportError:  # pragma: no cover
        pass


def _run_cell(config: BenchConfig, dataset, character, variant: str, out: Path, *,
              progress: ProgressCallback, cancel: Optional[CancelToken]) -> tuple[bool, int]:
    """Personalize (unless the concept exists) and generate the missing samples of one character x variant."""
    from ..atomic import atomic_save_image, atomic_write_json
    from ..attributes import expand_placeholder
    from ..concept import CONCEPT_JSON, apply_concept, load_concept
    from ..generation import GenerationSettings, generate

    concept_dir = out / "concepts" / character.id / variant
    sample_dir = out / "samples" / character.id / variant
    cell_path = sample_dir / "cell.json"
    cell = json.loads(cell_path.read_text(encoding="utf-8")) if cell_path.is_file() else {}
    learned = False
    if not (concept_dir / CONCEPT_JSON).is_file():
        from ..personalize import personalize

        reference = character.load_reference()
        mask = character.load_mask(reference)
        t0 = time.perf_counter()
        model = _load_model(config, progress, cancel)
        cell["load_s"] = round(cell.get("load_s", 0.0) + time.perf_counter() - t0, 3)
        t0 = time.perf_counter()
        personalize(model, reference, mask, personalize_config(config, variant, character.class_word),
                    concept_dir, progress=progress, cancel=cancel)
        cell["personalize_s"] = round(time.perf_counter() - t0, 3)
        learned = True
        del model
        _release_memory()
        atomic_write_json(cell_path, cell)

    todo = [s for s in dataset.samples(character) if not (sample_dir / f"{s.id}.png").is_file()]
    if not todo:
        return learned, 0
    # Generation always uses the concept as saved, in a freshly loaded model: the same path
    # whether this cell was learned a moment ago or in an interrupted earlier run.
    concept = load_concept(concept_dir)
    t0 = time.perf_counter()
    model = _load_model(config, progress, cancel)
    identity = apply_concept(model, concept)
    cell["load_s"] = round(cell.get("load_s", 0.0) + time.perf_counter() - t0, 3)
    t0 = time.perf_counter()
    for sample in todo:
        prompt = expand_placeholder(sample.prompt, identity)
        settings = GenerationSettings(prompt=prompt, negative_prompt=config.negative_prompt, seeds=[sample.seed],
                                      steps=config.generation_steps, guidance_scale=config.guidance_scale,
                                      scheduler=config.scheduler)
        result = generate(model, settings, progress=progress, cancel=cancel)[0]
        record = {**result.record, "character": character.id, "variant": variant, "sample": sample.id,
                  "prompt_id": sample.prompt_id, "attributes": sample.attribute_dict}
        atomic_write_json(sample_dir / f"{sample.id}.json", record)
        atomic_save_image(result.image, sample_dir / f"{sample.id}.png")  # last: the PNG marks the sample done
    cell["generate_s"] = round(cell.get("generate_s", 0.0) + time.perf_counter() - t0, 3)
    cell["samples"] = len(dataset.samples(character))
    atomic_write_json(cell_path, cell)
    del model
    _release_memory()
    return learned, len(todo)


def _labels_key(labels: dict[str, list[str]], template: str) -> str:
    return hashlib.sha256(json.dumps([labels, template], sort_keys=True).encode()).hexdigest()[:16]


def _evaluate(config: BenchConfig, dataset, variants: list[str], out: Path, *,
              progress: ProgressCallback, cancel: Optional[CancelToken]):
    """Score every sample (cached per sample) and summarise each variant with bootstrap CIs."""
    from PIL import Image

    from ..atomic import atomic_save_image, atomic_write_json
    from . import attributes_accuracy as aa
    from .identity import identity_scores
    from .leakage import asks_other_background, leakage
    from .regions import subject_mask
    from .rigidity import asks_other_pose, rigidity

    all_samples = [s for c in dataset.characters for s in dataset.samples(c)]
    labels = aa.label_sets([s.attribute_dict for s in all_samples], dataset.labels)
    key = {"clip_model": config.clip_model, "labels": _labels_key(labels, aa.DEFAULT_TEMPLATE),
           "metrics_version": METRICS_VERSION}
    clip = None
    per_variant: dict[str, list[dict]] = {v: [] for v in variants}
    cell_times: dict[tuple[str, str], dict] = {}
    total = len(dataset.characters) * len(variants)
    done = 0
    for character in dataset.characters:
        reference = ref_mask = None
        samples = dataset.samples(character)
        for variant in variants:
            if cancel is not None:
                cancel.raise_if_cancelled()
            sample_dir = out / "samples" / character.id / variant
            metric_dir = out / "metrics" / character.id / variant
            cell_path = sample_dir / "cell.json"
            cell_times[(character.id, variant)] = json.loads(cell_path.read_text()) if cell_path.is_file() else {}
            cached, missing = [], []
            for s in samples:
                path = metric_dir / f"{s.id}.json"
                record = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
                if record is not None and record.get("key") == key:
                    cached.append(record)
                else:
                    missing.append(s)
            if missing:
                if clip is None:
                    from .clip_models import load_clip

                    device = config.runtime.device if config.runtime is not None else None
                    clip = load_clip(config.clip_model, device=None if device in (None, "auto") else device,
                                     offline=bool(config.runtime is not None and config.runtime.offline))
                if reference is None:
                    reference = character.load_reference()
                    ref_mask = character.load_mask(reference)
                t0 = time.perf_counter()
                images = [Image.open(sample_dir / f"{s.id}.png").convert("RGB") for s in missing]
                masks = []
                for s, im in zip(missing, images):
                    mask_path = metric_dir / f"{s.id}.mask.png"
                    if mask_path.is_file():
                        masks.append(Image.open(mask_path).convert("L"))
                    else:
                        masks.append(subject_mask(im))
                        atomic_save_image(masks[-1], mask_path)
                ids = identity_scores(clip, reference, ref_mask, images, masks)
                preds = aa.classify(clip, images, [s.attribute_dict for s in missing], labels)
                for s, im, m, ident, pred in zip(missing, images, masks, ids, preds):
                    attrs = s.attribute_dict
                    record = {"key": key, "character": character.id, "variant": variant, "sample": s.id,
                              "prompt_id": s.prompt_id, "seed": s.seed, "attributes": attrs,
                              "identity": round(ident, 6),
                              "attribute_predictions": {p.attribute: {"requested": p.requested,
                                                                      "predicted": p.predicted,
                                                                      "correct": p.correct} for p in pred}}
                    if asks_other_background(attrs.get("background"), character.tags.get("background")):
                        lk = leakage(reference, ref_mask, im, m)
                        record["leakage"] = {"similarity": lk.similarity, "leaked": lk.leaked,
                                             "background_fraction": lk.background_fraction}
                    else:
                        record["leakage"] = None
                    if asks_other_pose(attrs, character.tags):
                        rg = rigidity(ref_mask, m)
                        record["rigidity"] = {"iou": rg.iou, "rigid": rg.rigid}
                    else:
                        record["rigidity"] = None
                    atomic_write_json(metric_dir / f"{s.id}.json", record)
                    cached.append(record)
                cell_times[(character.id, variant)]["evaluate_s"] = round(time.perf_counter() - t0, 3)
                atomic_write_json(cell_path, cell_times[(character.id, variant)])
            order = {s.id: i for i, s in enumerate(samples)}
            per_variant[variant].extend(sorted(cached, key=lambda r: order.get(r["sample"], 0)))
            done += 1
            progress(ProgressEvent("evaluate", done, total, message=f"{character.id} / {variant}"))
    if clip is not None:
        del clip
        _release_memory()
    rows = [_summarise(v, per_variant[v], labels, config.n_resamples, cell_times) for v in variants]
    return rows, cell_times


def _summarise(variant: str, records: list[dict], labels: dict[str, list[str]], n_resamples: int,
               cell_times: dict) -> Any:
    import numpy as np

    from ..attributes import ATTRIBUTES
    from .bootstrap import bootstrap_ci, bootstrap_indices
    from .report import ReportRow

    groups = [r["character"] for r in records]
    boot = dict(n_resamples=n_resamples)

    def flag(r: dict, metric: str, field_: str) -> Optional[float]:
        value = r.get(metric)
        return None if value is None or value.get(field_) is None else float(value[field_])

    metrics = {
        "identity": bootstrap_ci([r["identity"] for r in records], groups=groups, **boot),
        "leakage": bootstrap_ci([flag(r, "leakage", "leaked") for r in records], groups=groups, **boot),
        "rigidity": bootstrap_ci([flag(r, "rigidity", "rigid") for r in records], groups=groups, **boot),
    }
    # correctness matrix: samples x attributes (NaN where not requested / not scorable)
    scorable = [a for a in ATTRIBUTES if len(labels.get(a, ())) >= 2]
    hits = np.full((len(records), len(scorable)), np.nan)
    for i, r in enumerate(records):
        for j, a in enumerate(scorable):
            p = r["attribute_predictions"].get(a)
            if p is not None:
                hits[i, j] = float(p["correct"])
    per_attribute = {}
    for j, a in enumerate(scorable):
        col = [None if np.isnan(v) else float(v) for v in hits[:, j]]
        if any(v is not None for v in col):
            per_attribute[a] = bootstrap_ci(col, groups=groups, **boot)

    def mean_over_attributes(idx: np.ndarray) -> Optional[float]:
        sub = hits[idx]
        counts = (~np.isnan(sub)).sum(axis=0)
        if not counts.any():
            return None
        return float(np.mean(np.nansum(sub, axis=0)[counts > 0] / counts[counts > 0]))

    metrics["attribute_accuracy"] = bootstrap_indices(len(records), mean_over_attributes, groups=groups, **boot)
    mine = {c: t for (c, v), t in cell_times.items() if v == variant}
    timings = {}
    for name in ("load_s", "personalize_s", "generate_s", "evaluate_s"):
        vals = [t[name] for t in mine.values() if name in t]
        if vals:
            timings[f"{name[:-2]} per character"] = float(np.mean(vals))
    notes = []
    skipped = [a for a in ATTRIBUTES if a not in per_attribute]
    if skipped:
        notes.append(f"attribute accuracy leaves out {', '.join(skipped)} (not requested, or one label only)")
    return ReportRow(variant=variant, metrics=metrics, per_attribute=per_attribute, samples=records,
                     timings=timings, notes=notes)


def _timing_section(cell_times: dict, variants: list[str]) -> str:
    characters = list(dict.fromkeys(c for c, _ in cell_times))
    lines = ["## Run time per character and variant (seconds: load / personalize / generate / score)", "",
             "| character | " + " | ".join(variants) + " |", "|---|" + "---|" * len(variants)]

    def fmt(t: dict) -> str:
        return " / ".join(f"{t[k]:.1f}" if k in t else "-"
                          for k in ("load_s", "personalize_s", "generate_s", "evaluate_s"))

    for c in characters:
        lines.append(f"| {c} | " + " | ".join(fmt(cell_times.get((c, v), {})) for v in variants) + " |")
    lines += ["", "Cells resumed from an earlier run keep the times measured when they were computed."]
    return "\n".join(lines)
