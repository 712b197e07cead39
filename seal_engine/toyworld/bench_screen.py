"""A screen: one SEAL setting run on a draw already archived, paired reference by reference.

A full draw runs plain TTF and SEAL again (30-50 CPU-minutes); a screen runs only the SEAL
variant under an override (`toyworld_seal.py --variants seal --override ...`) and pairs its
cells with the archived draw's SEAL and plain-TTF cells of the same references, so each
setting tried costs half a draw and answers both questions: against the shipped defaults and
against the baseline a user would otherwise use. Several screens of one setting on different
draws pool (references keyed by draw). Screens are kept in `docs/benchmarks/toyworld_screens/`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from .bench import paired, per_reference
from .bench_pool import PoolError, _keyed, load_run

SCREEN_METRICS = ("identity", "ok_emotion", "attribute_accuracy", "rigidity", "emotion_copy", "leakage",
                  "rigidity_above_chance", "emotion_copy_above_chance")  # the last two: bench_chance.py
AGAINST = (("seal", "SEAL"), ("baseline", "plain TTF"))


def _mean(cells: list[dict], metric: str) -> float:
    per = per_reference([r for c in cells for r in c["rows"]], metric)
    return sum(per.values()) / max(1, len(per))


def screen(pairs: Sequence[tuple[Path, ...]], schedule: str = "paper", variant: str = "seal",
           n_resamples: int = 2000, same_setting: bool = False) -> tuple[str, dict]:
    """(markdown, json) of screens (run folder or archive, archived full draw) pooled over the pairs.

    A pair may name a third run: a screen of the current defaults on the same draw, whose cells
    then stand for "SEAL" in place of the draw's own (a draw archived before a default changed
    still gives the plain-TTF side, and the new setting is compared with what ships now).

    A run records its setting as "engine defaults" plus its overrides, so a setting screened as an
    override and then shipped as the default reads differently on later draws. Such screens pool
    only with `same_setting` (the caller vouches for it); the table names every label pooled."""
    new: list[dict] = []
    against: dict[str, list[dict]] = {name: [] for name, _label in AGAINST}
    settings = set()
    shipped_from = set()
    for i, (screen_run, draw, *defaults) in enumerate(pairs):
        meta, cells = load_run(Path(screen_run))
        draw_meta, draw_cells = load_run(Path(draw))
        if defaults:
            shipped_meta, shipped = load_run(Path(defaults[0]))
            if shipped_meta.get("references") != draw_meta.get("references") or (schedule, variant) not in shipped:
                raise PoolError(f"{defaults[0]} is not a '{variant}' screen of the draw {draw}.")
            draw_cells = {**draw_cells, (schedule, "seal"): shipped[(schedule, variant)]}
            shipped_from.add(f"a screen ({shipped_meta.get('settings', '?')})")
        else:
            shipped_from.add("the draw")
        if (schedule, variant) not in cells:
            raise PoolError(f"{screen_run} holds no '{variant}' cells on the '{schedule}' schedule.")
        missing = [name for name, _label in AGAINST if (schedule, name) not in draw_cells]
        if missing:
            raise PoolError(f"{draw} is not a full draw (it lacks {', '.join(missing)} on '{schedule}').")
        if meta.get("references") != draw_meta.get("references"):
            raise PoolError(f"{screen_run} and {draw} were drawn differently "
                            f"({meta.get('references')!r} against {draw_meta.get('references')!r}).")
        settings.add(meta.get("settings", "?"))
        mine = cells[(schedule, variant)]
        refs = {c["reference"] for c in mine}
        new += _keyed(mine, i)
        for name in against:
            against[name] += _keyed([c for c in draw_cells[(schedule, name)] if c["reference"] in refs], i)
    if len(settings) > 1 and not same_setting:
        raise PoolError(f"these screens ran different settings ({sorted(settings)}); pool one setting at a time.")
    data: dict = {"variant": variant, "settings": " = ".join(sorted(settings)), "seal_from": sorted(shipped_from), "references": len(new), "means": {}, "paired": {}}
    for m in SCREEN_METRICS:
        data["means"][m] = {"screen": _mean(new, m), **{name: _mean(cells, m) for name, cells in against.items()}}
        data["paired"][m] = {name: paired(new, cells, m, n_resamples) for name, cells in against.items()}
    data["personalize_s"] = {"screen": sum(c["personalize_s"] for c in new) / max(1, len(new)),
                             **{name: sum(c["personalize_s"] for c in cells) / max(1, len(cells))
                                for name, cells in against.items()}}
    return render(data), data


def render(data: dict) -> str:
    def diff(d: dict) -> str:
        return f"{d['estimate']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}]" if d["n"] else "n/a"

    named = "" if data.get("variant", "seal") == "seal" else f"`{data['variant']}`, "
    lines = [f"# Screen: {named}{data['settings']} ({data['references']} references)", "",
             f"SEAL's cells: from {' and '.join(data.get('seal_from') or ['the draw'])}.", "",
             "| metric | screen | SEAL | plain TTF | screen − SEAL | screen − TTF |", "|---|---|---|---|---|---|"]
    for m in SCREEN_METRICS:
        mean, p = data["means"][m], data["paired"][m]
        lines.append(f"| {m} | {mean['screen']:.3f} | {mean['seal']:.3f} | {mean['baseline']:.3f} | "
                     f"{diff(p['seal'])} | {diff(p['baseline'])} |")
    t = data["personalize_s"]
    lines += ["", f"personalize s/reference: screen {t['screen']:.1f}, SEAL {t['seal']:.1f}, "
                  f"plain TTF {t['baseline']:.1f} (as run; contended runs are slower)"]
    return "\n".join(lines) + "\n"


__all__ = ["SCREEN_METRICS", "render", "screen"]
