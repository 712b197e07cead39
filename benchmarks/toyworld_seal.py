"""SEAL on the toy world: baseline TTF vs TTF+SEAL vs each ablation, measured by detectors.

    python benchmarks/toyworld_seal.py                      # all 6 held-out characters, 5 variants
    python benchmarks/toyworld_seal.py --characters 2 --prompts 12 --variants baseline,seal

Same as `seal bench --world toy -o OUT`. Prints the markdown table and writes
OUT/results.md + OUT/results.json (per-sample reads, bootstrap CIs, run times).
See seal_engine/toyworld/bench.py for the metric definitions.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> int:
    from seal_engine.toyworld.attributes import HELD_OUT_APPEARANCES
    from seal_engine.toyworld.bench import ToyBenchConfig, run_toy_bench

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=Path("out/toyworld_seal"))
    ap.add_argument("--variants", default="baseline,seal,no-attention-loss,no-split-merge,no-layer-restriction")
    ap.add_argument("--characters", type=int, default=len(HELD_OUT_APPEARANCES))
    ap.add_argument("--prompts", type=int, default=24, help="prompts per character")
    ap.add_argument("--base", default="ti+lora", choices=["ti", "lora", "ti+lora"])
    ap.add_argument("--schedule", default="fast", choices=["fast", "quality"])
    ap.add_argument("--steps", type=int, default=None, help="total personalization steps (default: schedule's)")
    ap.add_argument("--gen-steps", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--no-caption", action="store_true",
                    help="train with the engine's default prompt instead of the reference's caption (diagnostic)")
    ap.add_argument("--attention-resolution", type=int, default=None,
                    help="attention-loss map side (default: the engine's rule; 4x4 mid block at 64x64)")
    a = ap.parse_args()
    cfg = ToyBenchConfig(out_dir=a.out, variants=a.variants.split(","), characters=a.characters, prompts=a.prompts,
                         base=a.base, schedule=a.schedule, steps=a.steps, seed=a.seed,
                         generation_steps=a.gen_steps, device=a.device, caption=not a.no_caption,
                         personalize_overrides=({"attention_resolution": a.attention_resolution}
                                                if a.attention_resolution else {}))
    md, js, _rows = run_toy_bench(cfg)
    print(md.read_text(encoding="utf-8"))
    print(f"written: {md} and {js}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
