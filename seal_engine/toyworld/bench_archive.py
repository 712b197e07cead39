"""A toy-bench draw's per-reference cells, small enough to keep in the repository.

A draw costs 30-50 CPU-minutes, and a run's `OUT/cells/` (about 0.8 MB of JSON per draw, most
of it repeated row keys and training diagnostics) used to stay on the machine that ran it, so
pooling a new draw meant running the old ones again. An archive keeps, per cell, what the
tables are computed from (every sample's metrics), what the detectors read (so a changed
scoring rule can be re-applied without new samples) and the few training facts a reader
checks (time, caption, start, mask IoU), as columns, one cell per line. `bench_pool.pool_runs`
takes archives and run folders alike.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .attributes import FACTORS
from .bench import METRICS
from .bench_pool import PoolError, read_cells, run_meta

ARCHIVE_FORMAT = "seal-toy-bench-cells/1"
READ_KEYS = tuple(FACTORS)  # one word per factor: the detectors' reads, space-separated
COLUMNS = tuple(dict.fromkeys((*METRICS, *(f"ok_{f}" for f in FACTORS))))  # + each factor read right
CELL_FACTS = ("personalize_s", "generate_s", "mask_iou", "caption", "start")


class ArchiveError(PoolError):
    """A file that is not a toy-bench archive, or a run folder with nothing to archive."""


def _round(v: Any) -> Any:
    return round(v, 6) if isinstance(v, float) else v


def compact_cell(cell: dict) -> dict:
    """One cell as columns: every metric and every detector read, per sample in order."""
    rows = cell["rows"]
    out = {"schedule": cell["schedule"], "variant": cell["variant"], "reference": cell["reference"]}
    out.update({k: _round(cell.get(k)) for k in CELL_FACTS})
    out["seed_index"] = [r.get("seed_index") for r in rows]
    out["metrics"] = {m: [r.get(m) for r in rows] for m in COLUMNS}  # unrounded: pools exactly
    out["read"] = [" ".join(str(r.get("read", {}).get(k)) for k in READ_KEYS) for r in rows]
    return out


def expand_cell(c: dict) -> dict:
    """The cell as `bench.tables` reads it (rows of per-sample metrics keyed by reference)."""
    n = len(c["read"])
    rows = [{"reference": c["reference"], "seed_index": c["seed_index"][j],
             "read": dict(zip(READ_KEYS, c["read"][j].split(" "))),
             **{m: col[j] for m, col in c["metrics"].items()}} for j in range(n)]
    return {**{k: c[k] for k in ("schedule", "variant", "reference", *CELL_FACTS)}, "rows": rows}


def archive_run(out_dir: Path) -> str:
    """The archive text of one run folder: its meta, then one compact cell per line."""
    from .bench_chance import RescoreError, rescore

    cells = read_cells(out_dir)
    if not cells:
        raise ArchiveError(f"{out_dir} holds no finished toy-bench cells to archive.")
    meta = run_meta(out_dir)
    try:
        rescore(meta, cells)  # a run made before the chance columns existed is archived with them
    except RescoreError as exc:
        raise ArchiveError(f"{out_dir}: {exc}") from None
    lines = [json.dumps({"format": ARCHIVE_FORMAT, "meta": meta, "read_keys": READ_KEYS},
                        ensure_ascii=False)]
    for key in sorted(cells):
        lines += [json.dumps(compact_cell(c), ensure_ascii=False, separators=(",", ":")) for c in cells[key]]
    return "\n".join(lines) + "\n"


def write_archive(out_dir: Path, path: Path) -> int:
    """Archive `out_dir` into `path` (written atomically); returns the number of cells."""
    from ..atomic import atomic_write_text

    text = archive_run(out_dir)
    atomic_write_text(Path(path), text)
    return text.count("\n") - 1


def read_archive(path: Path) -> tuple[dict, dict[tuple[str, str], list[dict]]]:
    """(meta, cells by (schedule, variant) in reference order) of an archive file."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
        head = json.loads(lines[0]) if lines else {}
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArchiveError(f"{path} is not a readable toy-bench archive ({exc}).") from None
    if not isinstance(head, dict) or head.get("format") != ARCHIVE_FORMAT:
        raise ArchiveError(f"{path} is not a toy-bench archive (its first line names no {ARCHIVE_FORMAT!r}).")
    found: dict[tuple[str, str], list[dict]] = {}
    for line in lines[1:]:
        if line.strip():
            cell = expand_cell(json.loads(line))
            found.setdefault((cell["schedule"], cell["variant"]), []).append(cell)
    return head.get("meta", {}), found


__all__ = ["ARCHIVE_FORMAT", "ArchiveError", "archive_run", "compact_cell", "expand_cell", "read_archive",
           "write_archive"]
