"""Few-step samplers against DDIM 20 on the toy world: attribute accuracy read back by the detectors.

Same random prompts, same seeds (the same starting noise per prompt), same guidance;
only the sampler and the step count change. The toy world's model is a
zero-terminal-SNR v-prediction model, like the ones the SEAL engine personalizes
in tests; the question is whether ~12 steps of a multistep solver keep the
accuracy of 20 DDIM steps, at what saving of time.

    python benchmarks/toyworld_schedulers.py [--n 96] [--device cpu]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

CANDIDATES = [("ddim", 20), ("ddim", 12), ("dpm++2m", 12), ("dpm++2m-karras", 12), ("unipc", 12)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=96, help="random prompts per sampler")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args(argv)

    from seal_engine.schedulers import set_scheduler
    from seal_engine.toyworld.detectors import Detector
    from seal_engine.toyworld.evaluate import ORDER, generation_table
    from seal_engine.toyworld.model import load_pipeline

    pipe = load_pipeline(device=args.device)
    det = Detector(device=args.device)
    rows = []
    for name, steps in CANDIDATES:
        set_scheduler(pipe, name)
        t = time.perf_counter()
        try:
            acc, _ = generation_table(pipe, det, args.n, args.seed, steps)
        except Exception as err:  # a sampler that cannot run this schedule is a result too
            rows.append((name, steps, None, f"{type(err).__name__}: {str(err)[:80]}"))
            continue
        rows.append((name, steps, acc, time.perf_counter() - t))
    print(f"\n### Toy world generation accuracy by sampler ({args.n} random prompts, seed {args.seed}, "
          f"{args.device})\n")
    print("| sampler | steps | " + " | ".join(ORDER) + " | mean | seconds | time / ddim 20 |")
    print("|---|---|" + "---|" * len(ORDER) + "---|---|---|")
    base = next((r[3] for r in rows if r[0] == "ddim" and r[1] == 20 and r[2] is not None), None)
    for name, steps, acc, info in rows:
        if acc is None:
            print(f"| {name} | {steps} | failed: {info} |")
            continue
        mean = sum(acc[f] for f in ORDER) / len(ORDER)
        ratio = f"{info / base:.2f}" if base else "-"
        print(f"| {name} | {steps} | " + " | ".join(f"{acc[f]:.3f}" for f in ORDER) +
              f" | {mean:.3f} | {info:.1f} | {ratio} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
