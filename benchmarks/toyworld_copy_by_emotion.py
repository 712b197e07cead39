"""SEAL's emotion copying and emotion accuracy against plain TTF, split by the reference's own
emotion and accessory: is the excess copying spread over the draws or held by a few kinds of
reference?

    python benchmarks/toyworld_copy_by_emotion.py docs/benchmarks/toyworld_cells/paper_seed{4,7,10,11,12,13}.jsonl

Reads archives or run folders (the pool's loader), pairs SEAL with the baseline reference by
reference within each draw (the pool's bootstrap over references) and prints one row per group.
Used for docs/personalization.md round 18.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _mean(cells: list[dict], metric: str) -> float:
    vals = [r[metric] for c in cells for r in c["rows"] if r.get(metric) is not None]
    return sum(vals) / len(vals) if vals else float("nan")


def main() -> int:
    from seal_engine.toyworld.bench import APPEARANCE_FACTORS, CONTEXT_FACTORS, paired
    from seal_engine.toyworld.bench_pool import PoolError, _keyed, load_run

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="+", type=Path, help="archives or run folders of one schedule")
    ap.add_argument("--schedule", default="paper")
    ap.add_argument("--variant", default="seal")
    args = ap.parse_args()
    names = (*APPEARANCE_FACTORS, *CONTEXT_FACTORS)
    groups: dict[str, dict[str, list[dict]]] = {}
    try:
        for i, run in enumerate(args.runs):
            _, cells = load_run(run)
            for variant in ("baseline", args.variant):
                for cell in _keyed(cells.get((args.schedule, variant), []), i):  # references paired within their draw
                    factors = dict(zip(names, cell["reference"].split("-")))
                    for key in (f"emotion {factors['emotion']}",
                                f"emotion {factors['emotion']}, accessory {factors['accessory']}"):
                        groups.setdefault(key, {}).setdefault(variant, []).append(cell)
    except (PoolError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print("| reference's | refs | TTF copy | SEAL copy | SEAL − TTF copy | SEAL − TTF emotion acc. |")
    print("|---|---|---|---|---|---|")
    for key in sorted(groups, key=lambda k: (k.count(","), k)):
        base, seal = groups[key].get("baseline", []), groups[key].get(args.variant, [])
        if not base or not seal:
            continue

        copy = paired(seal, base, "emotion_copy", 2000)
        emo = paired(seal, base, "ok_emotion", 2000)
        print(f"| {key} | {copy['n']} | {100 * _mean(base, 'emotion_copy'):.1f}% | {100 * _mean(seal, 'emotion_copy'):.1f}% | "
              f"{100 * copy['estimate']:+.1f}% [{100 * copy['low']:+.1f}, {100 * copy['high']:+.1f}] | "
              f"{emo['estimate']:+.3f} [{emo['low']:+.3f}, {emo['high']:+.3f}] |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
