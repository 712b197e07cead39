"""Archive a toy-bench run's per-reference cells into one small file kept in the repository.

    python benchmarks/toyworld_seal.py --out out/toy_s3 --seed 3
    python benchmarks/toyworld_archive.py out/toy_s3 docs/benchmarks/toyworld_cells/paper_seed3.jsonl
    python benchmarks/toyworld_pool.py docs/benchmarks/toyworld_cells/paper_seed*.jsonl

Pooling then needs only the new draw run (seal_engine/toyworld/bench_archive.py).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> int:
    from seal_engine.toyworld.bench_pool import PoolError
    from seal_engine.toyworld.bench_archive import write_archive

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run", type=Path, help="--out directory of a toy-bench run")
    ap.add_argument("archive", type=Path, help="file to write (one cell per line)")
    args = ap.parse_args()
    try:
        n = write_archive(args.run, args.archive)
    except PoolError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"archived {n} cells of {args.run} into {args.archive} ({args.archive.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
