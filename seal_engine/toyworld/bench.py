"""The toy-world SEAL protocol: the settings a user gets, references drawn at random, paired CIs.

`seal bench --world toy` (or `benchmarks/toyworld_seal.py`). What it does, and why:

- **References drawn at random.** For each held-out appearance (a character the world model
  never saw), `references` references are rendered with emotion, action, framing, style and
  background drawn at random (seeded). The mask is the automatic one (`masks.compute_mask`),
  as a user who drops the image gets; its IoU against the renderer's is recorded.
- **The settings a user gets.** Each variant is `PersonalizeConfig()` with the engine's
  defaults (automatic caption, augmentation as the engine decides, the schedule's steps)
  and the class word a user would type ("creature"). SEAL = its parts as shipped (image-
  embedding start, attention loss, background component, split-merge, layer restriction);
  baseline = plain TTF, every part off (class-word start); `image-start-only` = the baseline
  with SEAL's start; an ablation = one part off. Never a caption written from the renderer's
  truth (`--ground-truth-caption` is a separate, labelled diagnostic).
- **Prompts that can show the effect.** Every prompt asks for an emotion, an arm pose and a
  background different from the reference's; framing and style at random. One prompt in
  five leaves the background unnamed and one in five the arm pose: there, leakage is the
  reference's value showing up more often than chance.
- **Metrics** (read back by the world's detectors): identity (shape, colour and accessory
  right); attribute accuracy (named context factors right); background leakage (a named,
  different background reads back as the reference's); pose rigidity (a changed arm pose or
  framing reads back as the reference's); emotion copying (the reference's emotion instead
  of the asked one); and, on unnamed prompts, the reference's background / pose rate against
  chance (1/6, 1/3); and emotion accuracy on its own (the asked emotion read back), since the
  six-factor average hides what happens to the factor a sticker pack varies most. Rigidity and
  copying are also scored against chance, on a decoy value neither asked nor the reference's
  (`bench_chance.py`): a wrong draw lands on the reference's value by chance too.
- **Paired differences.** Each variant minus the baseline per reference, bootstrap CI over
  references; and minus `image-start-only` (what the regularizers add to the start).
- **Resumable.** Each (schedule, variant, reference) cell is a JSON file in `OUT/cells/`;
  a rerun skips the cells it has. Several runs on one `OUT` share the cells (a lock per cell);
  each waits at the end for the cells another is computing, so the last to finish prints
  complete tables.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

from .attributes import (_ACTION_WORDS, _POSITION_WORDS, _SCALE_WORDS, APPEARANCE_FACTORS, CLASS_WORD, FACTORS,
                         HELD_OUT_APPEARANCES, Sticker)
from .bench_chance import CHANCE_METRICS, POSE_FACTORS, chance_scores

CONTEXT_FACTORS = ("emotion", "action", "scale", "position", "style", "background")
CLASS_ROW = "class word"
START_ROW = "image-start-only"
RESULT_METRICS = ("identity", "attribute_accuracy", "leakage", "rigidity", "emotion_copy", "unnamed_bg_ref",
                  "unnamed_pose_ref", "ok_emotion")
METRICS = RESULT_METRICS + CHANCE_METRICS  # the chance terms: bench_chance.py
# The emotion is what a sticker pack varies most, and the attribute average over six factors hid
# a cost SEAL pays there alone (read right 0.88 against plain TTF's 0.94 on `paper`, round 13).
PAIRED_METRICS = METRICS[:5] + ("ok_emotion",)
LOWER_IS_BETTER = {"leakage", "rigidity", "emotion_copy", "unnamed_bg_ref", "unnamed_pose_ref", *CHANCE_METRICS}
CHANCE = {"unnamed_bg_ref": 1 / len(FACTORS["background"]), "unnamed_pose_ref": 1 / len(FACTORS["action"])}
PROTOCOL_VERSION = 2


@dataclass
class ToyBenchConfig:
    out_dir: Path
    variants: list[str] = field(default_factory=lambda: ["baseline", START_ROW, "seal"])
    schedules: list[str] = field(default_factory=lambda: ["paper"])
    appearances: int = len(HELD_OUT_APPEARANCES)
    references: int = 3  # per appearance
    prompts: int = 10  # per reference
    seeds: int = 2  # generation seeds per prompt
    base: str = "ti+lora"
    seed: int = 0
    generation_steps: int = 20
    pipeline: Optional[Path] = None
    detector: Optional[Path] = None
    device: str = "cpu"
    n_resamples: int = 2000
    class_word_row: bool = True
    ground_truth_caption: bool = False  # diagnostic only: train with the renderer's caption
    personalize_overrides: dict[str, Any] = field(default_factory=dict)


# ------------------------------------------------------------------ references and prompts
def draw_references(cfg: ToyBenchConfig) -> list[Sticker]:
    """`references` stickers per held-out appearance, every context factor drawn at random."""
    rng = random.Random(cfg.seed)
    refs = []
    for app in HELD_OUT_APPEARANCES[: cfg.appearances]:
        for _ in range(cfg.references):
            ctx = {f: rng.choice(FACTORS[f]) for f in CONTEXT_FACTORS}
            refs.append(Sticker(**dict(zip(APPEARANCE_FACTORS, app)), **ctx))
    return refs


def ref_id(ref: Sticker) -> str:
    return "-".join(getattr(ref, f) for f in (*APPEARANCE_FACTORS, *CONTEXT_FACTORS))


def reference_images(ref: Sticker, seed: int = 7) -> tuple[Any, Any, Any]:
    """(RGBA reference on its own opaque background, automatic mask, renderer's mask)."""
    import numpy as np
    from PIL import Image

    from ..masks import compute_mask
    from .detectors import foreground_mask
    from .render import render

    rgb = render(ref, random.Random(seed), jitter=False)
    truth = foreground_mask(rgb[None], [ref.background])[0]
    image = Image.fromarray(rgb).convert("RGBA")
    auto = compute_mask(image, method="auto").mask.convert("L")
    return image, auto, Image.fromarray((truth * 255).astype(np.uint8), "L")


@dataclass(frozen=True)
class Ask:
    sticker: Sticker
    omit: str  # "" | "background" | "action"


def prompt_asks(ref: Sticker, n: int, seed: int) -> list[Ask]:
    """n prompts: emotion, arm pose and background differ from the reference's; one in five leaves
    the background unnamed, one in five the arm pose."""
    rng = random.Random(seed)
    asks = []
    for i in range(n):
        changed = {f: rng.choice([v for v in FACTORS[f] if v != getattr(ref, f)])
                   for f in ("emotion", "action", "background")}
        free = {f: rng.choice(FACTORS[f]) for f in ("scale", "position", "style")}
        omit = {3: "background", 4: "action"}.get(i % 5, "")
        asks.append(Ask(ref.replace(**changed, **free), omit))
    return asks


def prompt_text(ask: Ask, identity: str) -> str:
    """The toy world's prompt form with `identity` for the appearance and the omitted factor left out."""
    s = ask.sticker
    parts = [s.emotion]
    if ask.omit != "action":
        parts.append(_ACTION_WORDS[s.action])
    parts += [_SCALE_WORDS[s.scale], _POSITION_WORDS[s.position], f"{s.style} style"]
    if ask.omit != "background":
        parts.append(f"on a {s.background} background")
    return f"a {identity}, " + ", ".join(parts)


def ground_truth_template(ref: Sticker) -> str:
    """Diagnostic only: the renderer's own caption (a user does not have it)."""
    ask = Ask(ref, "")
    return prompt_text(ask, "{subject}").replace(f"on a {ref.background} background",
                                                  "on a {background} background")


def score(ask: Ask, read: dict[str, str], ref: Sticker) -> dict[str, Any]:
    """Per-sample metric values (None where a metric does not apply)."""
    s = ask.sticker
    named = [f for f in CONTEXT_FACTORS if f != ask.omit]
    pose_changed = [f for f in POSE_FACTORS if f != ask.omit and getattr(s, f) != getattr(ref, f)]
    rigidity = float(any(read[f] == getattr(ref, f) for f in pose_changed)) if pose_changed else None
    emotion_copy = float(read["emotion"] == ref.emotion)
    return {
        "identity": float(all(read[f] == getattr(s, f) for f in APPEARANCE_FACTORS)),
        "attribute_accuracy": sum(read[f] == getattr(s, f) for f in named) / len(named),
        "leakage": float(read["background"] == ref.background) if ask.omit != "background" else None,
        "rigidity": rigidity,
        "emotion_copy": emotion_copy,
        **chance_scores(ask, read, ref, rigidity, emotion_copy),
        "unnamed_bg_ref": float(read["background"] == ref.background) if ask.omit == "background" else None,
        "unnamed_pose_ref": float(read["action"] == ref.action) if ask.omit == "action" else None,
        **{f"ok_{f}": float(read[f] == getattr(s, f)) for f in FACTORS if f != ask.omit},
    }


# ------------------------------------------------------------------ one cell
def _load_model(cfg: ToyBenchConfig) -> Any:
    from ..devices import RuntimeOptions
    from ..loading import load_pipeline
    from .model import default_pipeline_dir

    return load_pipeline(str(cfg.pipeline or default_pipeline_dir()), RuntimeOptions(device=cfg.device, dtype="fp32"))


def personalize_config(cfg: ToyBenchConfig, variant: str, schedule: str, ref: Sticker) -> Any:
    """The user's defaults, the variant's switches, nothing else (the diagnostics are labelled)."""
    from ..evaluation.bench import VARIANT_FLAGS
    from ..personalize.config import PersonalizeConfig

    extra: dict[str, Any] = dict(cfg.personalize_overrides)
    if cfg.ground_truth_caption:
        extra.update(prompt_template=ground_truth_template(ref), background_words=ref.background)
    return PersonalizeConfig(base=cfg.base, schedule=schedule, seed=cfg.seed, class_word=CLASS_WORD,
                             probe_attention=True, **{**VARIANT_FLAGS[variant], **extra})


def seal_settings(cfg: ToyBenchConfig, schedule: str, ref: Sticker) -> dict[str, Any]:
    """What the `seal` variant ran, resolved: "engine defaults" names a different thing after a
    default changes, so pooling compares these (bench_pool.py). Not `PersonalizeConfig.run_settings`
    (the concept cache's key, which needs the model's architecture): this record's keys are the ones
    the archived draws hold, and pooling a new draw with them compares key by key."""
    from ..personalize.config import ATTENTION_GRAD_RATIO_BY_SCHEDULE, Schedule

    pc = personalize_config(cfg, "seal", schedule, ref)
    data = pc.to_dict()
    data.update(uses_image_start=pc.uses_image_start, uses_context_hold=pc.uses_context_hold,
                uses_edited_views=pc.uses_edited_views, steps=list(pc.steps()),
                attention_grad_ratio=pc.attention_grad_ratio if pc.attention_grad_ratio is not None
                else ATTENTION_GRAD_RATIO_BY_SCHEDULE[Schedule(schedule)])
    for key in ("seed", "prompt_template", "background_words"):  # per draw or per reference, not a setting
        data.pop(key, None)
    return data


def run_cell(cfg: ToyBenchConfig, variant: str, schedule: str, ref: Sticker, index: int, detector: Any,
             work: Path) -> dict:
    from ..evaluation.rigidity import mask_iou
    from ..personalize import personalize
    from .evaluate import generate

    model = _load_model(cfg)
    asks = prompt_asks(ref, cfg.prompts, seed=cfg.seed + 100 * index)
    t0 = time.perf_counter()
    info: dict[str, Any] = {}
    if variant == CLASS_ROW:
        identity = CLASS_WORD
    else:
        image, mask, truth = reference_images(ref)
        info["mask_iou"] = round(mask_iou(mask, truth), 4)
        concept = personalize(model, image, mask, personalize_config(cfg, variant, schedule, ref),
                              work / f"{index}-{variant}", overwrite=True)
        identity = concept.identity_string
        meta = concept.meta
        info.update(caption=meta["component_records"].get("auto_caption", {}).get("caption"),
                    image_start=meta["component_records"].get("image_start"),
                    start=meta["tokens"]["identity"].get("start"),
                    probe_before=meta["attention"]["probe_before"], probe_after=meta["attention"]["probe_after"],
                    layers=meta["attention"]["layers"], notes=meta["notes"],
                    loss_balance=meta["loss_balance"])
    pers_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    prompts = [prompt_text(a, identity) for a in asks]
    import numpy as np

    images = np.concatenate([generate(model.pipe, prompts, seed=cfg.seed + 1000 + 100 * k, steps=cfg.generation_steps)
                             for k in range(cfg.seeds)])
    gen_s = time.perf_counter() - t1
    reads = detector.predict(images)
    rows = []
    for j, read in enumerate(reads):
        ask = asks[j % len(asks)]
        rows.append({"reference": ref_id(ref), "prompt": prompts[j % len(asks)], "seed_index": j // len(asks),
                     "read": read, **score(ask, read, ref)})
    del model
    gc.collect()
    return {"variant": variant, "schedule": schedule, "reference": ref_id(ref), "rows": rows,
            "personalize_s": round(pers_s, 2), "generate_s": round(gen_s, 2), **info}


# ------------------------------------------------------------------ summaries
def per_reference(rows: list[dict], metric: str) -> dict[str, float]:
    out: dict[str, list[float]] = {}
    for r in rows:
        if r.get(metric) is not None:
            out.setdefault(r["reference"], []).append(r[metric])
    return {k: sum(v) / len(v) for k, v in out.items()}


def summarise(cells: list[dict], n_resamples: int) -> dict[str, Any]:
    from ..evaluation.bootstrap import bootstrap_ci

    rows = [r for c in cells for r in c["rows"]]
    groups = [r["reference"] for r in rows]
    out = {}
    for m in METRICS:
        vals = [r.get(m) for r in rows]
        out[m] = bootstrap_ci(vals, groups=groups, n_resamples=n_resamples).to_dict()
    out["personalize_s"] = round(sum(c["personalize_s"] for c in cells) / max(1, len(cells)), 2)
    out["references"] = len(cells)
    return out


def paired(cells_a: list[dict], cells_b: list[dict], metric: str, n_resamples: int, seed: int = 0) -> dict:
    """Mean over references of (a - b), with a percentile bootstrap CI resampling references."""
    import numpy as np

    a = per_reference([r for c in cells_a for r in c["rows"]], metric)
    b = per_reference([r for c in cells_b for r in c["rows"]], metric)
    keys = sorted(set(a) & set(b))
    if not keys:
        return {"estimate": None, "low": None, "high": None, "n": 0}
    d = np.array([a[k] - b[k] for k in keys])
    rng = np.random.default_rng(seed)
    boots = d[rng.integers(0, len(d), size=(n_resamples, len(d)))].mean(1)
    return {"estimate": float(d.mean()), "low": float(np.percentile(boots, 2.5)),
            "high": float(np.percentile(boots, 97.5)), "n": len(keys)}


def tables(done: dict[tuple[str, str], list[dict]], n_resamples: int) -> tuple[dict, dict, dict]:
    """(results, paired against the baseline, paired against `image-start-only`) from cells by (schedule, variant)."""
    results: dict[str, dict[str, dict]] = {}
    diffs: dict[str, dict[str, dict]] = {}
    start_diffs: dict[str, dict[str, dict]] = {}  # against the same start without the regularizers
    for (sched, var), cells in done.items():
        results.setdefault(sched, {})[var] = summarise(cells, n_resamples)
        for against, table in (("baseline", diffs), (START_ROW, start_diffs)):
            if var not in ("baseline", against) and (sched, against) in done and sched != "-":
                table.setdefault(sched, {})[var] = {m: paired(cells, done[(sched, against)], m, n_resamples)
                                                    for m in METRICS}
    return results, diffs, start_diffs


def _fmt(ci: dict, rate: bool, digits: int = 0) -> str:
    if ci.get("estimate") is None:
        return "n/a"
    if rate:
        return f"{100 * ci['estimate']:.{digits}f}% [{100 * ci['low']:.{digits}f}, {100 * ci['high']:.{digits}f}]"
    return f"{ci['estimate']:.3f} [{ci['low']:.3f}, {ci['high']:.3f}]"


def _fmt_diff(ci: dict) -> str:
    if ci.get("estimate") is None:
        return "n/a"
    return f"{ci['estimate']:+.3f} [{ci['low']:+.3f}, {ci['high']:+.3f}]"


def _fmt_rate_diff(ci: dict) -> str:
    if ci.get("estimate") is None:
        return "n/a"
    return f"{100 * ci['estimate']:+.1f}% [{100 * ci['low']:+.1f}, {100 * ci['high']:+.1f}]"


def render_markdown(results: dict[str, dict[str, dict]], diffs: dict[str, dict[str, dict]], meta: dict,
                    start_diffs: Optional[dict[str, dict[str, dict]]] = None) -> str:
    lines = ["# SEAL protocol, toy world", ""]
    lines += [f"- {k}: {v}" for k, v in meta.items()]
    head = ("| schedule | variant | identity ↑ | attribute acc. ↑ | bg leakage ↓ | pose rigidity ↓ | emotion copy ↓ "
            "| unnamed bg = ref (chance 17%) ↓ | unnamed pose = ref (chance 33%) ↓ | emotion acc. ↑ | refs "
            "| personalize s/ref |")
    lines += ["", "## Results", "", head, "|" + "---|" * 12]
    for sched, by_var in results.items():
        for var, s in by_var.items():
            cells = [_fmt(s[m], m in LOWER_IS_BETTER) for m in RESULT_METRICS]
            lines.append(f"| {sched} | {var} | " + " | ".join(cells) + f" | {s['references']} | {s['personalize_s']} |")
    lines += ["", "## Paired differences against the baseline (per reference, 95% bootstrap CI over references)", "",
              "| schedule | variant − baseline | identity | attribute acc. | bg leakage | pose rigidity | emotion copy "
              "| emotion acc. |", "|" + "---|" * 8]
    for sched, by_var in diffs.items():
        for var, d in by_var.items():
            lines.append(f"| {sched} | {var} | " + " | ".join(_fmt_diff(d[m]) for m in PAIRED_METRICS) + " |")
    lines += ["", "## Rigidity and copying against chance (bench_chance.py: the same rule scored on a value "
              "neither asked nor the reference's)", "",
              "| schedule | variant | pose rigidity | chance | above chance | − baseline, above chance "
              "| emotion copy | chance | above chance | − baseline, above chance |", "|" + "---|" * 10]
    for sched, by_var in results.items():
        for var, s in by_var.items():
            d = diffs.get(sched, {}).get(var, {})
            row = []
            for m in ("rigidity", "emotion_copy"):
                row += [_fmt(s[m], True, 1), _fmt(s[f"{m}_chance"], True, 1), _fmt_rate_diff(s[f"{m}_above_chance"]),
                        _fmt_rate_diff(d[f"{m}_above_chance"]) if d else "-"]
            lines.append(f"| {sched} | {var} | " + " | ".join(row) + " |")
    if start_diffs:
        lines += ["", f"## Paired differences against `{START_ROW}` (what the regularizers add to SEAL's start)", "",
                  f"| schedule | variant − {START_ROW} | identity | attribute acc. | bg leakage | pose rigidity "
                  "| emotion copy | emotion acc. |", "|" + "---|" * 8]
        for sched, by_var in start_diffs.items():
            for var, d in by_var.items():
                lines.append(f"| {sched} | {var} | " + " | ".join(_fmt_diff(d[m]) for m in PAIRED_METRICS) + " |")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ the run
def _cell(cfg: ToyBenchConfig, var: str, sched: str, ref: Sticker, i: int, detector: Any, tmp: Path, path: Path,
          log: Any, wait: bool = False) -> Optional[dict]:
    """A finished cell from disk, else computed under a per-cell lock, so that several processes on one
    `--out` share the work; None when another process holds the cell (with `wait`: once it lets go,
    its cell, or this process computes it if that run died)."""
    from filelock import FileLock, Timeout

    from ..atomic import atomic_write_json

    if path.exists():
        return json.loads(path.read_text(encoding="utf-8"))
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(path.with_suffix(".lock")))
    try:
        lock.acquire(timeout=-1 if wait else 0)
    except Timeout:
        return None
    try:
        if path.exists():  # finished while we looked
            return json.loads(path.read_text(encoding="utf-8"))
        cell = run_cell(cfg, var, sched, ref, i, detector, tmp)
        atomic_write_json(path, cell)
    finally:
        lock.release()
    ident = sum(r["identity"] for r in cell["rows"]) / len(cell["rows"])
    log(f"{sched:8s} {var:22s} {i:3d} {cell['reference']:60s} identity {ident:.2f} "
        f"personalize {cell['personalize_s']:.1f}s caption: {cell.get('caption')}")
    return cell


def run_toy_bench(cfg: ToyBenchConfig, log: Any = print) -> tuple[Path, Path, dict]:
    from ..atomic import atomic_write_json, atomic_write_text
    from ..evaluation.bench import parse_variants
    from .detectors import Detector

    variants = parse_variants([v for v in cfg.variants if v != CLASS_ROW])
    detector = Detector(cfg.detector, device=cfg.device)
    refs = draw_references(cfg)
    cells_dir = Path(cfg.out_dir) / "cells"
    began = time.perf_counter()
    todo: list[tuple[str, str]] = [("-", CLASS_ROW)] if cfg.class_word_row else []
    todo += [(s, v) for s in cfg.schedules for v in variants]
    found: dict[tuple[str, str], dict[int, dict]] = {}
    skipped: list[tuple[str, str, int, Sticker, Path]] = []
    with tempfile.TemporaryDirectory(prefix="toybench-") as tmp:
        for sched, var in todo:
            for i, ref in enumerate(refs):
                path = cells_dir / sched / var.replace(" ", "-") / f"{i:03d}.json"
                cell = _cell(cfg, var, sched, ref, i, detector, Path(tmp), path, log)
                if cell is None:  # another process is computing it: collected once this run is through
                    skipped.append((sched, var, i, ref, path))
                    continue
                found.setdefault((sched, var), {})[i] = cell
        if skipped:
            log(f"waiting for {len(skipped)} cell(s) another run on {cfg.out_dir} is computing")
        for sched, var, i, ref, path in skipped:  # the last run to finish prints the complete tables
            found.setdefault((sched, var), {})[i] = _cell(cfg, var, sched, ref, i, detector, Path(tmp), path,
                                                          log, wait=True)
    done = {k: [by_index[i] for i in sorted(by_index)] for k, by_index in found.items()}
    results, diffs, start_diffs = tables(done, cfg.n_resamples)
    meta = {"protocol": f"v{PROTOCOL_VERSION} (seal_engine/toyworld/bench.py docstring)", "seed": cfg.seed,
            "references": f"{len(refs)} ({cfg.references} per held-out appearance x {cfg.appearances}, factors "
                          f"drawn with seed {cfg.seed})",
            "prompts": f"{cfg.prompts} per reference x {cfg.seeds} seeds", "base": cfg.base,
            "settings": ("engine defaults" if not cfg.personalize_overrides else
                         f"engine defaults + {cfg.personalize_overrides}")
                        + (" + GROUND-TRUTH CAPTION (diagnostic)" if cfg.ground_truth_caption else ""),
            "seal_settings": {sched: seal_settings(cfg, sched, refs[0]) for sched in cfg.schedules} if refs else {},
            "class word": CLASS_WORD, "mask": "automatic (masks.compute_mask auto)",
            "generation": f"DDIM {cfg.generation_steps} steps", "device": cfg.device,
            "seconds": round(time.perf_counter() - began, 1)}
    md = render_markdown(results, diffs, meta, start_diffs)
    out = Path(cfg.out_dir)
    md_path, js_path = out / "results.md", out / "results.json"
    atomic_write_text(md_path, md)
    atomic_write_json(js_path, {"meta": meta, "config": {**asdict(cfg), "out_dir": str(cfg.out_dir),
                                                          "pipeline": str(cfg.pipeline), "detector": str(cfg.detector)},
                                "results": results, "paired_differences": diffs,
                                "paired_differences_against_image_start_only": start_diffs})
    return md_path, js_path, {"results": results, "diffs": diffs}


# ------------------------------------------------------------------ `seal bench --world toy`
def add_arguments(group: Any) -> None:
    group.add_argument("--toy-appearances", type=int, default=len(HELD_OUT_APPEARANCES),
                       help="held-out appearances to use (default: all six)")
    group.add_argument("--toy-references", type=int, default=3, help="references per appearance (default 3)")
    group.add_argument("--toy-prompts", type=int, default=10, help="prompts per reference (default 10)")
    group.add_argument("--toy-seeds", type=int, default=2, help="generation seeds per prompt (default 2)")
    group.add_argument("--toy-schedules", default="paper", help="comma list of paper,fast,quality (default paper)")
    group.add_argument("--ground-truth-caption", action="store_true",
                       help="diagnostic: train with the renderer's caption (a user does not have it)")


def run(args: argparse.Namespace) -> int:
    from ..evaluation.bench import parse_variants

    device = args.device if getattr(args, "device", "auto") not in (None, "auto") else "cpu"
    cfg = ToyBenchConfig(out_dir=Path(args.out), variants=parse_variants(args.variants),
                         schedules=[s.strip() for s in args.toy_schedules.split(",") if s.strip()],
                         appearances=args.toy_appearances, references=args.toy_references,
                         prompts=args.toy_prompts, seeds=args.toy_seeds, base=args.base, seed=args.seed,
                         generation_steps=args.gen_steps,
                         pipeline=Path(args.model) if getattr(args, "model", None) else None, device=device,
                         n_resamples=args.resamples, ground_truth_caption=args.ground_truth_caption)
    md, _js, _res = run_toy_bench(cfg)
    print(md.read_text(encoding="utf-8"))
    return 0


__all__ = ["ToyBenchConfig", "run_toy_bench", "tables", "render_markdown", "draw_references", "prompt_asks", "prompt_text", "score", "paired"]
