"""Measure the toy world: detector accuracy and the model's generation accuracy.

    python -m seal_engine.toyworld.evaluate [--pipeline DIR] [--detector FILE] [--n 240]

Detector table: fresh renders (new seeds, all appearances) read back directly and after a
VAE round-trip (encode -> latent mean -> decode), the path every generated image takes.
Generation table: random prompts (training appearances, every other factor uniform),
sampled with DDIM, read back by the detectors. Sampling settings are fixed constants
chosen before any measurement (not tuned on the result).
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from .attributes import FACTORS, Sticker, prompt_for, random_sticker
from .render import render_batch

SAMPLE_STEPS = 20
GUIDANCE = 4.0
GUIDANCE_RESCALE = 0.7  # recommended with zero-terminal-SNR schedules (Lin et al.)
ORDER = tuple(FACTORS) + ("appearance",)
TARGETS = {f: (0.8 if f == "emotion" else 0.9) for f in FACTORS}


def random_stickers(n: int, seed: int, allow_held_out: bool = False) -> list[Sticker]:
    rng = random.Random(seed)
    return [random_sticker(rng, allow_held_out=allow_held_out) for _ in range(n)]


def generate(pipe: Any, prompts: Sequence[str], seed: int = 0, steps: int = SAMPLE_STEPS,
             guidance: float = GUIDANCE, batch_size: int = 64, negative: Optional[str] = None) -> np.ndarray:
    """(N, 64, 64, 3) uint8; prompt i always gets the noise of generator seed+i."""
    import torch

    out = []
    dev = pipe.device
    for i in range(0, len(prompts), batch_size):
        chunk = list(prompts[i:i + batch_size])
        gens = [torch.Generator(device="cpu").manual_seed(seed + i + k) for k in range(len(chunk))]
        shape = (len(chunk), 4, pipe.unet.config.sample_size, pipe.unet.config.sample_size)
        latents = torch.stack([torch.randn(shape[1:], generator=g) for g in gens]).to(dev, pipe.unet.dtype)
        res = pipe(prompt=chunk, negative_prompt=[negative] * len(chunk) if negative else None,
                   num_inference_steps=steps, guidance_scale=guidance, guidance_rescale=GUIDANCE_RESCALE,
                   latents=latents, output_type="np")
        out.append((np.clip(res.images, 0, 1) * 255).round().astype(np.uint8))
    return np.concatenate(out)


def vae_roundtrip(vae: Any, images: np.ndarray, batch_size: int = 250) -> np.ndarray:
    import torch

    from .detectors import to_input

    outs = []
    with torch.no_grad():
        for i in range(0, len(images), batch_size):
            x = to_input(images[i:i + batch_size], vae.device).to(vae.dtype)
            rec = vae.decode(vae.encode(x).latent_dist.mean).sample.float().clamp(-1, 1)
            outs.append(((rec + 1) * 127.5).round().byte().permute(0, 2, 3, 1).cpu().numpy())
    return np.concatenate(outs)


def detector_table(detector: Any, vae: Any, n: int = 1000, seed: int = 12345) -> dict[str, dict[str, float]]:
    from .detectors import accuracy

    stickers = random_stickers(n, seed, allow_held_out=True)
    imgs = render_batch(stickers, seed=seed)
    rows = {"fresh renders": accuracy(detector.predict(imgs), stickers)}
    if vae is not None:
        rows["VAE round-trips"] = accuracy(detector.predict(vae_roundtrip(vae, imgs)), stickers)
    return rows


def generation_table(pipe: Any, detector: Any, n: int = 240, seed: int = 2024,
                     steps: int = SAMPLE_STEPS) -> tuple[dict[str, float], list[dict]]:
    from .detectors import accuracy

    stickers = random_stickers(n, seed)
    imgs = generate(pipe, [prompt_for(s) for s in stickers], seed=seed, steps=steps)
    preds = detector.predict(imgs)
    return accuracy(preds, stickers), [{"asked": s.as_dict(), "read": p} for s, p in zip(stickers, preds)]


def markdown(rows: dict[str, dict[str, float]], targets: Optional[dict[str, float]] = None) -> str:
    from .detectors import method_of

    head = "| | " + " | ".join(ORDER) + " |\n|---|" + "---|" * len(ORDER) + "\n"
    body = ""
    if targets is None:
        body += "| method | " + " | ".join(method_of(f) if f in FACTORS else "all three" for f in ORDER) + " |\n"
    for name, acc in rows.items():
        body += f"| {name} | " + " | ".join(f"{acc[f]:.3f}" for f in ORDER) + " |\n"
    if targets:
        body += "| target | " + " | ".join(f">= {targets[f]:.2f}" if f in targets else "-" for f in ORDER) + " |\n"
    return head + body


def main(argv: Optional[list[str]] = None) -> int:
    import torch

    from .detectors import Detector
    from .model import load_pipeline

    ap = argparse.ArgumentParser(prog="python -m seal_engine.toyworld.evaluate", description=__doc__.split("\n\n")[0])
    ap.add_argument("--pipeline", type=Path, default=None)
    ap.add_argument("--detector", type=Path, default=None)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--n", type=int, default=240, help="random prompts for the generation table")
    ap.add_argument("--detector-n", type=int, default=1000)
    ap.add_argument("--steps", type=int, default=SAMPLE_STEPS)
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument("--json", type=Path, default=None, help="write the tables (and per-sample reads) here")
    ap.add_argument("--skip-detector", action="store_true")
    a = ap.parse_args(argv)
    if a.device == "cpu":
        torch.set_num_threads(max(1, torch.get_num_threads()))
    pipe = load_pipeline(a.pipeline, device=a.device)
    det = Detector(a.detector, device=a.device)
    result: dict[str, Any] = {"device": a.device, "steps": a.steps, "guidance": GUIDANCE,
                              "guidance_rescale": GUIDANCE_RESCALE, "seed": a.seed}
    if not a.skip_detector:
        t = time.perf_counter()
        dt = detector_table(det, pipe.vae, a.detector_n)
        result["detector"] = dt
        print("Detector accuracy (%d fresh renders, all appearances)\n" % a.detector_n)
        print(markdown(dt))
        result["detector_seconds"] = round(time.perf_counter() - t, 1)
    t = time.perf_counter()
    acc, samples = generation_table(pipe, det, a.n, a.seed, a.steps)
    result["generation"] = acc
    result["generation_n"] = a.n
    result["generation_seconds"] = round(time.perf_counter() - t, 1)
    result["generation_samples"] = samples
    print(f"\nGeneration accuracy ({a.n} random prompts, DDIM {a.steps} steps, guidance {GUIDANCE}, "
          f"{result['generation_seconds']}s on {a.device})\n")
    print(markdown({"generated": acc}, TARGETS))
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps(result, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
