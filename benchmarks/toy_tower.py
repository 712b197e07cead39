"""The toy image tower's zero-shot caption accuracy and appearance retrieval (markdown table).

    OMP_NUM_THREADS=1 python benchmarks/toy_tower.py            # shipped tower, 500 renders per row
    python benchmarks/toy_tower.py --tower runs/tower/image_tower --n 200

Rows: fresh renders of the six held-out appearances (never rendered for the tower's or the
diffusion model's training) and of the training appearances, side by side. Columns: the
caption's accuracy per context factor (exhaustive zero-shot over the 864 contexts with
the class word as subject), all six right at once, and appearance retrieval among the 60
appearances (full prompt with the true context; the appearance phrase alone).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tower", type=Path, default=None, help="image tower folder (default: the shipped one)")
    ap.add_argument("--n", type=int, default=500, help="renders per row")
    ap.add_argument("--seed", type=int, default=4242)
    a = ap.parse_args(argv)

    import torch

    torch.set_num_threads(1)
    from seal_engine.clip_pair import find_clip_pair
    from seal_engine.toyworld.model import default_pipeline_dir
    from seal_engine.toyworld.tower_eval import evaluate_tower

    pair, reason = find_clip_pair(default_pipeline_dir(), "sd1", explicit=a.tower)
    if pair is None:
        print(reason)
        return 1
    rows = []
    for label, held_out in (("held-out appearances", True), ("training appearances", False)):
        t = time.perf_counter()
        table = evaluate_tower(n=a.n, seed=a.seed, held_out=held_out, pair=pair)
        rows.append((label, table, time.perf_counter() - t))
    cols = list(rows[0][1])
    print(f"Toy image tower ({reason}), {a.n} fresh renders per row, seed {a.seed}\n")
    print("| renders | " + " | ".join(cols) + " | seconds |")
    print("|---|" + "---|" * (len(cols) + 1))
    for label, table, secs in rows:
        print(f"| {label} | " + " | ".join(f"{table[c]:.3f}" for c in cols) + f" | {secs:.0f} |")
    print("\ntarget: >= 0.9 for each of emotion, action, scale, position, style, background (held-out row)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
