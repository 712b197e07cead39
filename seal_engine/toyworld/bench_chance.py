"""Rigidity and emotion copying against chance: does a wrong read land on the reference's value
more often than on any other wrong value?

`rigidity` and `emotion_copy` count every sample whose changed pose or emotion reads back as the
reference's. A sample drawn wrong for any reason lands there part of the time by chance: the arm
pose has three values, so a wrong arm pose is the reference's about half the time even for a
model that never saw the reference's pose. Halving such a rate means halving the errors, not the
copying. So each sample is also scored with the same rule against a *decoy*: a value neither asked
nor the reference's (averaged over the decoys when there are several). References and asks are
drawn at random, so over a draw a decoy is as likely a confusion as the reference's value, and
`metric − chance` (the `*_above_chance` columns) is what the reference itself adds.

The framing's scale has two values, so it has no decoy; a wrong scale counts in `rigidity` and not
in its chance term, which can only make `rigidity_above_chance` larger (no scale was misread on
any archived draw).

Draws archived before these columns existed are scored again from the detectors' reads
(`rescore`): the asks are rebuilt from the draw's seed, and each rebuilt sample must give the
`rigidity` and `emotion_copy` the draw recorded, else the seed is wrong and nothing is filled in.
"""

from __future__ import annotations

import re
from typing import Any, Optional

from .attributes import FACTORS

POSE_FACTORS = ("action", "scale", "position")  # what pose rigidity reads (bench.score)
CHANCE_METRICS = ("rigidity_chance", "rigidity_above_chance", "emotion_copy_chance", "emotion_copy_above_chance")


def _decoys(factor: str, asked: str, ref_value: str) -> list[str]:
    return [v for v in FACTORS[factor] if v not in (asked, ref_value)]


def chance_scores(ask: Any, read: dict[str, str], ref: Any, rigidity: Optional[float],
                  emotion_copy: Optional[float]) -> dict[str, Optional[float]]:
    """Per-sample chance terms and metric − chance for `rigidity` and `emotion_copy`."""
    s = ask.sticker
    rig_chance: Optional[float] = None
    if rigidity is not None:
        # One decoy per changed factor at most (action: 3 values, position: 3, scale: 2, none).
        hits = [read[f] in _decoys(f, getattr(s, f), getattr(ref, f))
                for f in POSE_FACTORS if f != ask.omit and getattr(s, f) != getattr(ref, f)]
        rig_chance = float(any(hits))
    decoys = _decoys("emotion", s.emotion, ref.emotion)
    copy_chance = (sum(read["emotion"] == d for d in decoys) / len(decoys)
                   if emotion_copy is not None and decoys else None)
    return {"rigidity_chance": rig_chance,
            "rigidity_above_chance": None if rig_chance is None else rigidity - rig_chance,
            "emotion_copy_chance": copy_chance,
            "emotion_copy_above_chance": None if copy_chance is None else emotion_copy - copy_chance}


class RescoreError(ValueError):
    """The asks rebuilt from a draw's seed do not give back what the draw recorded."""


def draw_seed(meta: dict) -> Optional[int]:
    """The seed a draw's references and prompts came from (recorded as `seed`, or in its `references` line)."""
    if isinstance(meta.get("seed"), int):
        return meta["seed"]
    m = re.search(r"drawn with seed (\d+)", str(meta.get("references", "")))
    return int(m.group(1)) if m else None


def draw_asks(meta: dict) -> Optional[dict[str, tuple[Any, list]]]:
    """{reference id: (reference, its asks)} rebuilt from a draw's seed, or None when it records none."""
    from .bench import ToyBenchConfig, draw_references, prompt_asks, ref_id

    seed = draw_seed(meta)
    if seed is None:
        return None
    m = re.match(r"(\d+) per reference", str(meta.get("prompts", "")))
    n_prompts = int(m.group(1)) if m else ToyBenchConfig.prompts
    refs = draw_references(ToyBenchConfig(out_dir=".", seed=seed, references=_per_appearance(meta)))
    return {ref_id(r): (r, prompt_asks(r, n_prompts, seed=seed + 100 * i)) for i, r in enumerate(refs)}


def rescore(meta: dict, cells: dict[tuple[str, str], list[dict]]) -> None:
    """Fill in the chance columns of cells recorded without them, in place, from each sample's read.

    A draw whose seed is not recorded keeps them empty (a run folder still running has no
    results.json yet: its columns read n/a); one whose rebuilt asks disagree with what it recorded
    raises `RescoreError`."""
    from .bench import score

    todo = [c for group in cells.values() for c in group if any(_unscored(r) for r in c["rows"])]
    if not todo:
        return
    asks_of = draw_asks(meta)
    if asks_of is None:
        return
    seed = draw_seed(meta)
    for cell in todo:
        name = cell["reference"].split(":")[-1]
        if name not in asks_of:
            raise RescoreError(f"reference {name} is not among seed {seed}'s draw.")
        ref, asks = asks_of[name]
        for j, row in enumerate(cell["rows"]):
            again = score(asks[j % len(asks)], row["read"], ref)
            for key in ("rigidity", "emotion_copy"):
                if again[key] != row.get(key):
                    raise RescoreError(f"seed {seed}'s rebuilt prompt {j} for {name} gives {key} {again[key]}, "
                                       f"the draw recorded {row.get(key)}.")
            row.update({k: again[k] for k in CHANCE_METRICS})


def _unscored(row: dict) -> bool:
    """A sample whose metric is there and its chance term is not (absent, or None in an archive)."""
    return any(row.get(m) is not None and row.get(f"{m}_chance") is None for m in ("rigidity", "emotion_copy"))


def _per_appearance(meta: dict) -> int:
    m = re.search(r"\((\d+) per held-out appearance", str(meta.get("references", "")))
    return int(m.group(1)) if m else 3


__all__ = ["CHANCE_METRICS", "POSE_FACTORS", "RescoreError", "chance_scores", "draw_asks", "draw_seed", "rescore"]
