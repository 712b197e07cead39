"""On the trained toy world, a learned concept reproduces a held-out character; the class word does not.

Random tiny weights cannot show this; the toy model never saw these appearances, so
any hit comes from the one reference image the concept was learned from.
"""

from __future__ import annotations

import os

import pytest

from seal_engine.toyworld.attributes import APPEARANCE_FACTORS, HELD_OUT_APPEARANCES


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("SEAL_TOYWORLD_PERSONALIZE"),
                    reason="takes minutes on 2 shared cores; set SEAL_TOYWORLD_PERSONALIZE=1 to run")
@pytest.mark.xfail(reason="measured 2026-11: with the fast schedule (80 steps) the SEAL concept gave the "
                          "character's colour but not its shape/hat (0/12 vs 0/12 for the class word); "
                          "open: steps / embedding lr for this model", strict=False)
def test_concept_beats_class_word_on_a_held_out_character(tmp_path):
    from seal_engine.toyworld.bench import CLASS_ROW, ToyBenchConfig, prompt_stickers, reference_sticker, run_cell
    from seal_engine.toyworld.detectors import Detector

    cfg = ToyBenchConfig(out_dir=tmp_path, schedule="fast", steps=80, generation_steps=10, seed=0)
    detector = Detector()
    ref = reference_sticker(HELD_OUT_APPEARANCES[0])
    asked = prompt_stickers(ref, 12, seed=0)
    floor, _ = run_cell(cfg, CLASS_ROW, ref, asked, detector, tmp_path)
    learned, times = run_cell(cfg, "seal", ref, asked, detector, tmp_path)
    hits_floor = sum(r["identity"] for r in floor)
    hits_learned = sum(r["identity"] for r in learned)
    assert times["personalize_s"] > 0
    assert hits_learned > hits_floor, (hits_learned, hits_floor,
                                       [tuple(r["read"][f] for f in APPEARANCE_FACTORS) for r in learned])
