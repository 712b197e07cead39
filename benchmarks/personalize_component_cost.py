"""Which SEAL component costs what per embeddings-phase step, side by side in one run.

Same random-weight models as `personalize_gpu.py` (full-size SD1.5 / SDXL on a GPU, tiny
stand-ins with --smoke on CPU). Variants, embeddings phase only (ti): baseline, +attention
loss, +split-merge, both. With --profile, the top operators of baseline vs both.

    python benchmarks/personalize_component_cost.py [--arch sd15|sdxl] [--steps 12] [--profile]
    python benchmarks/personalize_component_cost.py --smoke
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

VARIANTS = {
    "baseline": dict(attention_loss=False, split_merge=False),
    "+attention loss": dict(attention_loss=True, split_merge=False),
    "+split-merge": dict(attention_loss=False, split_merge=True),
    "SEAL (both)": dict(attention_loss=True, split_merge=True),
}


def main() -> int:
    import torch

    from personalize_gpu import build, reference
    from seal_engine.personalize import personalize
    from seal_engine.personalize.config import PersonalizeConfig

    parser = argparse.ArgumentParser()
    parser.add_argument("--arch", choices=("sd15", "sdxl"), default="sd15")
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    device = "cpu" if args.smoke or not torch.cuda.is_available() else "cuda"
    dtype = torch.float32 if device == "cpu" else torch.bfloat16
    side = 64 if args.smoke else (1024 if args.arch == "sdxl" else 512)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        model = build(args.arch, device, dtype, args.smoke, Path(tmp))
        ref = reference(side)
        for i, (name, flags) in enumerate(VARIANTS.items()):
            cfg = PersonalizeConfig(base="ti", embedding_steps=args.steps, layer_restriction=False,
                                    probe_attention=False, augment_bank=2, **flags)
            prof = None
            if args.profile and name in ("baseline", "SEAL (both)"):
                prof = torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU] +
                                              ([torch.profiler.ProfilerActivity.CUDA] if device == "cuda" else []))
                prof.__enter__()
            concept = personalize(model, ref, ref.getchannel("A"), cfg, Path(tmp) / f"c{i}")
            if prof is not None:
                prof.__exit__(None, None, None)
                key = "self_cuda_time_total" if device == "cuda" else "self_cpu_time_total"
                print(f"\n#### {name}: top operators\n")
                print(prof.key_averages().table(sort_by=key, row_limit=12))
            times = concept.meta["step_times"]["embeddings"] if "step_times" in concept.meta else None
            mean = concept.meta["timings"]["mean_step_s"]["embeddings"]
            rows.append((name, mean, times))
    base = rows[0][1]
    print(f"\n### Embeddings-phase step cost by component: {args.arch}, {device}, {dtype}, {args.steps} steps\n")
    print("| variant | step (ms) | / baseline |")
    print("|---|---|---|")
    for name, mean, _ in rows:
        print(f"| {name} | {1000 * mean:.1f} | {mean / base:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
