"""Pool toy-bench runs drawn with different seeds into one table over all their references.

One run's 18 references give paired CIs about ±0.05 wide on identity; an effect of a few
points needs more. Independent draws (`--seed 0`, `--seed 1`, ...) are replications; pooling
their cells resamples every reference of every draw. References are keyed by run as well, so
the same factors drawn by two seeds stay two references. Only (schedule, variant) rows that
every run holds are pooled: a row one draw lacks would weigh the others unevenly.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

from .bench import render_markdown, tables


class PoolError(ValueError):
    """A run directory that holds no toy-bench cells or was run under another protocol."""


def read_cells(out_dir: Path) -> dict[tuple[str, str], list[dict]]:
    """Cells of one run by (schedule, variant), in reference order."""
    root = Path(out_dir) / "cells"
    if not root.is_dir():
        raise PoolError(f"{out_dir} holds no toy-bench cells (no {root}).")
    found: dict[tuple[str, str], list[dict]] = {}
    for path in sorted(root.glob("*/*/*.json")):
        cell = json.loads(path.read_text(encoding="utf-8"))
        found.setdefault((path.parent.parent.name, cell.get("variant", path.parent.name)), []).append(cell)
    return found


def run_meta(out_dir: Path) -> dict:
    path = Path(out_dir) / "results.json"
    return json.loads(path.read_text(encoding="utf-8")).get("meta", {}) if path.exists() else {}


def load_run(source: Path) -> tuple[dict, dict[tuple[str, str], list[dict]]]:
    """(meta, cells) of a run folder, or of an archive file (`bench_archive`) kept in the repository."""
    from .bench_chance import RescoreError, rescore

    if Path(source).is_file():
        from .bench_archive import read_archive

        meta, cells = read_archive(source)
    else:
        meta, cells = run_meta(source), read_cells(source)
    try:
        rescore(meta, cells)  # draws recorded before the chance columns existed (bench_chance.py)
    except RescoreError as exc:
        raise PoolError(f"{source}: {exc}") from None
    return meta, cells


def _keyed(cells: list[dict], run: int) -> list[dict]:
    return [{**c, "rows": [{**r, "reference": f"run{run}:{r['reference']}"} for r in c["rows"]]} for c in cells]


RECORDED_LATER = {"uses_edited_views": False}
"""Resolved switches recorded from some round on, with what every run before did (round 21: no run
made edited views before the switch existed, whatever its schedule default is now)."""


def check_same_settings(metas: Sequence[dict], names: Sequence[Path]) -> None:
    """Refuse runs whose SEAL ran differently. Runs record "engine defaults", which names something
    else once a default changes, so runs that record their resolved settings (`seal_settings`) are
    compared on those, schedule by schedule; a run without them (archived before they were recorded)
    pools only with runs without them."""
    recorded = [m.get("seal_settings") for m in metas]
    if all(r is None for r in recorded):
        return
    if any(r is None for r in recorded):
        old = [str(n) for n, r in zip(names, recorded) if r is None]
        raise PoolError(f"{', '.join(old)} did not record what SEAL ran and the others did; "
                        "pool runs of one version of the defaults.")
    from ..personalize.config import PersonalizeConfig

    # A setting added after a run was recorded is absent from its record: that run did what the
    # setting's default does (a new field defaults to the behaviour before it; config.py).
    added_later = {**PersonalizeConfig().to_dict(), **RECORDED_LATER}
    first = recorded[0]
    for name, other in zip(names[1:], recorded[1:]):
        for sched in set(first) & set(other):
            a, b = first[sched], other[sched]
            differ = sorted(k for k in set(a) | set(b)
                            if a.get(k, added_later.get(k)) != b.get(k, added_later.get(k)))
            if differ:
                raise PoolError(f"{names[0]} and {name} ran SEAL differently on '{sched}' "
                                f"({', '.join(differ)}); pool one setting at a time.")


def pool_runs(out_dirs: Sequence[Path], n_resamples: int = 2000) -> tuple[str, dict]:
    """(markdown, json) of the pooled tables over every reference of every run (folders or archives)."""
    if len(out_dirs) < 2:
        raise PoolError("pooling needs at least two run directories.")
    loaded = [load_run(d) for d in out_dirs]
    metas = [meta for meta, _ in loaded]
    runs = [cells for _, cells in loaded]
    protocols = {m.get("protocol") for m in metas if m}
    settings = {m.get("settings") for m in metas if m}
    if len(protocols) > 1 or len(settings) > 1:
        raise PoolError(f"these runs differ in protocol or settings ({sorted(map(str, protocols | settings))}); "
                        "pool only replications of one setting.")
    check_same_settings(metas, list(out_dirs))
    common = set(runs[0]).intersection(*runs[1:])
    if not common:
        raise PoolError("these runs share no (schedule, variant) row.")
    done = {k: [c for i, run in enumerate(runs) for c in _keyed(run[k], i)] for k in sorted(common)}
    results, diffs, start_diffs = tables(done, n_resamples)
    meta = {"pooled runs": ", ".join(f"{d} ({m.get('references', '?')})" for d, m in zip(out_dirs, metas)),
            "protocol": next(iter(protocols), "?"), "settings": next(iter(settings), "?"),
            "references": str(max(len(cells) for cells in done.values()))}
    md = render_markdown(results, diffs, meta, start_diffs).replace("# SEAL protocol, toy world",
                                                                  "# SEAL protocol, toy world (pooled draws)", 1)
    return md, {"meta": meta, "results": results, "paired_differences": diffs,
                "paired_differences_against_image_start_only": start_diffs}


__all__ = ["PoolError", "load_run", "pool_runs", "read_cells", "run_meta"]
