"""Tiny-model load and generation time: our path against plain diffusers, side by side.

Ours = `seal_engine.loading.load_pipeline` + `seal_engine.generation.generate`
(architecture detection, device choice, progress callback, cancel check, records).
Reference = `DiffusionPipeline.from_pretrained` + `pipe(...)` with nothing else.
The ratio column is ours / reference: the overhead our bookkeeping adds.
A second table: a pack item's variants (`--images`, CFG on) generated as one
batch (what the pack job does) against one pipeline call per image.

    python benchmarks/generation.py [--arch sd15|sdxl] [--steps 20] [--repeats 5] [--images 4]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--arch", default="sd15", choices=("sd15", "sdxl"))
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--images", type=int, default=4, help="variants per item for the batched-vs-sequential table")
    args = parser.parse_args()

    import torch
    from diffusers import DiffusionPipeline

    from seal_engine.generation import GenerationSettings, generate
    from seal_engine.loading import load_pipeline, quiet_libraries
    from seal_engine.testing import save_tiny_model

    quiet_libraries()
    with tempfile.TemporaryDirectory() as tmp:
        folder = save_tiny_model(Path(tmp) / "tiny", args.arch)
        ours_load, ref_load, ours_gen, ref_gen = [], [], [], []
        batched, sequential = [], []
        for _ in range(args.repeats):  # interleaved so drift hits both sides alike
            t = time.perf_counter()
            model = load_pipeline(folder)
            ours_load.append(time.perf_counter() - t)
            t = time.perf_counter()
            ref = DiffusionPipeline.from_pretrained(str(folder), dtype=torch.float32)
            ref.set_progress_bar_config(disable=True)
            ref_load.append(time.perf_counter() - t)

            settings = GenerationSettings("a cat sticker", seeds=[1], steps=args.steps)
            t = time.perf_counter()
            generate(model, settings, progress=lambda e: None)
            ours_gen.append((time.perf_counter() - t) / args.steps)
            t = time.perf_counter()
            with torch.inference_mode():
                ref("a cat sticker", num_inference_steps=args.steps, generator=torch.Generator().manual_seed(1))
            ref_gen.append((time.perf_counter() - t) / args.steps)

            seeds = list(range(args.images))
            for batch, into in ((args.images, batched), (1, sequential)):
                t = time.perf_counter()
                generate(model, GenerationSettings("a cat sticker", negative_prompt="blurry", seeds=seeds,
                                                   steps=args.steps, batch_size=batch))
                into.append(time.perf_counter() - t)

    med = statistics.median
    print(f"\nTiny {args.arch} model, {args.steps} steps, median of {args.repeats}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads\n")
    print("| measure | ours | plain diffusers | ours / plain |")
    print("|---|---:|---:|---:|")
    print(f"| load (s) | {med(ours_load):.3f} | {med(ref_load):.3f} | {med(ours_load) / med(ref_load):.2f} |")
    print(f"| per denoising step (ms) | {1000 * med(ours_gen):.1f} | {1000 * med(ref_gen):.1f} | "
          f"{med(ours_gen) / med(ref_gen):.2f} |")
    print(f"\n| {args.images} images, CFG, {args.steps} steps | batched (s) | one at a time (s) | "
          f"one at a time / batched |")
    print("|---|---:|---:|---:|")
    print(f"| ours | {med(batched):.3f} | {med(sequential):.3f} | {med(sequential) / med(batched):.2f} |")


if __name__ == "__main__":
    main()
