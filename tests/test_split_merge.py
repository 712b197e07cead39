"""SEAL component 2: union sampling, area-normalised masked loss, the context token's map, the merge."""

from __future__ import annotations

import pytest
import torch

from personalize_helpers import load, reference_image, short_config, single_torch_thread  # noqa: F401
from seal_engine.personalize.split_merge import Subset, loss_region, masked_mse, training_prompt
from seal_engine.personalize.tokens import TokenNames


def test_masked_loss_is_normalised_by_area():
    pred, target = torch.zeros(2, 4, 8, 8), torch.ones(2, 4, 8, 8)
    small, large = torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 8, 8)
    small[..., :2, :2] = 1
    large[..., :6, :6] = 1
    per = masked_mse(pred, target, torch.cat([small, large]))
    assert per[0].item() == pytest.approx(1.0) and per[1].item() == pytest.approx(1.0)  # same strength


def test_regions_follow_the_named_tokens():
    mask, valid = torch.zeros(1, 4, 4), torch.ones(1, 4, 4)
    mask[:, :2] = 1
    assert torch.equal(loss_region(Subset.IDENTITY, mask, valid), mask)
    assert torch.equal(loss_region(Subset.CONTEXT, mask, valid), 1 - mask)
    assert torch.equal(loss_region(Subset.BOTH, mask, valid), valid)


def test_union_sampling_and_prompts():
    names = TokenNames.make("<id>", 2, "<bg>")
    assert training_prompt(Subset.BOTH, names, "cat", "far away") == \
        "a sticker of <id> <id>_1 cat on a <bg> background, far away"
    assert "<bg>" not in training_prompt(Subset.IDENTITY, names, "cat")
    assert "<id>" not in training_prompt(Subset.CONTEXT, names, "cat")


def test_prompt_template_captions_the_reference():
    names = TokenNames.make("<id>", 1, "<bg>")
    tpl = "a {subject}, smiling, on a {background} background"
    assert training_prompt(Subset.IDENTITY, names, "cat", "", tpl, "orange") == "a <id> cat, smiling, on a orange background"
    # the context token stands beside the caption's background words: it absorbs what they do not say
    assert training_prompt(Subset.BOTH, names, "cat", "far away", tpl, "orange") == \
        "a <id> cat, smiling, on a orange <bg> background, far away"
    assert training_prompt(Subset.CONTEXT, names, "cat", "", tpl, "orange") == "a orange <bg> background"
    from seal_engine.errors import InputError
    from seal_engine.personalize.config import PersonalizeConfig

    PersonalizeConfig(prompt_template=tpl, background_words="orange").validate()
    for bad in (dict(prompt_template="a cat"), dict(prompt_template=tpl), dict(prompt_template="a {subject} {x}")):
        with pytest.raises(InputError):
            PersonalizeConfig(**bad).validate()


def test_context_token_is_learned_but_not_exported(tmp_path, tiny_sd15_dir):
    """(Its map moving onto the background is shown on the toy world, test_seal_components.py.)"""
    from safetensors.torch import load_file

    from seal_engine.personalize import personalize

    ref = reference_image()
    concept = personalize(load(tiny_sd15_dir), ref, ref.getchannel("A"), short_config(), tmp_path / "c")
    tokens = concept.meta["tokens"]
    assert tokens["identity"]["role"] == "identity" and tokens["context"]["role"] == "context"
    # the merge: only the identity token is in the file generation loads
    assert list(load_file(str(concept.path / "learned_embeds.safetensors"))) == ["<seal-id>"]
    assert list(load_file(str(concept.path / "context_embeds.safetensors"))) == ["<seal-bg>"]
    assert "<seal-bg>" not in concept.identity_string


def test_identity_and_context_are_separate_optimiser_groups_and_the_merge_is_an_option(tmp_path, tiny_sd15_dir):
    from seal_engine.concept import apply_concept, load_concept
    from seal_engine.personalize import personalize

    ref = reference_image()
    model = load(tiny_sd15_dir)
    concept = personalize(model, ref, ref.getchannel("A"), short_config(merge="identity+context"), tmp_path / "c")
    record = concept.meta["component_records"]["split_merge"]
    assert record["optimiser_groups"] == "identity rows and context row separately"
    assert concept.meta["generation"]["merge"] == "identity+context"
    assert concept.identity_string == "<seal-id> <seal-bg> cat"
    fresh = load(tiny_sd15_dir)  # a plain model loads both tokens for this merge
    assert apply_concept(fresh, load_concept(concept.path)) == "<seal-id> <seal-bg> cat"
    assert "<seal-bg>" in fresh.pipe.tokenizer.get_vocab()


def test_the_lora_phase_loss_region_is_an_option_that_changes_only_the_lora(tmp_path, tiny_sd15_dir):
    from safetensors.torch import load_file

    from seal_engine.errors import InputError
    from seal_engine.personalize import personalize
    from seal_engine.personalize.config import PersonalizeConfig

    ref = reference_image()
    files = {}
    for region in ("subject", "image"):
        concept = personalize(load(tiny_sd15_dir), ref, ref.getchannel("A"),
                              short_config(lora_loss_region=region), tmp_path / region)
        assert concept.meta["component_records"]["split_merge"]["lora_phase"] == f"identity only, loss on the {region}"
        files[region] = {name: load_file(str(concept.path / name))
                         for name in ("learned_embeds.safetensors", "pytorch_lora_weights.safetensors")}
    subject, image = files["subject"], files["image"]
    # the token rows learn before the LoRA phase: the same rows; the LoRA saw another loss
    assert all(torch.equal(subject["learned_embeds.safetensors"][k], image["learned_embeds.safetensors"][k])
               for k in subject["learned_embeds.safetensors"])
    assert any(not torch.allclose(subject["pytorch_lora_weights.safetensors"][k], image["pytorch_lora_weights.safetensors"][k])
               for k in subject["pytorch_lora_weights.safetensors"])
    with pytest.raises(InputError, match="loss region"):
        PersonalizeConfig(lora_loss_region="background").validate()
