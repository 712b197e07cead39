"""`seal bench`: baseline vs SEAL vs each ablation, one table (markdown + JSON with bootstrap CIs)."""

from __future__ import annotations

import argparse

NAME = "bench"
HELP = "measure identity, attribute accuracy, background leakage and rigidity for baseline vs SEAL variants"
DESCRIPTION = """\
Personalize each character of a dataset once per variant (same seeds), generate the
dataset's prompt set, score the four metrics and write OUT_DIR/results.md and
results.json (per-sample values, 95% bootstrap confidence intervals).
Resumable: rerun the same command to continue an interrupted bench.

Variants: baseline (plain TTF), image-start-only, seal, no-image-start, with-image-start,
no-attention-loss, no-background-loss, no-split-merge, no-layer-restriction, no-caption, seal-merge-context.
Dataset format: docs/evaluation.md."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ...evaluation.bench import DEFAULT_VARIANTS
    from ...evaluation.clip_models import DEFAULT_CLIP_MODEL
    from ...evaluation.worlds import WORLDS, resolve
    from ..options import add_model_arguments

    parser.add_argument("--world", choices=sorted(WORLDS), default="sd",
                        help="what to benchmark: " + "; ".join(f"{w.name}: {w.help}" for w in WORLDS.values()))
    add_model_arguments(parser, default_model=None)  # None: the sd world's default model; the toy world its own
    parser.add_argument("--dataset", metavar="DIR", help="evaluation dataset folder (with dataset.json)")
    parser.add_argument("--variants", default=",".join(DEFAULT_VARIANTS), metavar="V1,V2,...")
    parser.add_argument("-o", "--out", required=True, metavar="OUT_DIR")
    parser.add_argument("--clip-model", default=DEFAULT_CLIP_MODEL, metavar="M",
                        help=f"CLIP hub id or folder for identity and attributes (default: {DEFAULT_CLIP_MODEL})")
    parser.add_argument("--base", choices=["ti", "lora", "ti+lora"], default="ti+lora",
                        help="base test-time fine-tuning method SEAL wraps")
    parser.add_argument("--steps", type=int, default=None, metavar="N",
                        help="total personalization steps (default: the schedule's)")
    parser.add_argument("--schedule", choices=["paper", "fast", "quality"], default="quality")
    parser.add_argument("--seed", type=int, default=0, help="personalization seed, the same for every variant")
    parser.add_argument("--gen-steps", type=int, default=30, metavar="N", help="denoising steps per sample")
    parser.add_argument("--guidance", type=float, default=7.5)
    parser.add_argument("--resamples", type=int, default=2000, help="bootstrap resamples for the CIs")
    from ...errors import SealError

    for world in WORLDS.values():
        if world.add_arguments:
            try:
                add = resolve(world.add_arguments)
            except SealError:
                continue  # reported when that world is run
            add(parser.add_argument_group(f"--world {world.name}"))


def run(args: argparse.Namespace) -> int:
    from ...evaluation.worlds import WORLDS, resolve

    return int(resolve(WORLDS[args.world].run)(args) or 0)
