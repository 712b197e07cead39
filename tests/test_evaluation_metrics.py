"""The four evaluation metrics on constructed cases whose answer is known."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from seal_engine.evaluation import attributes_accuracy as aa
from seal_engine.evaluation.identity import identity_scores
from seal_engine.evaluation.leakage import THRESHOLD as LEAK_T, asks_other_background, leakage, soft_histogram
from seal_engine.evaluation.regions import subject_crop
from seal_engine.evaluation.rigidity import THRESHOLD as RIGID_T, asks_other_pose, mask_iou, rigidity

DATA = Path(__file__).parent / "data" / "eval_dataset"


@pytest.fixture(scope="module")
def seal_ref() -> tuple[Image.Image, Image.Image]:
    image = Image.open(DATA / "references" / "seal.png").convert("RGBA").resize((128, 128), Image.BILINEAR)
    mask = Image.open(DATA / "masks" / "seal.png").convert("L").resize((128, 128), Image.NEAREST)
    return image, mask


@pytest.fixture(scope="module")
def dog_ref() -> tuple[Image.Image, Image.Image]:
    image = Image.open(DATA / "references" / "guide-dog.jpg").convert("RGBA").resize((128, 128), Image.BILINEAR)
    mask = Image.open(DATA / "masks" / "guide-dog.png").convert("L").resize((128, 128), Image.NEAREST)
    return image, mask


@pytest.fixture(scope="module")
def clip(tiny_clip_dir):
    from seal_engine.evaluation.clip_models import load_clip

    return load_clip(tiny_clip_dir, device="cpu")


def composite(subject_from: Image.Image, mask: Image.Image, background: Image.Image) -> Image.Image:
    out = background.convert("RGB").copy()
    out.paste(subject_from.convert("RGB"), (0, 0), mask)
    return out


def flat(colour, size=(128, 128)) -> Image.Image:
    return Image.new("RGB", size, colour)


def shifted(mask: Image.Image, dx: int) -> Image.Image:
    out = Image.new("L", mask.size, 0)
    out.paste(mask, (dx, 0))
    return out


# identity ------------------------------------------------------------------------------------------------

def test_identity_of_the_reference_itself_is_one(clip, seal_ref):
    image, mask = seal_ref
    assert identity_scores(clip, image, mask, [image], [mask])[0] == pytest.approx(1.0, abs=1e-5)


def test_identity_ignores_the_background(clip, seal_ref):
    """Subject regions only: the same subject on another background is still identity 1.0."""
    image, mask = seal_ref
    elsewhere = composite(image, mask, flat((20, 200, 90)))
    assert identity_scores(clip, image, mask, [elsewhere], [mask])[0] == pytest.approx(1.0, abs=1e-5)


def test_identity_drops_for_another_character(clip, seal_ref, dog_ref):
    image, mask = seal_ref
    dog, dog_mask = dog_ref
    same, other = identity_scores(clip, image, mask, [image, dog], [mask, dog_mask])
    assert other < same - 1e-3


def test_subject_crop_is_square_and_centred_on_the_subject(seal_ref):
    image, mask = seal_ref
    crop = subject_crop(image, mask)
    assert crop.size[0] == crop.size[1]
    assert crop.size[0] < image.size[0]  # cropped to the subject's box
    empty = subject_crop(image, Image.new("L", image.size, 0))
    assert empty.size == image.size  # nothing detected: the whole image is scored


def test_identity_computes_masks_when_none_are_given(clip, seal_ref):
    image, mask = seal_ref
    score = identity_scores(clip, image, mask, [image.convert("RGB")])[0]
    assert -1.0 <= score <= 1.0


# attribute accuracy --------------------------------------------------------------------------------------

class ColourClip:
    """A stand-in CLIP with known embeddings: images embed as their mean colour, texts as the colour they name."""

    COLOURS = {"red": (1.0, 0.0, 0.0), "green": (0.0, 1.0, 0.0), "blue": (0.0, 0.0, 1.0)}

    def image_embeddings(self, images):
        arr = np.stack([np.asarray(im.convert("RGB"), dtype=np.float32).mean(axis=(0, 1)) for im in images])
        return arr / np.linalg.norm(arr, axis=1, keepdims=True)

    def text_embeddings(self, texts):
        rows = []
        for t in texts:
            rows.append(next(v for k, v in self.COLOURS.items() if k in t))
        arr = np.asarray(rows, dtype=np.float32)
        return arr / np.linalg.norm(arr, axis=1, keepdims=True)


def test_attribute_accuracy_known_answer():
    clip = ColourClip()
    images = [flat((230, 10, 10)), flat((10, 10, 230)), flat((10, 230, 10))]
    requested = [{"background": "red background", "style": "red style"},
                 {"background": "blue background"},
                 {"background": "red background"}]  # a green image prompted red: wrong
    labels = aa.label_sets(requested, {"background": ["green background"], "style": ["blue style"]})
    assert labels["background"] == ["blue background", "green background", "red background"]
    preds = aa.classify(clip, images, requested, labels)
    assert [[p.correct for p in row] for row in preds] == [[True, True], [True], [False]]
    assert preds[2][0].predicted == "green background"
    summary = aa.summarize(preds, labels)
    assert summary.per_attribute == {"background": pytest.approx(2 / 3), "style": 1.0}
    assert summary.mean == pytest.approx((2 / 3 + 1.0) / 2)
    assert summary.chance["background"] == pytest.approx(1 / 3)
    assert "emotion" in summary.skipped


def test_attribute_with_a_single_label_is_not_scored():
    labels = aa.label_sets([{"emotion": "happy"}, {"emotion": "happy"}])
    preds = aa.classify(ColourClip(), [flat((200, 0, 0))] * 2, [{"emotion": "happy"}] * 2, labels)
    assert preds == [[], []]
    assert aa.summarize(preds, labels).mean is None


def test_attribute_classification_runs_on_a_real_clip(clip, seal_ref):
    image, _ = seal_ref
    requested = [{"emotion": "happy", "camera": "close-up"}, {"emotion": "sad", "camera": "full body"}]
    labels = aa.label_sets(requested)
    preds = aa.classify(clip, [image, image], requested, labels)
    for row in preds:
        assert {p.attribute for p in row} == {"emotion", "camera"}
        for p in row:
            assert p.predicted in labels[p.attribute]


# background leakage --------------------------------------------------------------------------------------

def test_background_pasted_from_the_reference_is_leakage(seal_ref, dog_ref):
    ref, ref_mask = seal_ref
    dog, dog_mask = dog_ref
    # another subject with another silhouette, on the reference's own background
    sample = composite(dog, dog_mask, ref)
    result = leakage(ref, ref_mask, sample, dog_mask)
    assert result.leaked is True and result.similarity >= LEAK_T
    assert leakage(ref, ref_mask, ref, ref_mask).similarity == pytest.approx(1.0, abs=1e-6)


def test_a_new_background_is_not_leakage(seal_ref):
    ref, ref_mask = seal_ref
    for colour in ((40, 90, 220), (250, 250, 250), (30, 160, 60)):
        sample = composite(ref, ref_mask, flat(colour))
        result = leakage(ref, ref_mask, sample, ref_mask)
        assert result.leaked is False and result.similarity < LEAK_T


def test_busy_reference_background_pasted_is_leakage(dog_ref, seal_ref):
    dog, dog_mask = dog_ref
    seal, seal_mask = seal_ref
    assert leakage(dog, dog_mask, composite(seal, seal_mask, dog), seal_mask).leaked is True
    assert leakage(dog, dog_mask, composite(seal, seal_mask, flat((240, 240, 240))), seal_mask).leaked is False


def test_no_background_to_judge_is_not_scored(seal_ref):
    ref, ref_mask = seal_ref
    full = Image.new("L", ref.size, 255)
    result = leakage(ref, ref_mask, ref, full)
    assert result.leaked is None and result.similarity is None


def test_soft_histogram_tolerates_a_small_colour_drift():
    a = np.full((100, 3), 100, np.uint8)
    b = np.full((100, 3), 106, np.uint8)
    c = np.full((100, 3), 200, np.uint8)
    ha, hb, hc = soft_histogram(a), soft_histogram(b), soft_histogram(c)
    assert ha.sum() == pytest.approx(1.0)
    assert np.minimum(ha, hb).sum() > 0.5 > np.minimum(ha, hc).sum()


def test_which_samples_leakage_scores():
    assert asks_other_background("beach background", "red background")
    assert not asks_other_background("Red  Background", "red background")
    assert not asks_other_background("red", "red background")  # the word "background" is not the difference
    assert not asks_other_background("", "red background")
    assert asks_other_background("beach", None)


# structural rigidity -------------------------------------------------------------------------------------

def test_copied_layout_is_rigid(seal_ref):
    _, mask = seal_ref
    result = rigidity(mask, mask.copy())
    assert result.rigid is True and result.iou == pytest.approx(1.0)
    assert rigidity(mask, shifted(mask, 2)).rigid is True  # redrawn in place, a pixel or two off


def test_a_different_layout_is_not_rigid(seal_ref, dog_ref):
    _, mask = seal_ref
    _, dog_mask = dog_ref
    far = shifted(mask.resize((64, 64), Image.NEAREST).crop((0, 0, 128, 128)), 60)
    assert rigidity(mask, far).rigid is False
    small = Image.new("L", mask.size, 0)
    small.paste(mask.resize((48, 48), Image.NEAREST), (70, 70))
    result = rigidity(mask, small)
    assert result.rigid is False and result.iou < RIGID_T
    assert rigidity(mask, Image.new("L", mask.size, 0)).iou == 0.0


def test_mask_iou_known_value():
    a = Image.new("L", (64, 64), 0)
    ImageDraw.Draw(a).rectangle((0, 0, 31, 63), fill=255)  # left half
    b = Image.new("L", (64, 64), 0)
    ImageDraw.Draw(b).rectangle((16, 0, 47, 63), fill=255)  # middle half
    assert mask_iou(a, b) == pytest.approx(1 / 3)


def test_which_samples_rigidity_scores():
    ref = {"action": "sitting", "camera": "full body"}
    assert asks_other_pose({"action": "jumping"}, ref)
    assert asks_other_pose({"camera": "close-up", "action": "sitting"}, ref)
    assert not asks_other_pose({"action": "Sitting", "emotion": "sad"}, ref)
    assert not asks_other_pose({"background": "beach"}, ref)
    assert asks_other_pose({"action": "waving"}, {})


# CLIP sources --------------------------------------------------------------------------------------------

def test_clip_sources_fail_with_one_sentence(tmp_path):
    from seal_engine.errors import ModelError, OfflineError
    from seal_engine.evaluation.clip_models import load_clip

    with pytest.raises(OfflineError, match="not in the model cache"):
        load_clip("someone/not-cached-clip", offline=True)
    with pytest.raises(ModelError, match="not found"):
        load_clip(str(tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match="no config.json"):
        load_clip(tmp_path / "empty")
