"""Rigidity and copying against chance: a wrong read on the reference's value, against one on a decoy."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from seal_engine.toyworld.attributes import FACTORS
from seal_engine.toyworld.bench import (METRICS, ToyBenchConfig, draw_references, prompt_asks, ref_id, score,
                                        summarise)
from seal_engine.toyworld.bench_archive import read_archive
from seal_engine.toyworld.bench_chance import CHANCE_METRICS, draw_seed, rescore
from seal_engine.toyworld.bench_pool import PoolError, load_run

ROOT = Path(__file__).resolve().parent.parent
ARCHIVE = ROOT / "docs" / "benchmarks" / "toyworld_cells" / "paper_seed15.jsonl"


def _read(sticker) -> dict[str, str]:
    return {f: getattr(sticker, f) for f in FACTORS}


def test_a_read_on_the_reference_counts_once_and_a_read_on_a_decoy_counts_against_it():
    ref = draw_references(ToyBenchConfig(out_dir=Path("."), seed=3))[0]
    ask = next(a for a in prompt_asks(ref, 10, seed=3) if a.omit == "")
    right = _read(ask.sticker)
    on_ref = {**right, "action": ref.action}
    decoy = next(v for v in FACTORS["action"] if v not in (ask.sticker.action, ref.action))
    on_decoy = {**right, "action": decoy}
    assert score(ask, right, ref)["rigidity_above_chance"] == 0.0
    assert score(ask, on_ref, ref)["rigidity_above_chance"] == 1.0
    assert score(ask, on_decoy, ref)["rigidity_above_chance"] == -1.0
    # The emotion has four values: two decoys, each counting half.
    emo_decoy = next(v for v in FACTORS["emotion"] if v not in (ask.sticker.emotion, ref.emotion))
    s = score(ask, {**right, "emotion": emo_decoy}, ref)
    assert (s["emotion_copy"], s["emotion_copy_chance"], s["emotion_copy_above_chance"]) == (0.0, 0.5, -0.5)


def _simulate(copy_p: float, seed: int = 0) -> dict:
    """A draw whose generator errs by a fixed, lopsided confusion that ignores the reference, and copies the
    reference's pose and emotion with probability `copy_p`."""
    rng = random.Random(seed)
    # Lopsided: each asked value, when wrong, prefers one particular other value 4 to 1.
    prefer = {f: {v: [w for w in FACTORS[f] if w != v][0] for v in FACTORS[f]} for f in ("action", "emotion")}
    rows = []
    for draw in range(12):
        refs = draw_references(ToyBenchConfig(out_dir=Path("."), seed=draw))
        for i, ref in enumerate(refs):
            for ask in prompt_asks(ref, 10, seed=draw + 100 * i):
                read = _read(ask.sticker)
                for f in ("action", "emotion"):
                    if rng.random() < copy_p:
                        read[f] = getattr(ref, f)
                    elif rng.random() < 0.15:
                        others = [w for w in FACTORS[f] if w != read[f]]
                        read[f] = prefer[f][read[f]] if rng.random() < 0.8 else rng.choice(others)
                rows.append({"reference": f"{draw}:{ref_id(ref)}", **score(ask, read, ref)})
    return summarise([{"rows": rows, "personalize_s": 0.0}], n_resamples=200)


def test_errors_that_ignore_the_reference_are_not_rigidity_above_chance_and_copying_is():
    blind = _simulate(0.0)
    assert blind["rigidity"]["estimate"] > 0.04  # the plain rate counts the errors landing on the reference
    assert blind["emotion_copy"]["estimate"] > 0.025
    for m in ("rigidity_above_chance", "emotion_copy_above_chance"):
        assert abs(blind[m]["estimate"]) < 0.02, (m, blind[m])  # 216 references: the draw's own imbalance
    copying = _simulate(0.1)
    for m in ("rigidity_above_chance", "emotion_copy_above_chance"):
        # a copied arm pose counts where the prompt names it: 4 prompts in 5
        assert 0.06 < copying[m]["estimate"] < 0.14, (m, copying[m])
        assert copying[m]["low"] > 0.04


def test_an_archived_draw_is_scored_against_chance_from_its_reads():
    meta, cells = read_archive(ARCHIVE)
    assert draw_seed(meta) == 15
    rescore(meta, cells)
    rows = [r for group in cells.values() for c in group for r in c["rows"]]
    assert all(r["emotion_copy_chance"] is not None for r in rows)
    assert all((r["rigidity"] is None) == (r["rigidity_chance"] is None) for r in rows)
    for r in rows:
        if r["rigidity"] is not None:
            assert r["rigidity_above_chance"] == r["rigidity"] - r["rigidity_chance"]
    assert set(CHANCE_METRICS) <= set(METRICS)


def test_a_draw_whose_prompts_do_not_rebuild_from_its_seed_is_refused(tmp_path):
    lines = ARCHIVE.read_text(encoding="utf-8").splitlines()
    head = json.loads(lines[0])
    head["meta"]["references"] = head["meta"]["references"].replace("seed 15", "seed 16")
    head["meta"].pop("seed", None)
    wrong = tmp_path / "paper_seed15_wrong.jsonl"
    wrong.write_text("\n".join([json.dumps(head), *lines[1:]]) + "\n", encoding="utf-8")
    with pytest.raises(PoolError, match="not among seed 16's draw|seed 16's rebuilt prompt"):
        load_run(wrong)
