"""Two app jobs learning the same character at once (issue 16): the second waits, then reuses the concept.

The app runs its jobs through `run_pack_job`, the same function as `seal pack`, so the per-concept lock
covers the app, the CLI, and both together on one data folder. Two job runners start together here on
an empty data folder; training is slowed so that they really overlap.
"""

from __future__ import annotations

import threading
import time

from seal_desktop import engine_adapter as ea

from .conftest import DATA, TINY_PERSONALIZE

PRESET = {"name": "one", "items": [{"label": "Happy", "emoji": "😀", "attributes": {"emotion": "happy"}}]}


def test_two_jobs_on_one_character_learn_once(tiny_model, seal_home, monkeypatch):
    import seal_engine.personalize as engine
    from seal_engine.intake import load_image

    real = engine.personalize

    def slow(*args, **kwargs):
        time.sleep(2)  # hold the concept lock while the other job arrives
        return real(*args, **kwargs)

    monkeypatch.setattr(engine, "personalize", slow)
    import seal_engine.loading as loading

    real_load, load_lock = loading.load_pipeline, threading.Lock()

    def one_load_at_a_time(*args, **kwargs):  # diffusers' meta-device loading is not thread-safe; two app
        with load_lock:                        # instances are two processes, so this is a test-only limit
            return real_load(*args, **kwargs)

    monkeypatch.setattr(loading, "load_pipeline", one_load_at_a_time)
    seal_home.mkdir(parents=True, exist_ok=True)
    mask = seal_home / "mask.png"
    ea.compute_mask(load_image(DATA / "seal-transparent.png")).mask.save(mask)
    outcomes, errors, events = {}, [], []

    def job(n: int) -> None:
        spec = ea.JobSpec(n, "seal", "character", DATA / "seal-transparent.png", mask, PRESET, str(tiny_model), {},
                          steps=1, variants=1, schedule="fast", output_dir=seal_home / f"job-{n}",
                          personalize_overrides=TINY_PERSONALIZE)
        try:
            outcomes[n] = ea.run_job(spec, progress=events.append)
        except Exception as err:  # reported below with the message
            errors.append(f"job {n}: {err}")

    threads = [threading.Thread(target=job, args=(n,)) for n in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert errors == []
    assert outcomes[1].concept_dir == outcomes[2].concept_dir
    notes = sorted(outcomes[n].notes[0].split(":")[0] for n in (1, 2))
    assert notes == ["concept learned", "concept reused"]
    assert any("Another run" in (e.message or "") for e in events)
    assert len([d for d in (seal_home / "concepts").iterdir() if not d.name.startswith(".")]) == 1
