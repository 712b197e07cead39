"""Archived toy-bench draws: small files in the repository that pool exactly as their run folders do."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from seal_engine.toyworld.bench_archive import compact_cell, expand_cell, read_archive, write_archive
from seal_engine.toyworld.bench_pool import PoolError, pool_runs

ROOT = Path(__file__).resolve().parent.parent
READ = {"shape": "round", "colour": "purple", "accessory": "hat", "emotion": "sad", "action": "wave",
        "scale": "closeup", "position": "left", "style": "flat", "background": "navy"}


def _run(out: Path, seed: int, identity: dict[str, list[list[float]]]) -> Path:
    """A fake run folder: per variant and reference, one identity value per sample, with the cell's extras."""
    for var, per_ref in identity.items():
        for i, values in enumerate(per_ref):
            rows = [{"reference": f"ref{i}", "prompt": "a <seal-id> creature, sad", "seed_index": j, "read": READ,
                     "identity": v, "attribute_accuracy": 5 / 6, "leakage": 0.0, "rigidity": float(j == 0),
                     "emotion_copy": 0.0, "unnamed_bg_ref": None, "unnamed_pose_ref": 1.0, "ok_shape": 1.0}
                    for j, v in enumerate(values)]
            cell = {"variant": var, "schedule": "paper", "reference": f"ref{i}", "rows": rows, "personalize_s": 2.5,
                    "generate_s": 9.0, "mask_iou": 0.91, "caption": "sad, waving", "start": "class word",
                    "loss_balance": {"lora": {"diffusion_grad_norm": 0.25}}, "probe_before": {"x": 0.4}}
            path = out / "cells" / "paper" / var / f"{i:03d}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(cell))
    (out / "results.json").write_text(json.dumps({"meta": {"protocol": "v2", "settings": "engine defaults",
                                                           "references": f"{len(per_ref)} (seed {seed})"}}))
    return out


def test_an_archived_draw_pools_to_the_same_tables_as_its_run_folder(tmp_path):
    a = _run(tmp_path / "s0", 0, {"baseline": [[0.0, 1.0], [1.0, 1.0], [0.0, 0.0]],
                                  "seal": [[1.0, 1.0], [1.0, 0.0], [0.0, 1.0]]})
    b = _run(tmp_path / "s1", 1, {"baseline": [[0.0, 0.0], [1.0, 0.0]], "seal": [[1.0, 1.0], [1.0, 1.0]]})
    arch = tmp_path / "paper_seed0.jsonl"
    assert write_archive(a, arch) == 6
    _md, from_folders = pool_runs([a, b], n_resamples=300)
    _md, from_archive = pool_runs([arch, b], n_resamples=300)  # an archive pools beside a new run folder
    for key in ("results", "paired_differences"):
        assert from_archive[key] == from_folders[key]
    assert from_archive["paired_differences"]["paper"]["seal"]["identity"]["n"] == 5


def test_a_cell_keeps_every_sample_metric_and_detector_read_through_the_archive():
    rows = [{"reference": "r", "seed_index": j, "read": {**READ, "emotion": e}, "identity": float(j),
             "attribute_accuracy": 2 / 3, "leakage": 0.0, "rigidity": 0.0, "emotion_copy": float(e == "sad"),
             "unnamed_bg_ref": None, "unnamed_pose_ref": None} for j, e in enumerate(("sad", "happy"))]
    cell = {"variant": "seal", "schedule": "fast", "reference": "r", "rows": rows, "personalize_s": 1.25,
            "generate_s": 3.0, "mask_iou": 0.5, "caption": "c", "start": "s"}
    back = expand_cell(json.loads(json.dumps(compact_cell(cell))))
    assert [r["read"] for r in back["rows"]] == [r["read"] for r in rows]
    assert [r["emotion_copy"] for r in back["rows"]] == [1.0, 0.0]
    assert back["rows"][0]["attribute_accuracy"] == 2 / 3
    assert back["rows"][1]["unnamed_bg_ref"] is None and back["personalize_s"] == 1.25


def test_a_file_that_is_not_an_archive_is_refused_in_one_sentence(tmp_path):
    bad = tmp_path / "notes.jsonl"
    bad.write_text('{"hello": 1}\n')
    with pytest.raises(PoolError, match="not a toy-bench archive"):
        read_archive(bad)
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "toyworld_archive.py"), str(tmp_path / "empty"),
                           str(tmp_path / "x.jsonl")], capture_output=True, text=True)
    assert proc.returncode == 2 and "holds no toy-bench cells" in proc.stderr and proc.stderr.count("\n") == 1
    assert not (tmp_path / "x.jsonl").exists()


@pytest.mark.parametrize("name", sorted(p.name for p in (ROOT / "docs" / "benchmarks" / "toyworld_cells").glob("*.jsonl")))
def test_the_archived_draws_in_the_docs_read_back_whole(name):
    path = ROOT / "docs" / "benchmarks" / "toyworld_cells" / name
    meta, cells = read_archive(path)
    assert path.stat().st_size < 75_000 * len(cells)  # a variant's OUT/cells/ is about 0.4 MB
    assert meta["settings"] == "engine defaults"
    assert {v for _s, v in cells} >= {"baseline", "seal"} and all(len(c) == 18 for c in cells.values())
    assert all(len(cell["rows"]) == 20 for group in cells.values() for cell in group)


CELLS = ROOT / "docs" / "benchmarks" / "toyworld_cells"
SCREENS = ROOT / "docs" / "benchmarks" / "toyworld_screens"


def test_a_screen_pairs_reference_by_reference_with_its_draw():
    from seal_engine.toyworld.bench_pool import pool_runs
    from seal_engine.toyworld.bench_screen import screen

    draw = CELLS / "paper_seed2.jsonl"
    # the draw's own SEAL cells, screened against it: zero against SEAL, and against plain TTF the
    # same paired difference the pooled tables give (the pairing is by reference, not by order)
    _md, own = screen([(draw, draw)], n_resamples=200)
    assert own["references"] == 18
    assert all(abs(own["paired"][m]["seal"]["estimate"]) < 1e-12 for m in ("identity", "ok_emotion"))
    _md, pooled = pool_runs([draw, draw], n_resamples=200)
    assert own["paired"]["identity"]["baseline"]["estimate"] == pytest.approx(
        pooled["paired_differences"]["paper"]["seal"]["identity"]["estimate"])
    kept = sorted(SCREENS.glob("paper_seed2_*.jsonl"))
    assert kept, "no screen of seed 2 is kept"
    md, data = screen([(kept[0], draw)], n_resamples=200)
    assert data["references"] == 18 and "screen − SEAL" in md
    assert any(abs(data["paired"][m]["seal"]["estimate"]) > 1e-6 for m in ("identity", "ok_emotion"))


def test_a_screen_on_another_draw_or_a_bad_argument_is_refused():
    from seal_engine.toyworld.bench_screen import screen

    kept = sorted(SCREENS.glob("paper_seed2_*.jsonl"))[0]
    with pytest.raises(PoolError, match="drawn differently"):
        screen([(kept, CELLS / "paper_seed0.jsonl")])
    with pytest.raises(PoolError, match="not a full draw"):
        screen([(kept, kept)])
    run = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "toyworld_screen.py"), "nocolon"],
                         capture_output=True, text=True)
    assert run.returncode == 2 and "SCREEN:DRAW" in run.stderr


def test_one_reference_refuses_a_backdrop_the_toy_world_lacks_in_one_sentence():
    run = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "toyworld_one_reference.py"), "--seed", "10",
                          "--reference", "square-red-none-sad", "--variants", "seal", "--background", "white,purple"],
                         capture_output=True, text=True)
    assert run.returncode == 2 and run.stderr.count("\n") == 1
    assert "purple is not a toy-world background" in run.stderr and "cyan" in run.stderr


def test_screens_recorded_under_different_labels_pool_only_when_the_caller_says_they_are_one_setting():
    from seal_engine.toyworld.bench_screen import screen

    # seed 0 ran the context term as an override, seed 3 ran it as the shipped default
    pairs = [(SCREENS / "paper_seed0_context1.jsonl", CELLS / "paper_seed0.jsonl"),
             (SCREENS / "paper_seed3_context1.jsonl", CELLS / "paper_seed3.jsonl")]
    with pytest.raises(PoolError, match="different settings"):
        screen(pairs, n_resamples=100)
    md, data = screen(pairs, n_resamples=100, same_setting=True)
    assert data["references"] == 36 and "engine defaults = engine defaults + {" in md


def test_a_screen_of_the_current_defaults_stands_for_seal_when_named_third():
    from seal_engine.toyworld.bench_screen import screen

    draw = CELLS / "paper_seed0.jsonl"
    shipped = SCREENS / "paper_seed0_context1.jsonl"
    other = SCREENS / "paper_seed0_edit_ratio05.jsonl"
    # the defaults screen against itself: zero against SEAL, and its TTF side is still the draw's
    md, own = screen([(shipped, draw, shipped)], n_resamples=100)
    assert own["paired"]["identity"]["seal"]["estimate"] == 0 and "from a screen (engine defaults + {" in md
    _md, plain = screen([(shipped, draw)], n_resamples=100)
    assert own["paired"]["identity"]["baseline"] == plain["paired"]["identity"]["baseline"]
    _md, vs = screen([(other, draw, shipped)], n_resamples=100)
    assert vs["means"]["identity"]["seal"] == plain["means"]["identity"]["screen"]
    with pytest.raises(PoolError, match="is not a 'seal' screen of the draw"):
        screen([(other, draw, SCREENS / "paper_seed1_context1.jsonl")])


def test_runs_of_different_versions_of_the_defaults_do_not_pool():
    from seal_engine.toyworld.bench_pool import check_same_settings, pool_runs

    old, new = CELLS / "paper_seed0.jsonl", CELLS / "paper_seed4.jsonl"  # round 13's defaults, round 15's
    assert read_archive(new)[0]["seal_settings"]["paper"]["uses_context_hold"] is True
    with pytest.raises(PoolError, match="did not record what SEAL ran"):
        pool_runs([old, new], n_resamples=100)
    a = {"seal_settings": {"paper": {"context_hold_grad_ratio": 0.2, "steps": [10, 10]}}}
    b = {"seal_settings": {"paper": {"context_hold_grad_ratio": 0.5, "steps": [10, 10]}}}
    check_same_settings([a, dict(a)], ["x", "y"])
    with pytest.raises(PoolError, match="ran SEAL differently on 'paper' \\(context_hold_grad_ratio\\)"):
        check_same_settings([a, b], ["x", "y"])
    check_same_settings([{}, {}], ["x", "y"])  # neither recorded: as before
    # a setting added after a run was recorded: the older run ran its default, and only that pools
    c = {"seal_settings": {"paper": {**a["seal_settings"]["paper"], "image_start_steps": 8}}}  # its default
    d = {"seal_settings": {"paper": {**a["seal_settings"]["paper"], "image_start_steps": 12}}}
    check_same_settings([a, c], ["x", "y"])
    with pytest.raises(PoolError, match="image_start_steps"):
        check_same_settings([a, d], ["x", "y"])


def test_a_draw_from_before_the_edited_views_does_not_pool_with_one_that_made_them():
    # Archived draws lack `uses_edited_views`; none of them made edited views, so they pool with a
    # new draw that made none (fast, quality) and are refused beside one that did (paper's new default).
    from seal_engine.toyworld.bench_pool import check_same_settings

    old = read_archive(CELLS / "paper_seed12.jsonl")[0]
    assert "uses_edited_views" not in old["seal_settings"]["paper"]
    new_off = {"seal_settings": {"paper": {**old["seal_settings"]["paper"], "uses_edited_views": False}}}
    new_on = {"seal_settings": {"paper": {**old["seal_settings"]["paper"], "uses_edited_views": True}}}
    check_same_settings([old, new_off], ["old", "new"])
    with pytest.raises(PoolError, match="uses_edited_views"):
        check_same_settings([old, new_on], ["old", "new"])
