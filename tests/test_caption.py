"""Zero-shot caption of a reference: the toy tower on held-out characters, the vocabularies, edited captions."""

from __future__ import annotations

import random

import pytest

pytest.importorskip("torch")

from seal_engine.caption import (Caption, CaptionVocabulary, caption_from_text, caption_images,  # noqa: E402
                                 caption_reference, preset_vocabulary)
from seal_engine.clip_pair import find_clip_pair  # noqa: E402
from seal_engine.errors import InputError  # noqa: E402
from seal_engine.toyworld.attributes import HELD_OUT_APPEARANCES, Sticker, identity_phrase, prompt_for  # noqa: E402
from seal_engine.toyworld.model import default_pipeline_dir  # noqa: E402
from seal_engine.toyworld.render import render_pil  # noqa: E402

CONTEXT = ("emotion", "action", "scale", "position", "style", "background")


@pytest.fixture(scope="module")
def toy_pair():
    pair, reason = find_clip_pair(default_pipeline_dir(), "sd1")
    assert pair is not None, reason
    return pair


def _references() -> list[Sticker]:
    """One reference per held-out character, context drawn at random (fixed seed)."""
    from seal_engine.toyworld.attributes import FACTORS

    rng = random.Random(7)
    out = []
    for shape, colour, accessory in HELD_OUT_APPEARANCES:
        ctx = {f: rng.choice(FACTORS[f]) for f in CONTEXT}
        out.append(Sticker(shape=shape, colour=colour, accessory=accessory, **ctx))
    return out


def test_toy_caption_reads_the_context_of_held_out_characters(toy_pair):
    refs = _references()
    images = [render_pil(s, random.Random(i)) for i, s in enumerate(refs)]
    captions = caption_images(toy_pair, images)
    hits = [c.values[f] == getattr(s, f) for c, s in zip(captions, refs) for f in CONTEXT]
    assert sum(hits) / len(hits) >= 0.8, [c.values for c in captions]
    for c, s in zip(captions, refs):
        assert set(c.values) == set(CONTEXT) and all(v >= 0 for v in c.scores.values())
        # the template is the world's own prompt form, identity left to the tokens
        filled = c.template.format(subject=identity_phrase(s), background=c.background_words)
        if all(c.values[f] == getattr(s, f) for f in CONTEXT):
            assert filled == prompt_for(s)
        assert filled.startswith(f"a {identity_phrase(s)}, ") and filled.endswith(f"on a {c.values['background']} background")
    single = caption_reference(toy_pair, images[0].convert("RGBA"))
    assert single.values == captions[0].values


def test_caption_feeds_personalize_config(toy_pair):
    from seal_engine.personalize.config import PersonalizeConfig

    c = caption_reference(toy_pair, render_pil(_references()[0]))
    cfg = PersonalizeConfig(prompt_template=c.template, background_words=c.background_words)
    cfg.validate()
    assert "{subject}" in c.template and "{background}" in c.template


def test_edited_caption_round_trips_and_keeps_the_users_words(toy_pair):
    vocab = toy_pair.vocabulary
    c = caption_reference(toy_pair, render_pil(_references()[1]))
    back = caption_from_text(c.text(), vocab)
    assert (back.template, back.background_words, back.values) == (c.template, c.background_words, c.values)
    edited = caption_from_text("sad, waving, closeup, on the left, shaded style, on a lime background", vocab)
    assert edited.values == {"emotion": "sad", "action": "wave", "scale": "closeup", "position": "left",
                             "style": "shaded", "background": "lime"}
    assert edited.template == "a {subject}, sad, waving, closeup, on the left, shaded style, on a {background} background"
    assert edited.background_words == "lime" and edited.scores == {}
    free = caption_from_text("grinning {wildly}", vocab)
    assert free.background_words == "" and "{background}" not in free.template
    free.template.format(subject="x")  # user braces cannot break the template
    with pytest.raises(InputError):
        caption_from_text("  , ", vocab)


def test_preset_vocabulary_uses_the_presets_words_and_prompt_form():
    from seal_engine.attributes import StickerSpec, compose_prompt

    vocab = preset_vocabulary()
    assert vocab.search == "coordinate" and vocab.combinations > 4096
    assert "upper body" in vocab.attributes["camera"] and "sleepy" in vocab.attributes["emotion"]
    assert list(vocab.attributes["background"])[0] == "white"
    values = {"emotion": "sleepy", "action": "yawning", "camera": "upper body",
              "style": "cute cartoon sticker, bold outline, flat colours", "background": "white"}
    spec = StickerSpec(label="x", attributes={**values, "background": "plain white background"})
    assert vocab.prompt(values, subject="<char> character") == compose_prompt(spec, identity="<char>")
    assert vocab.template(values).endswith(", plain {background} background")
    parsed = caption_from_text(vocab.compose_context(values), vocab)
    assert parsed.values == values and parsed.background_words == "white"


def test_vocabulary_json_round_trip(tmp_path, toy_pair):
    import json

    path = tmp_path / "v.json"
    path.write_text(json.dumps(toy_pair.vocabulary.to_dict()))
    again = CaptionVocabulary.load(path)
    assert again.attributes == toy_pair.vocabulary.attributes and again.combinations == 864
    with pytest.raises(InputError):
        CaptionVocabulary.from_dict({"prefix": "no subject", "context": "", "attributes": {}})


def test_real_path_caption_with_a_tiny_random_clip(tiny_clip_dir):
    """Coordinate ascent on the preset vocabulary runs end to end (a random CLIP: values are arbitrary)."""
    from PIL import Image

    pair, _ = find_clip_pair(None, "sd1", explicit=tiny_clip_dir)
    c = caption_reference(pair, Image.new("RGBA", (40, 40), (200, 10, 10, 255)))
    assert isinstance(c, Caption) and set(c.values) == set(preset_vocabulary().attributes)
    assert c.template.startswith("a sticker of {subject}, ") and c.background_words in preset_vocabulary().attributes["background"]
