"""One toy reference of a draw, run again under several variants: which SEAL part a per-reference
result comes from.

    python benchmarks/toyworld_one_reference.py --seed 10 --reference square-red-none-sad-down-full \
        --variants seal,no-image-start,no-context-hold,baseline
    python benchmarks/toyworld_one_reference.py --seed 10 --reference square-red-none-sad-down-full \
        --variants seal --override '{"embedding_steps": 1}'

    python benchmarks/toyworld_one_reference.py --seed 10 --reference square-red-none-sad-down-full \
        --variants seal --background orange,white

`--background` redraws the same reference (same jitter) on other backdrops, so a result can be
told apart from the reference's background. Each line is the same cell `toyworld_seal.py`
computes for that reference (same prompts, seeds and detectors), so a variant already in a draw's
archive reads back its numbers exactly. Used for docs/personalization.md rounds 16, 18 and 20
(where SEAL's emotion copying comes from, in which phase, and from which part of the loss).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> int:
    import torch

    from seal_engine.errors import InputError
    from seal_engine.evaluation.bench import parse_variants
    from seal_engine.toyworld.bench import ToyBenchConfig, draw_references, ref_id, run_cell
    from seal_engine.toyworld.detectors import Detector

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, required=True, help="the draw")
    ap.add_argument("--reference", required=True, help="a prefix of the reference's name in that draw")
    ap.add_argument("--variants", default="seal,baseline")
    ap.add_argument("--schedule", default="paper")
    ap.add_argument("--override", default="{}", help="JSON of PersonalizeConfig overrides for every variant")
    ap.add_argument("--background", default="", help="comma-separated backdrops to redraw the reference on "
                                                      "(default: its own)")
    args = ap.parse_args()
    try:
        variants = parse_variants(args.variants)
        overrides = json.loads(args.override)
        if not isinstance(overrides, dict):
            raise InputError("--override must be a JSON object of PersonalizeConfig fields.")
    except json.JSONDecodeError as exc:
        print(f"error: --override is not JSON ({exc}).", file=sys.stderr)
        return 2
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    cfg = ToyBenchConfig(out_dir=Path(tempfile.gettempdir()), seed=args.seed, schedules=[args.schedule],
                         personalize_overrides=overrides)
    matches = [(i, r) for i, r in enumerate(draw_references(cfg)) if ref_id(r).startswith(args.reference)]
    if not matches:
        print(f"error: no reference of draw {args.seed} starts with '{args.reference}'.", file=sys.stderr)
        return 2
    if args.background:
        from dataclasses import replace

        from seal_engine.toyworld.attributes import FACTORS

        backdrops = [b.strip() for b in args.background.split(",") if b.strip()]
        unknown = [b for b in backdrops if b not in FACTORS["background"]]
        if unknown:
            print(f"error: {', '.join(unknown)} is not a toy-world background "
                  f"({', '.join(FACTORS['background'])}).", file=sys.stderr)
            return 2
        matches = [(i, replace(r, background=b)) for i, r in matches for b in backdrops]
    detector = Detector(cfg.detector, device="cpu")
    print("| reference | variant | identity | emotion acc. | emotion copy | rigidity |")
    print("|---|---|---|---|---|---|")
    for index, ref in matches:
        for variant in variants:
            with tempfile.TemporaryDirectory() as tmp:
                cell = run_cell(cfg, variant, args.schedule, ref, index, detector, Path(tmp))
            rows = cell["rows"]

            def mean(metric: str) -> float:
                return sum(r[metric] or 0 for r in rows) / len(rows)

            print(f"| {ref_id(ref)} | {variant} | {mean('identity'):.2f} | {mean('ok_emotion'):.2f} | "
                  f"{mean('emotion_copy'):.2f} | {mean('rigidity'):.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
