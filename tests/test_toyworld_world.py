"""Toy world: attributes, held-out set, tokenizer, renderer and the pixel-rule detectors."""

from __future__ import annotations

import random

import numpy as np
import pytest

from seal_engine.toyworld.attributes import (
    APPEARANCE_FACTORS, FACTORS, HELD_OUT_APPEARANCES, SCHEMA, Sticker, all_words, is_held_out, prompt_for,
    random_sticker,
)
from seal_engine.toyworld.detectors import detect_background, detect_position
from seal_engine.toyworld.render import face_box, render, render_batch, render_many


def test_schema_covers_every_factor_once():
    assert sorted(f for fs in SCHEMA.values() for f in fs) == sorted(FACTORS)
    assert set(SCHEMA) == {"appearance", "emotion", "action", "camera", "style", "background"}


def test_sticker_rejects_unknown_values():
    with pytest.raises(ValueError):
        Sticker(colour="chartreuse")


def test_training_sampler_never_yields_a_held_out_appearance():
    rng = random.Random(0)
    seen = {random_sticker(rng).appearance for _ in range(5000)}
    assert not seen & set(HELD_OUT_APPEARANCES)
    # ...while every single value of a held-out appearance is still taught
    for appearance in HELD_OUT_APPEARANCES:
        for i, factor in enumerate(APPEARANCE_FACTORS):
            assert any(a[i] == appearance[i] for a in seen), (factor, appearance)
    assert len(seen) == 4 * 5 * 3 - len(HELD_OUT_APPEARANCES)


def test_held_out_flag_and_explicit_sampling():
    s = random_sticker(random.Random(1), allow_held_out=True, shape="round", colour="purple", accessory="hat")
    assert is_held_out(s)


def test_every_prompt_word_is_one_token(tmp_path):
    from seal_engine.toyworld.vocab import load_tokenizer, save_tokenizer_files

    tok = load_tokenizer(save_tokenizer_files(tmp_path))
    assert tok.model_max_length == 77
    for w in all_words():
        assert len(tok(w, add_special_tokens=False).input_ids) == 1, w
    s = random_sticker(random.Random(3))
    ids = tok(prompt_for(s), add_special_tokens=False).input_ids
    assert tok.unk_token_id not in ids


def test_render_is_deterministic_and_attribute_sensitive():
    s = Sticker()
    a, b = render(s, random.Random(5)), render(s, random.Random(5))
    assert a.shape == (64, 64, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b)
    for factor, values in FACTORS.items():
        other = s.replace(**{factor: values[1] if values[0] == getattr(s, factor) else values[0]})
        assert not np.array_equal(render(other, random.Random(5)), a), factor


def test_parallel_render_matches_serial():
    rng = random.Random(4)
    ss = [random_sticker(rng) for _ in range(2100)]
    assert np.array_equal(render_many(ss, seed=2, workers=2)[-50:], render_batch(ss, seed=2)[-50:])


def test_pixel_rules_read_background_and_position():
    rng = random.Random(11)
    ss = [random_sticker(rng, allow_held_out=True) for _ in range(400)]
    imgs = render_batch(ss, seed=11)
    bgs = detect_background(imgs)
    assert all(b == s.background for b, s in zip(bgs, ss))
    pos = detect_position(imgs, bgs)
    assert np.mean([p == s.position for p, s in zip(pos, ss)]) >= 0.97


def test_the_face_box_holds_every_pixel_the_emotion_changes():
    import itertools

    for k, (scale, position, shape) in enumerate(itertools.product(FACTORS["scale"], FACTORS["position"], FACTORS["shape"])):
        base = dict(shape=shape, colour="blue", accessory="hat", scale=scale, position=position, style="shaded")
        images = [render(Sticker(emotion=e, **base), random.Random(k)) for e in FACTORS["emotion"]]
        changed = np.zeros(images[0].shape[:2], bool)
        for a, b in itertools.combinations(images, 2):
            changed |= np.abs(a.astype(int) - b.astype(int)).max(-1) > 0
        x0, y0, x1, y1 = face_box(Sticker(**base))
        inside = np.zeros_like(changed)
        inside[y0:y1, x0:x1] = True
        assert changed.any() and not (changed & ~inside).any(), (scale, position, shape)
        assert inside.sum() < 0.5 * changed.size  # a box, not the whole picture
