"""Pair screens of one SEAL setting with the archived full draws they were run on.

    python benchmarks/toyworld_seal.py --out out/ctx_s2 --schedules paper --variants seal --seed 2 \
        --no-class-word-row --threads 1 --override '{"image_start_context_weight": 1.0}'
    python benchmarks/toyworld_screen.py out/ctx_s2:docs/benchmarks/toyworld_cells/paper_seed2.jsonl

Each argument is SCREEN:DRAW (a run folder or archive, then the full draw's archive), or
SCREEN:DRAW:DEFAULTS where DEFAULTS is a screen of the current defaults on that draw and stands
for SEAL (the draw's own SEAL cells may be of older defaults); several pool. Prints the table (seal_engine/toyworld/bench_screen.py). `--same-setting` pools screens
whose recorded settings read differently but are one setting (an override later shipped as the
default, screened again at the new defaults).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> int:
    from seal_engine.toyworld.bench_pool import PoolError
    from seal_engine.toyworld.bench_screen import screen

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("pairs", nargs="+", help="SCREEN:DRAW or SCREEN:DRAW:DEFAULTS")
    ap.add_argument("--schedule", default="paper")
    ap.add_argument("--variant", default="seal", help="the screen's variant (default: seal under an override)")
    ap.add_argument("--same-setting", action="store_true",
                    help="pool screens recorded under different labels (e.g. an override, later the default)")
    args = ap.parse_args()
    pairs = []
    for arg in args.pairs:
        parts = arg.split(":")
        if len(parts) not in (2, 3) or not all(parts):
            print(f"error: '{arg}' is not SCREEN:DRAW or SCREEN:DRAW:DEFAULTS.", file=sys.stderr)
            return 2
        pairs.append(tuple(Path(p) for p in parts))
    try:
        md, _data = screen(pairs, schedule=args.schedule, variant=args.variant, same_setting=args.same_setting)
    except (PoolError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
