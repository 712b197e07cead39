"""Where the toy protocol's wrong arm poses are: by the asked pose, the asked framing and the
character, for each variant; and, with `--renders N`, how often the detector itself misreads a
rendered close-up wave of each held-out character (no model involved).

    python benchmarks/toyworld_pose_errors.py docs/benchmarks/toyworld_cells/paper_seed{4,7,10,11,12,13,14,15,16}.jsonl --renders 100

Pose rigidity counts a changed arm pose read back as the reference's. `bench_chance.py` showed that
on the captioned protocol those reads are no more often the reference's pose than the other wrong
one; this says what the wrong poses are instead. The asks are rebuilt from each draw's seed (the
pool's loader checks them against what the draw recorded). Used for docs/personalization.md round 22.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def pose_errors(runs: list[Path]) -> dict[str, dict[str, Counter]]:
    """{variant: {"<group>": Counter(n=..., wrong=...)}} over every sample whose prompt names the arm pose."""
    from seal_engine.toyworld.bench_chance import draw_asks
    from seal_engine.toyworld.bench_pool import PoolError, load_run

    out: dict[str, dict[str, Counter]] = defaultdict(lambda: defaultdict(Counter))
    for run in runs:
        meta, cells = load_run(run)
        asks_of = draw_asks(meta)
        if asks_of is None:
            raise PoolError(f"{run} records no seed, so its prompts cannot be rebuilt.")
        for (_sched, variant), group in cells.items():
            for cell in group:
                _ref, asks = asks_of[cell["reference"]]
                character = "-".join(cell["reference"].split("-")[:3])
                for j, row in enumerate(cell["rows"]):
                    ask = asks[j % len(asks)]
                    if ask.omit == "action":
                        continue
                    wrong = row["read"]["action"] != ask.sticker.action
                    for group_name in (f"asked {ask.sticker.action}", f"asked {ask.sticker.scale}",
                                       f"asked {ask.sticker.action}, {ask.sticker.scale}", character):
                        out[variant][group_name]["n"] += 1
                        out[variant][group_name]["wrong"] += wrong
    return out


def detector_on_renders(n: int, seed: int = 5) -> dict[str, Counter]:
    """What the detector reads on n rendered close-up waves per held-out character (jitter on)."""
    from seal_engine.toyworld.attributes import APPEARANCE_FACTORS, FACTORS, HELD_OUT_APPEARANCES, Sticker
    from seal_engine.toyworld.detectors import Detector
    from seal_engine.toyworld.render import render_batch

    rng = random.Random(seed)
    stickers = [Sticker(**dict(zip(APPEARANCE_FACTORS, app)), action="wave", scale="closeup",
                        **{f: rng.choice(FACTORS[f]) for f in ("emotion", "position", "style", "background")})
                for app in HELD_OUT_APPEARANCES for _ in range(n)]
    reads = Detector().predict(render_batch(stickers, seed=seed))
    out: dict[str, Counter] = defaultdict(Counter)
    for s, read in zip(stickers, reads):
        out[f"{s.shape}-{s.colour}-{s.accessory}"][read["action"]] += 1
    return out


def main() -> int:
    from seal_engine.toyworld.bench_pool import PoolError

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="+", type=Path, help="archives or run folders (any schedule)")
    ap.add_argument("--renders", type=int, default=0, help="also read N rendered close-up waves per character")
    args = ap.parse_args()
    try:
        table = pose_errors(args.runs)
    except PoolError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    variants = sorted(table)
    groups = sorted({g for v in variants for g in table[v]}, key=lambda g: (not g.startswith("asked"), g.count(","), g))
    print("| arm pose drawn wrong, where the prompt names it | " + " | ".join(variants) + " |")
    print("|---|" + "---|" * len(variants))
    for g in groups:
        cells = [f"{100 * c['wrong'] / c['n']:.1f}% of {c['n']}" if (c := table[v].get(g)) else "-" for v in variants]
        print(f"| {g} | " + " | ".join(cells) + " |")
    if args.renders:
        reads = detector_on_renders(args.renders)
        print(f"\n| detector on {args.renders} rendered close-up waves | read wave | read up | read down |")
        print("|---|---|---|---|")
        for character, c in reads.items():
            print(f"| {character} | {c['wave']} | {c['up']} | {c['down']} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
