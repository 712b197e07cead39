"""Edited views (seal_engine/personalize/edited_views.py), on the trained toy world.

The reference is redrawn with each other emotion of the caption's vocabulary; an edit joins the
bank only if the captioner reads it as asked, under the same augmentation draws as the
reference's views and with its prompt naming the new emotion; an edit whose colour drifts is
dropped. Off, and saying why, without a caption that names the emotion.
"""

from __future__ import annotations

import numpy as np
import pytest

from personalize_helpers import single_torch_thread  # noqa: F401


@pytest.fixture(scope="module")
def surprised_reference():
    # the red diamond: redrawn whole, its edits turned orange (the base model's drift)
    from seal_engine.toyworld.attributes import HELD_OUT_APPEARANCES, Sticker
    from seal_engine.toyworld.bench import reference_images

    app = dict(zip(("shape", "colour", "accessory"), HELD_OUT_APPEARANCES[3]))
    assert app == {"shape": "diamond", "colour": "red", "accessory": "hat"}
    ref = Sticker(**app, emotion="surprised", action="wave", scale="closeup", position="right", style="flat",
                  background="white")
    image, _auto, truth = reference_images(ref)
    return image, truth


def _trainer(reference, events=None, **kw):
    from seal_engine.devices import RuntimeOptions
    from seal_engine.loading import load_pipeline
    from seal_engine.personalize import PersonalizeConfig
    from seal_engine.personalize.trainer import Trainer
    from seal_engine.toyworld.model import default_pipeline_dir

    model = load_pipeline(str(default_pipeline_dir()), RuntimeOptions(device="cpu", dtype="fp32"))
    cfg = PersonalizeConfig(**{**dict(schedule="paper", class_word="creature", seed=0, augment_bank=4), **kw})
    trainer = Trainer(model, cfg.resolve(model.arch), "creature", (events.append if events is not None else
                                                                   (lambda e: None)), None)
    image, mask = reference
    trainer.setup(image, mask)
    return trainer


def _component(trainer):
    return next(c for c in trainer.components if c.name == "edited_views")


@pytest.fixture(scope="module")
def edited(surprised_reference):
    # the colour check off, so that every edit the captioner reads right joins
    trainer = _trainer(surprised_reference, edited_views=True, edited_views_max_shift=0.0)
    try:
        yield trainer, _component(trainer)
    finally:
        trainer.abort()


def test_kept_edits_join_the_views_with_prompts_naming_the_new_emotion(edited):
    trainer, comp = edited
    record = comp.record(trainer)
    assert record["active"] and record["attributes"] == ["emotion"]
    assert len(record["kept"]) + len(record["dropped"]) == 3 and record["kept"], record
    assert len(comp.images) == len(record["kept"])
    base = 4  # augment_bank: the reference's own views come first
    assert trainer.n_views == base * (1 + len(record["kept"])) and record["views_added"] == base * len(record["kept"])
    ident = trainer.subset_index("identity")
    assert all("surprised" in trainer.prompts[v][ident] for v in range(base))
    for k, label in enumerate(record["kept"]):
        new = label.split(" -> ")[1]
        block = range(base * (k + 1), base * (k + 2))
        assert all(new in trainer.prompts[v][ident] and "surprised" not in trainer.prompts[v][ident]
                   for v in block)
        # the same augmentation draws as the reference's views: same scales, same masks
        assert [trainer.bank.scales[v] for v in block] == trainer.bank.scales[:base]
        assert bool((trainer.bank.mask_full[base * (k + 1):base * (k + 2)] == trainer.bank.mask_full[:base]).all())
    assert trainer.regions.shape[0] == trainer.n_views  # the tables were rebuilt for the new views


def test_an_edit_changes_the_character_and_leaves_the_background(edited, surprised_reference):
    trainer, comp = edited
    image, mask = surprised_reference
    from PIL import ImageFilter

    ref = np.asarray(image.convert("RGB"), dtype=np.float32)
    inside = np.asarray(mask, dtype=np.float32) > 127
    far = np.asarray(mask.filter(ImageFilter.MaxFilter(9)), dtype=np.float32) == 0  # well outside the subject
    for edit in comp.images:
        px = np.asarray(edit.convert("RGB"), dtype=np.float32)
        assert edit.size == image.size and edit.mode == "RGBA"
        assert np.abs(px - ref)[far].max() == 0  # the background is the reference's own pixels
        assert np.abs(px - ref)[inside].mean() > 3.0  # the redraw changed the character


def test_an_edit_whose_colour_drifts_is_dropped(edited, surprised_reference):
    # On the red diamond the redraws drift towards orange; at the default check those edits stay out.
    unchecked_trainer, unchecked = edited
    trainer = _trainer(surprised_reference, edited_views=True)
    try:
        comp = _component(trainer)
        limit = trainer.cfg.edited_views_max_shift
        record = comp.record(trainer)
        assert limit == 10.0 and record["max_shift"] == limit
        assert all(record["colour_shift"][k] <= limit for k in record["kept"])
        moved = [k for k, why in record["dropped"].items() if why.startswith("colour moved")]
        assert moved and all(record["colour_shift"][k] > limit for k in moved), record
        assert set(moved) <= set(unchecked.kept)  # without the check they joined
        assert trainer.n_views == 4 * (1 + len(record["kept"])) < unchecked_trainer.n_views
    finally:
        trainer.abort()


def test_an_edit_the_captioner_does_not_read_as_asked_is_dropped(surprised_reference, monkeypatch):
    # Edits that are the unedited reference read back "surprised": none may join the views.
    from seal_engine.personalize import edited_views

    monkeypatch.setattr(edited_views.EditedViews, "_edited_latents",
                        lambda self, t, source, targets: [t._scale(t.bank.mean[:1])] * len(targets))
    events = []
    trainer = _trainer(surprised_reference, events, edited_views=True)
    try:
        record = _component(trainer).record(trainer)
        assert record["active"] and record["kept"] == [] and record["views_added"] == 0
        assert set(record["dropped"].values()) == {"read as surprised"} and len(record["dropped"]) == 3
        assert trainer.n_views == 4
        assert any("none of the 3 edits passed the checks" in (e.message or "") for e in events)
    finally:
        trainer.abort()


def test_without_a_caption_naming_the_emotion_it_is_reported_off(surprised_reference):
    events = []
    trainer = _trainer(surprised_reference, events, edited_views=True, auto_caption=False)
    try:
        record = _component(trainer).record(trainer)
        assert record == {"active": False, "why_not": "the caption names none of emotion"}
        assert any("Edited views are off" in (e.message or "") for e in events)
        assert trainer.n_views == 4
    finally:
        trainer.abort()


@pytest.mark.parametrize("bad", [dict(edited_views_strength=0.0), dict(edited_views_strength=1.5),
                                 dict(edited_views_steps=0), dict(edited_views_guidance=0.5),
                                 dict(edited_views_rescale=2.0), dict(edited_views_max_shift=-1.0),
                                 dict(edited_views_attributes=("",)), dict(edited_views_strength="half")])
def test_bad_edited_view_settings_are_refused_in_one_sentence(bad):
    from seal_engine.errors import InputError
    from seal_engine.personalize import PersonalizeConfig

    with pytest.raises(InputError) as err:
        PersonalizeConfig(**bad).validate()
    assert str(err.value).count(".") <= 2 and "\n" not in str(err.value)


@pytest.mark.slow
def test_edited_views_stop_the_copied_face_on_a_reference_that_copies_it(tmp_path):
    # Seed 7's worst `paper` reference: SEAL draws its sad face in half the stickers that ask for
    # another emotion (the archived draw: 0.50). With the edited views, on by default there, it is rare.
    from seal_engine.toyworld.bench import ToyBenchConfig, draw_references, ref_id, run_cell
    from seal_engine.toyworld.detectors import Detector

    refs = draw_references(ToyBenchConfig(out_dir=tmp_path, seed=7))
    index = next(i for i, r in enumerate(refs) if ref_id(r) == "square-red-none-sad-wave-full-centre-flat-cyan")
    detector = Detector()

    def copied(**overrides):
        cfg = ToyBenchConfig(out_dir=tmp_path, seed=7, personalize_overrides=overrides)
        cell = run_cell(cfg, "seal", "paper", refs[index], index, detector, tmp_path)
        rows = cell["rows"]
        return sum(r["emotion_copy"] for r in rows) / len(rows), sum(r["identity"] for r in rows) / len(rows), cell

    before, ident_before, _ = copied(edited_views=False)
    after, ident_after, cell = copied()  # the defaults: on, on `paper`
    assert any("Edited views:" in n and "joined the views" in n for n in cell["notes"]), cell["notes"]
    assert before >= 0.3 and after <= before / 3, (before, after)
    assert ident_after >= ident_before - 0.1, (ident_before, ident_after)


def test_at_most_max_edits_are_made_spread_over_the_vocabulary():
    # Unit vectors at known angles: the caption at 0 degrees; the first pick is the farthest (180),
    # the next the farthest from both (90), not the near-duplicate of the first (170).
    import math

    import torch

    from seal_engine.personalize.edited_views import spread_edits

    angles = {"caption": 0, "a": 10, "b": 90, "c": 180, "d": 170}

    class Pair:
        vocabulary = None

        def text_embeds(self, prompts):
            out = []
            for p in prompts:
                name = next((k for k in ("a", "b", "c", "d") if f"emotion={k}" in p), "caption")
                out.append([math.cos(math.radians(angles[name])), math.sin(math.radians(angles[name]))])
            return torch.tensor(out)

    class Vocab:
        @staticmethod
        def defaults():
            return {"emotion": "x", "style": "flat"}

        @staticmethod
        def prompt(values):
            return f"emotion={values['emotion']}"

    Pair.vocabulary = Vocab()
    edits = [("emotion", v, "x", v) for v in ("a", "b", "c", "d")]
    assert spread_edits(Pair(), {"emotion": "x"}, edits, 2) == [edits[1], edits[2]]
    assert spread_edits(Pair(), {"emotion": "x"}, edits, 1) == [edits[2]]


def test_the_real_model_path_caps_the_presets_many_emotions(tmp_path, tiny_sd15_dir):
    # SD1.5's path with a tiny random CLIP pair and the presets' vocabulary (46 emotions): three edits
    # are redrawn and checked, whatever the untrained captioner then reads.
    from personalize_helpers import load, reference_image, short_config

    from seal_engine.evaluation.clip_models import save_tiny_clip
    from seal_engine.personalize import personalize

    model = load(tiny_sd15_dir)
    tower = save_tiny_clip(tmp_path / "clip", text_encoder=model.pipe.text_encoder)
    ref = reference_image()
    cfg = short_config(schedule="paper", image_tower=str(tower), caption="happy, waving, on a white background")
    concept = personalize(model, ref, ref.getchannel("A"), cfg, tmp_path / "c")
    record = concept.meta["component_records"]["edited_views"]
    assert record["active"] and record["max_edits"] == 3
    assert len(record["kept"]) + len(record["dropped"]) == 3, record
    assert all(k.startswith("happy -> ") for k in [*record["kept"], *record["dropped"]])
    assert concept.meta["augmentation"]["views"] == 4 * (1 + len(record["kept"]))


def test_an_fp16_vae_that_asks_for_it_runs_in_fp32_and_goes_back():
    # SDXL's fp16 VAE decodes to NaN unless upcast; the edits' decode and the bank's encode share this.
    import torch

    from seal_engine.personalize.bank import vae_precision

    class Vae(torch.nn.Linear):
        def __init__(self, upcast):
            super().__init__(2, 2)
            self.half()
            self.config = type("C", (), {"force_upcast": upcast})()

        @property
        def dtype(self):
            return next(self.parameters()).dtype

    for upcast, inside in ((True, torch.float32), (False, torch.float16)):
        vae = Vae(upcast)
        with vae_precision(vae) as dtype:
            assert dtype == inside and vae.dtype == inside
        assert vae.dtype == torch.float16
