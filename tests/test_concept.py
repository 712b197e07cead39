"""Concept folders: reload reproduces the in-memory result, and plain diffusers can load them."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from personalize_helpers import load, reference_image, short_config, single_torch_thread  # noqa: F401
from seal_engine.concept import apply_concept, load_concept
from seal_engine.errors import InputError
from seal_engine.generation import GenerationSettings, generate


def _pixels(model, prompt):
    images = generate(model, GenerationSettings(prompt=prompt, seeds=[3], steps=3))
    return np.asarray(images[0].image, dtype=np.int16)


@pytest.fixture(scope="module")
def sd15_concept(tmp_path_factory, tiny_sd15_dir):
    """One ti+lora concept, plus the in-memory model's image for a fixed prompt and seed."""
    from seal_engine.personalize import personalize

    torch.set_num_threads(1)
    model = load(tiny_sd15_dir)
    ref = reference_image()
    concept = personalize(model, ref, ref.getchannel("A"), short_config(lora_lr=1e-2, embedding_lr=1e-2),
                          tmp_path_factory.mktemp("concepts") / "blob")
    prompt = f"a sticker of {concept.identity_string}, happy"
    return concept, prompt, _pixels(model, prompt)


def test_folder_contents_and_record(sd15_concept):
    concept, _, _ = sd15_concept
    names = sorted(p.name for p in concept.path.iterdir())
    assert names == ["concept.json", "context_embeds.safetensors", "learned_embeds.safetensors", "mask.png",
                     "pytorch_lora_weights.safetensors", "reference.png"]
    meta = json.loads((concept.path / "concept.json").read_text())
    assert meta["format_version"] == 1 and meta["base_model"]["architecture"] == "sd1"
    assert meta["tokens"]["identity"]["strings"] == ["<seal-id>", "<seal-id>_1"]
    assert meta["class_word"] == "cat" and meta["class_word_source"] == "user"
    assert meta["steps"] == {"embeddings": 4, "lora": 4, "total": 8} and meta["seed"] == 0
    assert meta["settings"]["base"] == "ti+lora" and meta["settings"]["attention_loss"] is True
    assert meta["attention"]["layers"] and meta["timings"]["embeddings_s"] > 0
    assert not [p for p in concept.path.parent.iterdir() if p.name.startswith(".")]  # no staging left


def test_reloaded_concept_reproduces_the_in_memory_result(sd15_concept, tiny_sd15_dir):
    concept, prompt, expected = sd15_concept
    fresh = load(tiny_sd15_dir)
    identity = apply_concept(fresh, load_concept(concept.path))
    assert identity == concept.identity_string
    got = _pixels(fresh, prompt)
    assert np.abs(got - expected).max() <= 1
    assert apply_concept(fresh, load_concept(concept.path)) == identity  # second apply is a no-op
    # and the concept changes the output (the test can fail)
    assert np.abs(_pixels(load(tiny_sd15_dir), "a sticker of cat, happy") - expected).max() > 5


def test_plain_diffusers_pipeline_loads_the_concept(sd15_concept, tiny_sd15_dir):
    from diffusers import StableDiffusionPipeline

    concept, prompt, expected = sd15_concept
    pipe = StableDiffusionPipeline.from_pretrained(str(tiny_sd15_dir), safety_checker=None,
                                                   requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    pipe.load_textual_inversion(str(concept.path / "learned_embeds.safetensors"), token="<seal-id>")
    pipe.load_lora_weights(str(concept.path), weight_name="pytorch_lora_weights.safetensors")
    out = pipe(prompt, num_inference_steps=3, generator=[torch.Generator("cpu").manual_seed(3)])
    assert np.abs(np.asarray(out.images[0], dtype=np.int16) - expected).max() <= 1


def test_sdxl_concept_two_encoders_reload_and_plain_diffusers(tmp_path, tiny_sdxl_dir):
    from diffusers import StableDiffusionXLPipeline
    from safetensors.torch import load_file

    from seal_engine.personalize import personalize

    model = load(tiny_sdxl_dir)
    before = [model.pipe.text_encoder.get_input_embeddings().weight.detach().clone(),
              model.pipe.text_encoder_2.get_input_embeddings().weight.detach().clone()]
    ref = reference_image()
    concept = personalize(model, ref, ref.getchannel("A"), short_config(lora_lr=1e-2, embedding_lr=1e-2),
                          tmp_path / "xl")
    embeds = load_file(str(concept.path / "learned_embeds.safetensors"))
    assert set(embeds) == {"clip_l", "clip_g"} and embeds["clip_l"].shape[0] == 2
    assert concept.meta["lora"]["preset"] == "blora"
    # only the new rows changed, on both encoders
    for enc, old in zip((model.pipe.text_encoder, model.pipe.text_encoder_2), before):
        w = enc.get_input_embeddings().weight
        assert torch.equal(w[: old.shape[0]], old) and w.shape[0] == old.shape[0] + 3
    prompt = f"a sticker of {concept.identity_string}"
    expected = _pixels(model, prompt)
    fresh = load(tiny_sdxl_dir)
    apply_concept(fresh, load_concept(concept.path))
    assert np.abs(_pixels(fresh, prompt) - expected).max() <= 1
    pipe = StableDiffusionXLPipeline.from_pretrained(str(tiny_sdxl_dir))
    pipe.set_progress_bar_config(disable=True)
    pipe.load_textual_inversion(embeds["clip_l"], token="<seal-id>", text_encoder=pipe.text_encoder,
                                tokenizer=pipe.tokenizer)
    pipe.load_textual_inversion(embeds["clip_g"], token="<seal-id>", text_encoder=pipe.text_encoder_2,
                                tokenizer=pipe.tokenizer_2)
    pipe.load_lora_weights(str(concept.path), weight_name="pytorch_lora_weights.safetensors")
    out = pipe(prompt, num_inference_steps=3, guidance_scale=7.5, generator=[torch.Generator("cpu").manual_seed(3)])
    assert np.abs(np.asarray(out.images[0], dtype=np.int16) - expected).max() <= 1


def test_bad_concept_folders_are_refused_in_one_sentence(tmp_path, sd15_concept, tiny_sdxl_dir):
    with pytest.raises(InputError, match="does not exist"):
        load_concept(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="concept.json is missing"):
        load_concept(tmp_path / "empty")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "concept.json").write_text("{nope")
    with pytest.raises(InputError, match="not valid JSON"):
        load_concept(broken)
    with pytest.raises(InputError, match="SD1 model and cannot be used with an SDXL"):
        apply_concept(load(tiny_sdxl_dir), load_concept(sd15_concept[0].path))
