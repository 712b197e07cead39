"""Personalization step cost on the tiny pipelines, side by side in one run (CPU).

1. SEAL (attention loss + split-merge + layer restriction) vs the baseline (all
   three off), same base method (ti+lora), same model, seed and batch: mean step
   time per phase and peak-RSS growth. Target: time ratio <= 1.10.
2. Our `ti` step (components off) vs a straightforward loop written the way
   diffusers' examples/textual_inversion does it (VAE-encode every step, whole
   embedding matrix in AdamW, restore the other rows after each step). Target <= 1.0.

3. Whole runs per schedule (`paper`, `fast`, `quality`), SEAL and baseline, on the tiny
   model and on the toy world's trained model (`--schedules`, `--models`): seconds from
   `personalize()` call to saved concept, with what the image start and the edited views cost.
4. SEAL's `paper` run with the edited views off and at the defaults, side by side on toy
   characters (`--edited-views-refs N`; the toy draw's first N references).

Variants are interleaved over several rounds and the median is reported, so a
noisy shared machine affects every column alike. Run:
    python benchmarks/personalize_cpu.py [--steps 30] [--rounds 3] [--threads 1]
    python benchmarks/personalize_cpu.py --rounds 0 --schedules paper,fast --models tiny,toy
    python benchmarks/personalize_cpu.py --rounds 0 --edited-views-refs 6
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def rss_reset() -> int:
    """Reset the process's peak-RSS mark (Linux clear_refs 5) and return the current RSS in bytes."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return _status("VmRSS")
    except OSError:
        return 0


def _status(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    return 0


def reference():
    from PIL import Image, ImageDraw

    ref = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    ImageDraw.Draw(ref).ellipse((8, 6, 44, 58), fill=(220, 40, 40, 255))
    return ref


def run_personalize(model_dir: Path, config, out: Path) -> tuple[dict, int]:
    from seal_engine.loading import load_pipeline
    from seal_engine.personalize import personalize

    model = load_pipeline(model_dir)
    ref = reference()
    base = rss_reset()
    concept = personalize(model, ref, ref.getchannel("A"), config, out)
    peak = _status("VmHWM") - base if base else 0
    return concept.meta["timings"]["mean_step_s"], peak


def run_diffusers_style_ti(model_dir: Path, steps: int, batch: int, seed: int) -> tuple[float, int]:
    """The textual_inversion example's inner loop, on our loaded pipeline (same model, same batch)."""
    import numpy as np
    import torch
    import torch.nn.functional as F
    from diffusers import DDPMScheduler

    from seal_engine.augment import flatten
    from seal_engine.loading import load_pipeline

    model = load_pipeline(model_dir)
    pipe = model.pipe
    tokenizer, text_encoder, vae, unet = pipe.tokenizer, pipe.text_encoder, pipe.vae, pipe.unet
    torch.manual_seed(seed)
    placeholders = ["<ref-tok>", "<ref-tok>_1"]
    tokenizer.add_tokens(placeholders)
    ids = tokenizer.convert_tokens_to_ids(placeholders)
    init = tokenizer.encode("cat", add_special_tokens=False)[0]
    text_encoder.resize_token_embeddings(len(tokenizer))
    embeds = text_encoder.get_input_embeddings().weight
    with torch.no_grad():
        for i in ids:
            embeds[i] = embeds[init].clone()
    vae.requires_grad_(False)
    unet.requires_grad_(False)
    text_encoder.requires_grad_(False)
    text_encoder.get_input_embeddings().requires_grad_(True)
    optimizer = torch.optim.AdamW(text_encoder.get_input_embeddings().parameters(), lr=5e-4, weight_decay=1e-2)
    orig = text_encoder.get_input_embeddings().weight.data.clone()
    noise_scheduler = DDPMScheduler.from_config(pipe.scheduler.config)
    image = np.asarray(flatten(reference(), (255, 255, 255)), dtype=np.float32) / 127.5 - 1.0
    pixels = torch.from_numpy(image).permute(2, 0, 1).unsqueeze(0).repeat(batch, 1, 1, 1)
    input_ids = tokenizer([f"a sticker of {' '.join(placeholders)} cat"] * batch, padding="max_length",
                          truncation=True, max_length=tokenizer.model_max_length, return_tensors="pt").input_ids
    base = rss_reset()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        latents = vae.encode(pixels).latent_dist.sample().detach() * vae.config.scaling_factor
        noise = torch.randn_like(latents)
        timesteps = torch.randint(0, noise_scheduler.config.num_train_timesteps, (batch,)).long()
        noisy = noise_scheduler.add_noise(latents, noise, timesteps)
        hidden = text_encoder(input_ids)[0]
        pred = unet(noisy, timesteps, hidden).sample
        loss = F.mse_loss(pred.float(), noise.float(), reduction="mean")
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        index_no_updates = torch.ones((len(tokenizer),), dtype=torch.bool)
        index_no_updates[min(ids): max(ids) + 1] = False
        with torch.no_grad():
            text_encoder.get_input_embeddings().weight[index_no_updates] = orig[index_no_updates]
        times.append(time.perf_counter() - t0)
    peak = _status("VmHWM") - base if base else 0
    tail = times[2:] if len(times) > 4 else times
    return statistics.fmean(tail), peak


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=30, help="steps per phase per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: stable on a shared box)")
    parser.add_argument("--arch", choices=("sd15", "sdxl"), default="sd15")
    parser.add_argument("--schedules", default="", help="comma list of paper,fast,quality: whole-run table")
    parser.add_argument("--models", default="tiny,toy", help="models for the whole-run table")
    parser.add_argument("--edited-views-refs", type=int, default=0, metavar="N",
                        help="`paper` runs with and without the edited views on the toy draw's first N references")
    args = parser.parse_args(argv)

    import torch

    from seal_engine.loading import quiet_libraries
    from seal_engine.personalize.config import PersonalizeConfig, baseline_config
    from seal_engine.testing import save_tiny_model

    torch.set_num_threads(args.threads)
    quiet_libraries()
    if args.edited_views_refs:
        edited_views_table(args.edited_views_refs)
    common = dict(embedding_steps=args.steps, lora_steps=args.steps, class_word="cat", batch_size=args.batch,
                  probe_attention=False, seed=0)
    variants = {
        "baseline ti+lora": baseline_config(**common),
        "SEAL ti+lora": PersonalizeConfig(**common),
        "SEAL without the background term": PersonalizeConfig(**common, background_loss=False),
        "ours ti": baseline_config(**{**common, "base": "ti", "lora_steps": 0}),
    }
    step = {name: {"embeddings": [], "lora": []} for name in list(variants) + ["diffusers-style ti"]}
    peak = {name: [] for name in step}
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = save_tiny_model(Path(tmp) / f"tiny-{args.arch}", args.arch)
        for r in range(args.rounds):  # noqa: B007
            for name, cfg in variants.items():
                means, mem = run_personalize(model_dir, cfg, Path(tmp) / f"c-{r}-{name.replace(' ', '_')}")
                for phase, value in means.items():
                    step[name][phase].append(value)
                peak[name].append(mem)
            mean, mem = run_diffusers_style_ti(model_dir, args.steps, args.batch, seed=0)
            step["diffusers-style ti"]["embeddings"].append(mean)
            peak["diffusers-style ti"].append(mem)

    def med(values: list[float]) -> float:
        return statistics.median(values) if values else float("nan")

    print(f"\n### Personalization step cost, tiny {args.arch}, CPU, {torch.get_num_threads()} thread(s), "
          f"batch {args.batch}, {args.steps} steps/phase, median of {args.rounds} interleaved rounds\n")
    print("| variant | embeddings step (ms) | LoRA step (ms) | peak RSS growth (MiB) |")
    print("|---|---|---|---|")
    for name in step:
        e, l = med(step[name]["embeddings"]), med(step[name]["lora"])
        print(f"| {name} | {e * 1e3:.1f} | {'-' if l != l else f'{l * 1e3:.1f}'} | {med(peak[name]) / 2**20:.1f} |")
    if args.schedules:
        schedule_table([x for x in args.schedules.split(",") if x], [x for x in args.models.split(",") if x])
    if not args.rounds:
        return 0
    b, s = "baseline ti+lora", "SEAL ti+lora"
    print("\n| ratio | value | target |")
    print("|---|---|---|")
    for phase in ("embeddings", "lora"):
        ratio = med(step[s][phase]) / med(step[b][phase])
        print(f"| SEAL / baseline step time ({phase}) | {ratio:.3f} | <= 1.10 |")
        ratio = med(step["SEAL without the background term"][phase]) / med(step[b][phase])
        print(f"| SEAL without the background term / baseline ({phase}) | {ratio:.3f} | report |")
    mem_ratio = med(peak[s]) / max(1.0, med(peak[b]))
    print(f"| SEAL / baseline peak RSS growth | {mem_ratio:.3f} | report |")
    ti_ratio = med(step["ours ti"]["embeddings"]) / med(step["diffusers-style ti"]["embeddings"])
    print(f"| ours ti / diffusers-style ti step time | {ti_ratio:.3f} | <= 1.0 |")
    return 0


def schedule_table(schedules: list[str], models: list[str]) -> None:
    """Seconds for a whole personalization per schedule and model (SEAL and baseline, engine defaults)."""
    from seal_engine.devices import RuntimeOptions
    from seal_engine.loading import load_pipeline
    from seal_engine.personalize import personalize
    from seal_engine.personalize.config import PersonalizeConfig, baseline_config
    from seal_engine.testing import save_tiny_model
    from seal_engine.toyworld.model import default_pipeline_dir

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        dirs = {"tiny": save_tiny_model(Path(tmp) / "tiny", "sd15"), "toy": default_pipeline_dir()}
        for name in models:
            for sched in schedules:
                for label, make in (("baseline", baseline_config), ("SEAL", PersonalizeConfig)):
                    model = load_pipeline(str(dirs[name]), RuntimeOptions(device="cpu", dtype="fp32"))
                    ref = reference()
                    cfg = make(schedule=sched, class_word="creature", seed=0, probe_attention=False)
                    t0 = time.perf_counter()
                    concept = personalize(model, ref, ref.getchannel("A"), cfg, Path(tmp) / f"{name}-{sched}-{label}")
                    total = time.perf_counter() - t0
                    rec = concept.meta["component_records"]
                    start = rec.get("image_start", {}).get("seconds")
                    edits = rec.get("edited_views", {})
                    rows.append((name, sched, label, concept.meta["steps"]["total"], total,
                                 concept.meta["timings"].get("embeddings_s", 0.0) + concept.meta["timings"].get("lora_s", 0.0),
                                 start, edits.get("seconds"), len(edits.get("kept", []))))
    print("\n### Whole personalization per schedule (CPU, engine defaults, class word 'creature')\n")
    print("| model | schedule | variant | steps | total s | training s | image start s | edited views s (kept) |")
    print("|---|---|---|---|---|---|---|---|")
    for name, sched, label, steps, total, train, start, edit_s, kept in rows:
        print(f"| {name} | {sched} | {label} | {steps} | {total:.2f} | {train:.2f} | "
              f"{'-' if start is None else f'{start:.2f}'} | {'-' if edit_s is None else f'{edit_s:.2f} ({kept})'} |")


def edited_views_table(n_refs: int, seed: int = 10) -> None:
    """SEAL's whole `paper` run with the edited views off and at the defaults (on), side by side per
    toy reference (the protocol's draw `seed`, toy characters whose edits the checks can keep)."""
    from seal_engine.personalize import personalize
    from seal_engine.toyworld.bench import ToyBenchConfig, _load_model, draw_references, personalize_config, \
        ref_id, reference_images

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for ref in draw_references(ToyBenchConfig(out_dir=Path(tmp), seed=seed))[:n_refs]:
            times = {}
            for label, over in (("off", {"edited_views": False}), ("on", {})):
                cfg = ToyBenchConfig(out_dir=Path(tmp), seed=seed, personalize_overrides=over)
                model = _load_model(cfg)
                image, mask, _truth = reference_images(ref)
                t0 = time.perf_counter()
                concept = personalize(model, image, mask, personalize_config(cfg, "seal", "paper", ref),
                                      Path(tmp) / "c", overwrite=True)
                times[label] = time.perf_counter() - t0
                record = concept.meta["component_records"].get("edited_views", {})
            rows.append((ref_id(ref), times["off"], times["on"], record.get("seconds"), len(record.get("kept", []))))
    print(f"\n### SEAL on `paper`, edited views off and on (toy world, seed {seed}'s first {n_refs} references)\n")
    print("| reference | off s | on s | of which the edits s | edits kept |")
    print("|---|---|---|---|---|")
    for name, off, on, edit_s, kept in rows:
        print(f"| {name} | {off:.2f} | {on:.2f} | {edit_s:.2f} | {kept} |")
    off_m, on_m = statistics.median(r[1] for r in rows), statistics.median(r[2] for r in rows)
    print(f"| **median** | {off_m:.2f} | {on_m:.2f} | | on / off **{on_m / off_m:.2f}** |")


if __name__ == "__main__":
    sys.exit(main())
