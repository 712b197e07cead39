"""Pooling toy-bench draws: every reference of every run is resampled, and only like runs pool."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from seal_engine.toyworld.bench_pool import PoolError, pool_runs

ROOT = Path(__file__).resolve().parent.parent


def _run(out: Path, seed: int, identity: dict[str, list[float]], settings: str = "engine defaults") -> Path:
    """A fake run: per variant, one identity value per reference (the same reference ids in every run)."""
    for var, values in identity.items():
        for i, v in enumerate(values):
            path = out / "cells" / "paper" / var / f"{i:03d}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            rows = [{"reference": f"ref{i}", "identity": v, "attribute_accuracy": 1.0, "leakage": 0.0,
                     "rigidity": 0.0, "emotion_copy": 0.0, "unnamed_bg_ref": None, "unnamed_pose_ref": None}]
            path.write_text(json.dumps({"variant": var, "schedule": "paper", "reference": f"ref{i}", "rows": rows,
                                        "personalize_s": 1.0}))
    (out / "results.json").write_text(json.dumps({"meta": {"protocol": "v2", "settings": settings,
                                                           "references": f"{len(values)} (seed {seed})"}}))
    return out


def test_pooled_draws_count_every_reference_and_pair_them_within_their_own_run(tmp_path):
    a = _run(tmp_path / "s0", 0, {"baseline": [0.5, 0.5, 0.5], "seal": [0.6, 0.6, 0.6]})
    b = _run(tmp_path / "s1", 1, {"baseline": [0.2, 0.2, 0.2], "seal": [0.5, 0.5, 0.5]})
    md, data = pool_runs([a, b], n_resamples=200)
    assert data["results"]["paper"]["baseline"]["references"] == 6
    diff = data["paired_differences"]["paper"]["seal"]["identity"]
    # Same reference ids in both runs stay six pairs: (3 x 0.1 + 3 x 0.3) / 6, not a cross-run mix.
    assert diff["n"] == 6 and diff["estimate"] == pytest.approx(0.2)
    assert 0.1 - 1e-9 <= diff["low"] <= diff["high"] <= 0.3 + 1e-9
    assert "pooled draws" in md and "+0.200" in md


def test_runs_of_different_settings_do_not_pool(tmp_path):
    a = _run(tmp_path / "s0", 0, {"baseline": [0.5], "seal": [0.6]})
    b = _run(tmp_path / "s1", 1, {"baseline": [0.5], "seal": [0.6]}, settings="engine defaults + {'x': 1}")
    with pytest.raises(PoolError, match="differ"):
        pool_runs([a, b])


def test_the_pool_command_says_one_sentence_and_exits_2_on_a_folder_without_cells(tmp_path):
    a = _run(tmp_path / "s0", 0, {"baseline": [0.5], "seal": [0.6]})
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "toyworld_pool.py"), str(a), str(tmp_path / "nope")],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "holds no toy-bench cells" in proc.stderr and proc.stderr.count("\n") == 1
