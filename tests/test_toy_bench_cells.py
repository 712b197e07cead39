"""The toy bench's cells: several processes on one --out share the work (a per-cell lock)."""

from __future__ import annotations

import json

from filelock import FileLock

from seal_engine.toyworld import bench
from seal_engine.toyworld.bench import ToyBenchConfig, draw_references


def test_a_cell_is_computed_once_and_skipped_while_another_run_holds_it(tmp_path, monkeypatch):
    cfg = ToyBenchConfig(out_dir=tmp_path, appearances=1, references=1)
    ref = draw_references(cfg)[0]
    computed = []

    def fake_run_cell(cfg, var, sched, ref, i, detector, tmp):
        computed.append((sched, var, i))
        return {"reference": "r", "rows": [{"identity": 1.0}], "personalize_s": 0.0, "caption": None}

    monkeypatch.setattr(bench, "run_cell", fake_run_cell)
    path = tmp_path / "cells" / "paper" / "seal" / "000.json"
    path.parent.mkdir(parents=True)
    held = FileLock(str(path.with_suffix(".lock")))
    held.acquire()
    try:  # another process is on it: this one moves on
        assert bench._cell(cfg, "seal", "paper", ref, 0, None, tmp_path, path, lambda *_: None) is None
    finally:
        held.release()
    cell = bench._cell(cfg, "seal", "paper", ref, 0, None, tmp_path, path, lambda *_: None)
    assert cell["rows"] == [{"identity": 1.0}] and json.loads(path.read_text())["reference"] == "r"
    again = bench._cell(cfg, "seal", "paper", ref, 0, None, tmp_path, path, lambda *_: None)
    assert again == cell and computed == [("paper", "seal", 0)]


def test_with_wait_a_held_cell_is_read_once_the_other_run_writes_it(tmp_path, monkeypatch):
    # The last run to finish on one --out waits for the cells it skipped, so its tables are complete.
    import threading

    from seal_engine.atomic import atomic_write_json

    cfg = ToyBenchConfig(out_dir=tmp_path, appearances=1, references=1)
    ref = draw_references(cfg)[0]
    monkeypatch.setattr(bench, "run_cell", lambda *a: (_ for _ in ()).throw(AssertionError("recomputed")))
    path = tmp_path / "cells" / "paper" / "seal" / "000.json"
    path.parent.mkdir(parents=True)
    held = FileLock(str(path.with_suffix(".lock")), thread_local=False)
    held.acquire()
    got = {}
    waiter = threading.Thread(target=lambda: got.update(cell=bench._cell(
        cfg, "seal", "paper", ref, 0, None, tmp_path, path, lambda *_: None, wait=True)))
    waiter.start()
    waiter.join(0.3)
    assert waiter.is_alive()  # still waiting on the other run
    atomic_write_json(path, {"reference": "other", "rows": [{"identity": 0.5}], "personalize_s": 1.0, "caption": None})
    held.release()
    waiter.join(10)
    assert got["cell"]["reference"] == "other"
