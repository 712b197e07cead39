"""Subject masks: IoU floors per background kind, auto choice, SAM prompting, clean-up."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from seal_engine.errors import InputError
from seal_engine.masks import compute_mask, morphology as mm, postprocess
from seal_engine.masks.alpha import alpha_is_meaningful
from seal_engine.masks.sam import Candidate, is_plausible, make_prompts, model_type_for, select_best

DATA = Path(__file__).parent / "data" / "stickers"
INDEX = json.loads((DATA / "index.json").read_text())

# measured on this subset: white .968, solid .970, gradient .964, scene .910 (fallback)
FLOORS = {"white": 0.94, "solid": 0.94, "gradient": 0.93, "scene": 0.80, "transparent": 0.94}


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max(1, (a | b).sum()))


def _load(entry):
    im = Image.open(DATA / entry["image"]).convert("RGBA")
    gt = np.asarray(Image.open(DATA / entry["mask"])) >= 128
    return im, gt


@pytest.fixture(scope="module")
def fallback_scores():
    scores: dict[str, list[float]] = {}
    for e in INDEX:
        im, gt = _load(e)
        res = compute_mask(im, "fallback")
        assert res.method == "fallback" and res.mask.mode == "L" and res.mask.size == im.size
        scores.setdefault(e["background"], []).append(iou(np.asarray(res.mask) >= 128, gt))
    return scores


@pytest.mark.parametrize("kind", sorted(FLOORS))
def test_fallback_iou_floor_per_background(fallback_scores, kind):
    assert np.mean(fallback_scores[kind]) >= FLOORS[kind], fallback_scores[kind]


def test_auto_uses_alpha_on_transparent_and_fallback_on_opaque():
    for e in INDEX:
        im, gt = _load(e)
        if e["background"] == "transparent":
            res = compute_mask(im)
            assert res.method == "alpha" and iou(np.asarray(res.mask) >= 128, gt) > 0.99
        elif e["background"] == "white":
            res = compute_mask(im)
            assert res.method == "fallback" and "auto" in res.note


def test_alpha_meaningful_rules():
    assert not alpha_is_meaningful(Image.new("RGBA", (64, 64), (1, 2, 3, 255)))
    assert not alpha_is_meaningful(Image.new("RGBA", (64, 64), (1, 2, 3, 0)))
    assert not alpha_is_meaningful(Image.new("RGB", (64, 64)))
    im = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    ImageDraw.Draw(im).ellipse((10, 10, 50, 50), fill=(255, 0, 0, 255))
    assert alpha_is_meaningful(im)
    with pytest.raises(InputError, match="transparency"):
        compute_mask(Image.new("RGBA", (64, 64), "white"), "alpha")


def test_bad_method_and_sam_without_checkpoint(monkeypatch):
    monkeypatch.delenv("SEAL_SAM_CHECKPOINT", raising=False)
    im = Image.new("RGBA", (64, 64), "white")
    with pytest.raises(InputError, match="Unknown mask method"):
        compute_mask(im, "magic")
    with pytest.raises(InputError, match="checkpoint"):
        compute_mask(im, "sam")


def test_dilate_grows_mask():
    im, _ = _load(INDEX[1])
    a = np.asarray(compute_mask(im, "fallback").mask) >= 128
    b = np.asarray(compute_mask(im, "fallback", dilate_px=4).mask) >= 128
    assert (a <= b).all() and b.sum() > a.sum()


def test_postprocess_keeps_subject_fills_holes_drops_specks():
    m = np.zeros((100, 100), bool)
    m[20:80, 20:80] = True
    m[40:60, 40:60] = False  # hole
    m[2:4, 95:97] = True  # speck
    out = np.asarray(postprocess(Image.fromarray(m.astype(np.uint8) * 255))) >= 128
    assert out[50, 50] and not out[3, 96] and out[20:80, 20:80].all() and out.sum() == 3600
    grown = np.asarray(postprocess(Image.fromarray(m.astype(np.uint8) * 255), dilate_px=3)) >= 128
    assert grown[18, 50] and not grown[15, 50]


def test_morphology_matches_bruteforce():
    rng = np.random.default_rng(0)
    for _ in range(5):
        m = rng.random((30, 40)) < 0.55
        labels, n = mm.label(m)
        # brute force: flood each seed pixel
        seen = np.zeros_like(m)
        count = 0
        for y, x in zip(*np.nonzero(m)):
            if not seen[y, x]:
                count += 1
                seed = np.zeros_like(m)
                seed[y, x] = True
                comp = mm.reconstruct(seed, m)
                assert len(np.unique(labels[comp])) == 1
                seen |= comp
        assert count == n
        d = mm.distance_outside(m, 5)
        yy, xx = np.mgrid[:30, :40]
        ys, xs = np.nonzero(m)
        ref = np.sqrt(((yy[..., None] - ys) ** 2 + (xx[..., None] - xs) ** 2).min(-1))
        assert np.allclose(np.minimum(d, 6), np.minimum(ref, 6), atol=1e-4)


# --- segment-anything: the prompting and selection logic, with a fake predictor ---------------


class FakePredictor:
    """Stands in for SamPredictor: answers each prompt with three masks and scores."""

    def __init__(self, truth: np.ndarray):
        self.truth = truth
        self.calls: list[dict] = []
        self.image_shape = None

    def set_image(self, image):
        self.image_shape = image.shape

    def predict(self, *, point_coords, point_labels, box, multimask_output):
        self.calls.append(dict(points=point_coords, labels=point_labels, box=box))
        h, w = self.truth.shape
        everything = np.ones((h, w), bool)  # high score but implausible (whole frame)
        small = np.zeros((h, w), bool)
        small[h // 2, w // 2] = True  # speck
        return np.stack([everything, self.truth, small]), np.array([0.99, 0.9, 0.95]), None


def test_sam_prompts_come_from_the_hint():
    hint = np.zeros((100, 200), bool)
    hint[30:70, 50:150] = True
    prompts = make_prompts(hint)
    assert {p.name for p in prompts} == {"box", "point", "box+point"}
    box = prompts[0].box
    assert box[0] < 50 and box[2] > 149 and box[1] < 30 and box[3] > 69
    x, y = prompts[0].points[0]
    assert hint[int(y), int(x)] and abs(y - 50) <= 2  # the deepest point sits in the middle
    empty = make_prompts(np.zeros((100, 100), bool))
    assert empty[0].points[0].tolist() == [50, 50]


def test_sam_selection_prefers_plausible_high_score():
    truth = np.zeros((64, 64), bool)
    truth[10:50, 12:40] = True
    full = np.ones_like(truth)
    assert not is_plausible(full) and is_plausible(truth)
    best = select_best([Candidate(full, 0.99, "a"), Candidate(truth, 0.8, "b"), Candidate(truth, 0.7, "c")])
    assert best.prompt == "b"
    assert select_best([Candidate(full, 0.5, "only")]).prompt == "only"


def test_compute_mask_with_fake_sam():
    e = next(e for e in INDEX if e["background"] == "scene")
    im, gt = _load(e)
    fake = FakePredictor(gt)
    res = compute_mask(im, "auto", sam_predictor=fake)
    assert res.method == "sam" and "score 0.90" in res.note
    assert fake.image_shape == (512, 512, 3) and len(fake.calls) == 3
    assert iou(np.asarray(res.mask) >= 128, gt) > 0.98


def test_sam_model_type_from_name(tmp_path):
    assert model_type_for(Path("sam_vit_b_01ec64.pth")) == "vit_b"
    with pytest.raises(InputError, match="vit_h"):
        model_type_for(Path("model.pth"))


def test_real_segment_anything_is_optional(tmp_path):
    pytest.importorskip("segment_anything")
    from seal_engine.masks.sam import load_predictor

    with pytest.raises(InputError, match="does not exist"):
        load_predictor(tmp_path / "sam_vit_b.pth")
