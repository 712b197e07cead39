"""The toy-world SEAL bench: baseline TTF vs TTF+SEAL vs each ablation, read back by detectors.

For every held-out character (an appearance the world model never saw) one reference
is rendered on a distinctive background and in a distinctive pose. Each variant
personalizes the shipped toy model from that one image with the same seed, then
generates the same prompt set (same noise per prompt) that changes emotion, action,
framing, style and background. The detectors read every factor back, giving the
paper's four columns without any learned similarity model:

- identity: shape, colour and accessory all read back as the character's;
- attribute accuracy: mean over emotion, action, scale, position, style, background of
  "read back as asked";
- background leakage: among samples asking for another background, the share whose
  background reads back as the reference's;
- pose rigidity: among samples asking for another arm pose or framing, the share where
  any changed factor reads back as the reference's value.
A "class word" row (no personalization, prompt says just "creature") is the floor.
CIs are percentile bootstraps resampling characters (then samples within them).
"""

from __future__ import annotations

import argparse
import gc
import random
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

from .attributes import (APPEARANCE_FACTORS, CLASS_WORD, FACTORS, HELD_OUT_APPEARANCES, Sticker, context_phrase,
                         prompt_for)

CONTEXT_FACTORS = ("emotion", "action", "scale", "position", "style", "background")
POSE_FACTORS = ("action", "scale", "position")
REFERENCE_CONTEXT = dict(emotion="happy", action="up", scale="full", position="centre", style="flat",
                         background="orange")
"""The reference's distinctive pose (arms up) and background (orange); fixed before any run."""
CLASS_ROW = "class word"
TOY_SETTINGS: dict[str, Any] = {"augment": False}
"""Toy-world personalization settings shared by every variant (docs/toyworld.md). No scale/shift
augmentation: the world's camera is categorical (full body / closeup, left / centre / right) and
named in the caption, while the generic views make sizes and offsets the world never has and add
words ("far away", "close-up") its word-level vocabulary lacks (they tokenize to single letters).
Measured: with augmentation 2/8 identity hits, without 8/8 (baseline, 200 steps, same seed)."""


@dataclass
class ToyBenchConfig:
    out_dir: Path
    variants: list[str] = field(default_factory=lambda: ["baseline", "seal", "no-attention-loss",
                                                         "no-split-merge", "no-layer-restriction"])
    characters: int = len(HELD_OUT_APPEARANCES)
    prompts: int = 24  # per character
    base: str = "ti+lora"
    schedule: str = "fast"
    steps: Optional[int] = None
    seed: int = 0
    generation_steps: int = 20
    pipeline: Optional[Path] = None
    detector: Optional[Path] = None
    device: str = "cpu"
    n_resamples: int = 2000
    class_word_row: bool = True
    caption: bool = True  # train with the reference's context words (reference_template); False: engine default
    personalize_overrides: dict[str, Any] = field(default_factory=dict)


def reference_sticker(appearance: Sequence[str]) -> Sticker:
    return Sticker(**dict(zip(APPEARANCE_FACTORS, appearance)), **REFERENCE_CONTEXT)


def reference_images(ref: Sticker):
    """(RGBA reference, L mask): the reference keeps its background (opaque), the mask is the creature."""
    import numpy as np
    from PIL import Image

    from .detectors import foreground_mask
    from .render import render

    rgb = render(ref, random.Random(7), jitter=False)
    mask = foreground_mask(rgb[None], [ref.background])[0]
    return Image.fromarray(rgb).convert("RGBA"), Image.fromarray((mask * 255).astype(np.uint8), "L")


def reference_template(ref: Sticker) -> str:
    """The reference's caption in the world's own prompt form, e.g. 'a {subject}, happy, arms up, ...,
    on a {background} background'. The toy text encoder only ever saw fully described prompts, so
    every variant is trained with the reference's context named (see docs/toyworld.md)."""
    ctx = context_phrase(ref).replace(f"on a {ref.background} background", "on a {background} background")
    return "a {subject}, " + ctx


def prompt_stickers(ref: Sticker, n: int, seed: int) -> list[Sticker]:
    """n stickers with the reference's appearance and every context factor drawn uniformly."""
    rng = random.Random(seed)
    return [ref.replace(**{f: rng.choice(FACTORS[f]) for f in CONTEXT_FACTORS}) for _ in range(n)]


def score(asked: Sticker, read: dict[str, str], ref: Sticker) -> dict[str, Any]:
    """Per-sample values of the four metrics (None where a metric does not apply)."""
    changed_pose = [f for f in POSE_FACTORS if getattr(asked, f) != getattr(ref, f)]
    return {
        "identity": float(all(read[f] == getattr(asked, f) for f in APPEARANCE_FACTORS)),
        "attribute_accuracy": sum(read[f] == getattr(asked, f) for f in CONTEXT_FACTORS) / len(CONTEXT_FACTORS),
        "leakage": (float(read["background"] == ref.background) if asked.background != ref.background else None),
        "rigidity": (float(any(read[f] == getattr(ref, f) for f in changed_pose)) if changed_pose else None),
        **{f"ok_{f}": float(read[f] == getattr(asked, f)) for f in FACTORS},
    }


def _load_model(cfg: ToyBenchConfig):
    from ..devices import RuntimeOptions
    from ..loading import load_pipeline
    from .model import default_pipeline_dir

    return load_pipeline(str(cfg.pipeline or default_pipeline_dir()), RuntimeOptions(device=cfg.device, dtype="fp32"))


def _personalize(cfg: ToyBenchConfig, variant: str, model: Any, ref: Sticker, ref_img: Any, mask: Any, out: Path):
    from ..evaluation.bench import VARIANT_FLAGS
    from ..personalize import personalize
    from ..personalize_config import PersonalizeConfig

    caption = dict(prompt_template=reference_template(ref), background_words=ref.background) if cfg.caption else {}
    settings = {**TOY_SETTINGS, **caption, **cfg.personalize_overrides}
    pc = PersonalizeConfig(base=cfg.base, schedule=cfg.schedule, seed=cfg.seed, class_word=CLASS_WORD,
                           probe_attention=False, **VARIANT_FLAGS[variant], **settings)
    if cfg.steps is not None:
        pc = pc.with_total_steps(cfg.steps)
    return personalize(model, ref_img, mask, pc, out, overwrite=True)


def run_cell(cfg: ToyBenchConfig, variant: str, ref: Sticker, asked: list[Sticker], detector: Any,
             work: Path) -> tuple[list[dict], dict[str, float]]:
    """Personalize (unless the class-word row), generate the prompts, read them back."""
    from .evaluate import generate

    model = _load_model(cfg)
    t0 = time.perf_counter()
    if variant == CLASS_ROW:
        identity = CLASS_WORD
        pers_s = 0.0
    else:
        ref_img, mask = reference_images(ref)
        concept = _personalize(cfg, variant, model, ref, ref_img, mask, work / f"{'-'.join(ref.appearance)}-{variant}")
        identity = concept.identity_string
        pers_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    prompts = [prompt_for(s, identity=identity) for s in asked]
    images = generate(model.pipe, prompts, seed=cfg.seed + 1000, steps=cfg.generation_steps)
    gen_s = time.perf_counter() - t1
    reads = detector.predict(images)
    rows = [{"character": "-".join(ref.appearance), "prompt": p, "asked": s.as_dict(), "read": r, **score(s, r, ref)}
            for p, s, r in zip(prompts, asked, reads)]
    del model
    gc.collect()
    return rows, {"personalize_s": pers_s, "generate_s": gen_s}


def summarise(variant: str, rows: list[dict], times: dict[str, float], n_resamples: int):
    from ..evaluation.bootstrap import bootstrap_ci
    from ..evaluation.report import ReportRow

    groups = [r["character"] for r in rows]

    def ci(key: str):
        return bootstrap_ci([r[key] for r in rows], groups=groups, n_resamples=n_resamples)

    metrics = {k: ci(k) for k in ("identity", "attribute_accuracy", "leakage", "rigidity")}
    per_attr = {f: ci(f"ok_{f}") for f in FACTORS}
    return ReportRow(variant=variant, metrics=metrics, per_attribute=per_attr, samples=rows,
                     timings={k: round(v, 1) for k, v in times.items()})


def _columns():
    from ..evaluation.report import MetricColumn

    return (
        MetricColumn("identity", "identity (appearance read back)"),
        MetricColumn("attribute_accuracy", "attribute acc."),
        MetricColumn("leakage", "bg leakage", rate=True, higher_is_better=False),
        MetricColumn("rigidity", "pose rigidity", rate=True, higher_is_better=False),
    )


def run_toy_bench(cfg: ToyBenchConfig, log=print) -> tuple[Path, Path, list]:
    from ..evaluation.bench import parse_variants
    from ..evaluation.report import write_report
    from .detectors import Detector

    variants = ([CLASS_ROW] if cfg.class_word_row else []) + parse_variants(cfg.variants)
    detector = Detector(cfg.detector, device=cfg.device)
    chars = [reference_sticker(a) for a in HELD_OUT_APPEARANCES[: cfg.characters]]
    began = time.perf_counter()
    rows_by_variant: dict[str, list[dict]] = {v: [] for v in variants}
    times: dict[str, dict[str, float]] = {v: {"personalize_s": 0.0, "generate_s": 0.0} for v in variants}
    with tempfile.TemporaryDirectory(prefix="toybench-") as tmp:
        for ci_, ref in enumerate(chars):
            asked = prompt_stickers(ref, cfg.prompts, seed=cfg.seed + 100 * ci_)
            for v in variants:
                rows, t = run_cell(cfg, v, ref, asked, detector, Path(tmp))
                rows_by_variant[v] += rows
                for k, val in t.items():
                    times[v][k] += val
                ident = sum(r["identity"] for r in rows) / len(rows)
                log(f"{'-'.join(ref.appearance):24s} {v:22s} identity {ident:.2f}  "
                    f"personalize {t['personalize_s']:.1f}s generate {t['generate_s']:.1f}s")
    report_rows = [summarise(v, rows_by_variant[v], times[v], cfg.n_resamples) for v in variants]
    meta = {"world": "toy (seal_engine/toyworld)", "characters": len(chars), "prompts per character": cfg.prompts,
            "base": cfg.base, "schedule": cfg.schedule, "steps": cfg.steps or "schedule default",
            "seed": cfg.seed, "generation": f"DDIM {cfg.generation_steps} steps", "device": cfg.device,
            "reference": f"arms {REFERENCE_CONTEXT['action']}, {REFERENCE_CONTEXT['background']} background",
            "training prompt": "reference caption (reference_template)" if cfg.caption else "engine default",
            "toy settings": {**TOY_SETTINGS, **cfg.personalize_overrides},
            "total seconds": round(time.perf_counter() - began, 1)}
    md, js = write_report(report_rows, cfg.out_dir, title="SEAL bench, toy world", meta=meta, columns=_columns())
    return md, js, report_rows


# ------------------------------------------------------------------ `seal bench --world toy`
def add_arguments(group: Any) -> None:
    group.add_argument("--toy-characters", type=int, default=len(HELD_OUT_APPEARANCES),
                       help="held-out characters to use (default: all)")
    group.add_argument("--toy-prompts", type=int, default=24, help="prompts per character")


def run(args: argparse.Namespace) -> int:
    from ..evaluation.bench import parse_variants

    device = args.device if getattr(args, "device", "auto") not in (None, "auto") else "cpu"
    cfg = ToyBenchConfig(out_dir=Path(args.out), variants=parse_variants(args.variants),
                         characters=args.toy_characters, prompts=args.toy_prompts, base=args.base,
                         schedule=args.schedule, steps=args.steps, seed=args.seed,
                         generation_steps=args.gen_steps,
                         pipeline=Path(args.model) if getattr(args, "model", None) else None, device=device,
                         n_resamples=args.resamples)
    md, _js, _rows = run_toy_bench(cfg)
    print(md.read_text(encoding="utf-8"))
    return 0
