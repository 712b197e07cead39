"""Pool toy-bench runs drawn with different seeds (replications) into one paired table.

    python benchmarks/toyworld_seal.py --out out/toy_s0 --seed 0
    python benchmarks/toyworld_seal.py --out out/toy_s1 --seed 1
    python benchmarks/toyworld_pool.py out/toy_s0 out/toy_s1 --out out/toy_pooled

Every reference of every draw is resampled (seal_engine/toyworld/bench_pool.py). A run may be
an archive file instead of its folder (benchmarks/toyworld_archive.py): the draws kept in
docs/benchmarks/toyworld_cells/ pool with a new one without being run again. Prints the
tables and writes OUT/results.md + OUT/results.json when --out is given.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> int:
    from seal_engine.atomic import atomic_write_json, atomic_write_text
    from seal_engine.toyworld.bench_pool import PoolError, pool_runs

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="+", type=Path, help="--out directories of toy-bench runs, or their archive files")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    try:
        md, data = pool_runs(args.runs)
    except PoolError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(md)
    if args.out:
        atomic_write_text(args.out / "results.md", md)
        atomic_write_json(args.out / "results.json", data)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
