"""SEAL on the toy world, the way a user runs it: baseline vs SEAL vs each ablation, per schedule.

    python benchmarks/toyworld_seal.py                                   # paper schedule, baseline + SEAL
    python benchmarks/toyworld_seal.py --schedules paper,fast --variants baseline,seal,no-attention-loss
    python benchmarks/toyworld_seal.py --appearances 2 --references 1 --prompts 5   # a quick look

Same protocol as `seal bench --world toy -o OUT` (seal_engine/toyworld/bench.py docstring):
references drawn at random, the engine's defaults, prompts that change emotion, pose and
background (some leave them unnamed), paired SEAL - baseline differences with bootstrap CIs
over references. Resumable: cells already in OUT/cells are reused. Prints the tables and
writes OUT/results.md + OUT/results.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> int:
    from seal_engine.toyworld.attributes import HELD_OUT_APPEARANCES
    from seal_engine.toyworld.bench import ToyBenchConfig, run_toy_bench

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=Path("out/toyworld_seal"))
    ap.add_argument("--variants", default="baseline,seal")
    ap.add_argument("--schedules", default="paper")
    ap.add_argument("--appearances", type=int, default=len(HELD_OUT_APPEARANCES))
    ap.add_argument("--references", type=int, default=3, help="references per appearance")
    ap.add_argument("--prompts", type=int, default=10, help="prompts per reference")
    ap.add_argument("--seeds", type=int, default=2, help="generation seeds per prompt")
    ap.add_argument("--base", default="ti+lora", choices=["ti", "lora", "ti+lora"])
    ap.add_argument("--gen-steps", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch CPU threads per run (1: the toy models run fastest so, and several runs share one --out)")
    ap.add_argument("--no-class-word-row", action="store_true")
    ap.add_argument("--ground-truth-caption", action="store_true",
                    help="diagnostic: train with the renderer's caption (a user does not have it)")
    ap.add_argument("--override", default="{}", help="diagnostic: JSON of PersonalizeConfig overrides, recorded")
    a = ap.parse_args()
    import torch

    torch.set_num_threads(max(1, a.threads))
    cfg = ToyBenchConfig(out_dir=a.out, variants=a.variants.split(","), schedules=a.schedules.split(","),
                         appearances=a.appearances, references=a.references, prompts=a.prompts, seeds=a.seeds,
                         base=a.base, seed=a.seed, generation_steps=a.gen_steps, device=a.device,
                         class_word_row=not a.no_class_word_row, ground_truth_caption=a.ground_truth_caption,
                         personalize_overrides=json.loads(a.override))
    md, js, _res = run_toy_bench(cfg)
    print(md.read_text(encoding="utf-8"))
    print(f"written: {md} and {js}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
