"""Concurrent `seal pack` runs (issue 16): one data folder, one character, one shared output folder.

Three real processes start together on an empty SEAL_HOME: A and B write the same `-o`, C another one.
Before the locks, the slower learner failed with "concepts/KEY already exists" and A and B interleaved
their packs. Now every run succeeds, the concept is learned exactly once, and the others say they
waited. Training is slowed by a few seconds inside each child so that the runs really overlap.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from seal_engine.attributes import Preset, StickerSpec
from seal_engine.export import validate_pack

DATA = Path(__file__).parent / "data"
REFERENCE = DATA / "pack" / "mochi.png"

CHILD = """
import sys, time
import seal_engine.personalize as engine
real = engine.personalize
def slow(*args, **kwargs):
    time.sleep(4)  # hold the concept lock long enough for the other runs to arrive
    return real(*args, **kwargs)
engine.personalize = slow
from seal_engine.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_three_concurrent_packs_learn_once_and_all_succeed(tmp_path, tiny_sd15_dir):
    preset = tmp_path / "one.json"
    preset.write_text(json.dumps(Preset("one", [StickerSpec("Happy", "😀", {"emotion": "happy"})]).to_dict()))
    home = tmp_path / "home"
    env = {**os.environ, "SEAL_HOME": str(home), "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    outs = [tmp_path / "shared", tmp_path / "shared", tmp_path / "other"]
    procs = [subprocess.Popen([sys.executable, "-c", CHILD, "pack", str(REFERENCE), "--preset", str(preset),
                               "--platform", "png", "--title", "T", "--author", "A", "--model", str(tiny_sd15_dir),
                               "--schedule", "fast", "--train-steps", "2", "--steps", "1", "--variants", "1",
                               "-o", str(out)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for out in outs]
    results = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, results):
        assert p.returncode == 0, err + out
        assert err.strip() == "", err
    concepts = [d for d in (home / "concepts").iterdir() if not d.name.startswith(".")]
    assert len(concepts) == 1 and (concepts[0] / "concept.json").is_file()
    learned = [out for out, _ in results if "(learned)" in out]
    reused = [out for out, _ in results if "(reused from cache)" in out]
    assert len(learned) == 1 and len(reused) == 2
    assert any("Another run is" in out for out, _ in results)  # somebody waited, and said so
    for folder in set(outs):
        assert validate_pack(folder / "packs" / "png", "png") == []
        assert json.loads((folder / "job.json").read_text())["items"][0]["sticker"]
        assert not [p for p in folder.rglob("*") if p.name.startswith(".")]  # no staging left
