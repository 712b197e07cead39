"""personalize(): only new token rows move, progress and previews, cancel/failure leave nothing, config."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from personalize_helpers import load, reference_image, short_config, single_torch_thread  # noqa: F401
from seal_engine.errors import Cancelled, InputError
from seal_engine.progress import CancelToken


def _run(model, out, cfg, **kw):
    from seal_engine.personalize import personalize

    ref = reference_image()
    return personalize(model, ref, ref.getchannel("A"), cfg, out, **kw)


def test_ti_changes_only_the_new_embedding_rows(tmp_path, tiny_sd15_dir):
    model = load(tiny_sd15_dir)
    te = model.pipe.text_encoder
    old = te.get_input_embeddings().weight.detach().clone()
    other = {k: v.clone() for k, v in te.state_dict().items() if "token_embedding" not in k}
    unet = {k: v.clone() for k, v in model.pipe.unet.state_dict().items()}
    cat = model.pipe.tokenizer("cat", add_special_tokens=False).input_ids
    concept = _run(model, tmp_path / "c", short_config(base="ti", embedding_steps=6, embedding_lr=1e-2))
    new = te.get_input_embeddings().weight.detach()
    assert new.shape[0] == old.shape[0] + 3  # 2 identity vectors + context
    assert torch.equal(new[: old.shape[0]], old)  # every pre-existing row bit-identical
    init = old[cat].mean(0)
    assert all(not torch.allclose(new[old.shape[0] + i], init) for i in range(3))  # new rows learned
    assert all(torch.equal(v, te.state_dict()[k]) for k, v in other.items())
    assert all(torch.equal(v, model.pipe.unet.state_dict()[k]) for k, v in unet.items())  # ti: U-Net untouched
    assert concept.meta["lora"] is None and not (concept.path / "pytorch_lora_weights.safetensors").exists()


def test_progress_events_losses_eta_and_previews(tmp_path, tiny_sd15_dir):
    events = []
    _run(load(tiny_sd15_dir), tmp_path / "c", short_config(embedding_steps=3, lora_steps=2, preview_every=2,
                                                          preview_steps=2), progress=events.append)
    train = [e for e in events if e.phase in ("embeddings", "lora")]
    assert [(e.phase, e.step, e.total) for e in train] == [("embeddings", 1, 3), ("embeddings", 2, 3),
                                                          ("embeddings", 3, 3), ("lora", 1, 2), ("lora", 2, 2)]
    # the quality schedule (short_config's) holds the caption's words too: context_hold
    assert set(train[0].losses) == {"diffusion", "attention", "context_attention", "background", "context_hold",
                                    "total"}
    assert all(np.isfinite(list(e.losses.values())).all() for e in train)
    assert train[-1].eta_s == 0 and train[0].eta_s is not None
    previews = [e for e in train if e.preview is not None]
    assert [(e.phase, e.step) for e in previews] == [("embeddings", 2), ("embeddings", 3), ("lora", 2)]
    assert previews[0].preview.size == (64, 64)
    assert events[-1].phase == "save" and events[-1].step == 1


@pytest.mark.parametrize("phase", ["embeddings", "lora"])
def test_cancel_within_a_step_leaves_nothing(tmp_path, tiny_sd15_dir, phase):
    token = CancelToken()
    seen = []

    def progress(event):
        seen.append((event.phase, event.step))
        if event.phase == phase and event.step == 2:
            token.cancel()

    model = load(tiny_sd15_dir)
    with pytest.raises(Cancelled):
        _run(model, tmp_path / "c", short_config(embedding_steps=5, lora_steps=5), progress=progress, cancel=token)
    assert seen[-1] == (phase, 2)  # no further step ran
    assert list(tmp_path.iterdir()) == []  # no folder, no staging sibling
    assert not getattr(model.pipe.unet, "peft_config", None)  # adapter removed again


def test_failure_leaves_nothing_and_existing_output_is_refused(tmp_path, tiny_sd15_dir):
    def boom(event):
        if event.phase == "lora":
            raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        _run(load(tiny_sd15_dir), tmp_path / "c", short_config(), progress=boom)
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "taken").mkdir()
    with pytest.raises(InputError, match="already exists"):
        _run(load(tiny_sd15_dir), tmp_path / "taken", short_config())
    with pytest.raises(InputError, match="mask is empty"):
        from seal_engine.personalize import personalize

        personalize(load(tiny_sd15_dir), reference_image(), Image.new("L", (64, 64), 0), short_config(),
                    tmp_path / "m")


def test_lora_only_keeps_rare_token_rows_and_baseline_records_components(tmp_path, tiny_sd15_dir):
    from seal_engine.personalize.config import baseline_config

    model = load(tiny_sd15_dir)
    cfg = baseline_config(base="lora", lora_steps=3, class_word="cat", augment_bank=2, probe_attention=False)
    concept = _run(model, tmp_path / "c", cfg)
    meta = concept.meta
    assert meta["components"] == {"attention_loss": False, "background_loss": False, "split_merge": False,
                                  "layer_restriction": False, "image_start": False, "auto_caption": True,
                                  "context_hold": False}
    assert meta["component_records"]["auto_caption"]["caption"] is None  # no CLIP pair for this model: said why
    assert "started from the class word" in meta["component_records"]["auto_caption"]["reason"]
    assert meta["tokens"]["identity"]["init"] == "sks" and meta["tokens"]["context"] is None
    assert meta["lora"]["preset"] == "all" and meta["steps"]["embeddings"] == 0
    emb = model.pipe.text_encoder.get_input_embeddings().weight
    sks = model.pipe.tokenizer("sks", add_special_tokens=False).input_ids
    ids = model.pipe.tokenizer.convert_tokens_to_ids(["<seal-id>", "<seal-id>_1"])
    assert torch.allclose(emb[ids], emb[sks].mean(0).expand(2, -1))  # frozen: DreamBooth's rare identifier
    # a second run on the same model gets fresh token and adapter names
    again = _run(model, tmp_path / "d", cfg)
    assert again.meta["tokens"]["identity"]["token"] == "<seal-id-2>" and again.meta["lora"]["adapter_name"] == "seal_2"


def test_config_schedules_and_validation():
    from seal_engine.architecture import Architecture
    from seal_engine.personalize.config import PersonalizeConfig

    q = PersonalizeConfig().resolve(Architecture.SD1)
    assert (q.embedding_steps, q.lora_steps, q.lora_rank, q.layer_preset) == (400, 400, 4, "decoder-attn")
    assert (q.embedding_lr, q.lora_lr) == (5e-4, 1e-4)
    paper = PersonalizeConfig(schedule="paper").resolve(Architecture.SD1)
    assert (paper.embedding_steps, paper.lora_steps, paper.embedding_lr, paper.lora_lr) == (10, 10, 5e-3, 1e-3)
    xl = PersonalizeConfig(schedule="fast").resolve(Architecture.SDXL)
    assert (xl.embedding_steps, xl.lora_steps, xl.lora_rank, xl.layer_preset) == (100, 100, 64, "blora")
    assert PersonalizeConfig(layer_restriction=False).resolve(Architecture.SD1).layer_preset == "all"
    split = PersonalizeConfig().with_total_steps(10)
    assert (split.embedding_steps, split.lora_steps) == (5, 5)
    assert PersonalizeConfig(base="ti").with_total_steps(7).steps() == (7, 0)
    assert PersonalizeConfig.from_dict(q.to_dict()) == q
    for bad in (dict(base="dreambooth"), dict(num_vectors=0), dict(layer_preset="nope"), dict(scale_range=(2, 1)),
                dict(identity_token="<a>", context_token="<a>"), dict(attention_weight=float("nan")),
                dict(background_weight=float("inf")), dict(embedding_lr=float("nan")), dict(schedule="slow"),
                dict(attention_coverage_weight=-1.0), dict(attention_coverage_weight=0.0, attention_outside_weight=0.0),
                dict(edit_consistency_grad_ratio=0.0), dict(edit_consistency_attributes=("",))):
        with pytest.raises(InputError):
            PersonalizeConfig(**bad).validate()


def test_augmentation_views():
    from seal_engine.augment import make_views
    from seal_engine.personalize.config import PersonalizeConfig

    ref = reference_image()
    cfg = PersonalizeConfig(augment_bank=12, background_color=(10, 200, 30))
    views = make_views(ref, ref.getchannel("A"), 64, cfg, np.random.default_rng(0))
    assert len(views) == 12 and views[0].scale == 1.0 and views[0].words == ""
    first = np.asarray(views[0].image)
    assert tuple(first[63, 63]) == (10, 200, 30)  # transparent pixels became the flat colour
    assert tuple(first[20, 15]) == (220, 40, 40)
    assert np.array_equal(np.asarray(views[0].mask) > 127, np.asarray(ref.getchannel("A")) > 127)
    assert {v.words for v in views} >= {"far away"}
    assert all(np.asarray(v.valid).min() == 255 for v in views)  # transparent reference: every pixel is valid
    # flip is off by default: the blob stays on the left in every view
    assert all(np.asarray(v.mask)[:, :32].sum() > np.asarray(v.mask)[:, 32:].sum() for v in views)
    opaque = Image.new("RGBA", (64, 64), (0, 0, 255, 255))
    views = make_views(opaque, ref.getchannel("A"), 64, PersonalizeConfig(augment_bank=6, scale_range=(0.5, 0.6)),
                       np.random.default_rng(1))
    assert np.asarray(views[1].valid).min() == 0  # shrunk opaque image: the padding is not trained on


def test_backdrop_views_name_their_backdrop():
    """The background component's views: the subject alone on other flat backdrops, their words kept for the
    prompt; the first view is the reference, and with the geometric augmentation off every view keeps its place."""
    from seal_engine.augment import make_views
    from seal_engine.personalize.config import PersonalizeConfig

    ref = reference_image()
    opaque = Image.alpha_composite(Image.new("RGBA", ref.size, (255, 0, 255, 255)), ref)  # the subject on magenta
    backdrops = [("cyan", (0, 200, 220)), ("navy", (20, 30, 110))]
    cfg = PersonalizeConfig(augment=False, augment_bank=10)
    views = make_views(opaque, ref.getchannel("A"), 64, cfg, np.random.default_rng(0), backdrops, 0.5)
    assert len(views) == 10 and views[0].background_words is None
    named = [v for v in views if v.background_words]
    assert 2 <= len(named) <= 8 and {v.background_words for v in named} <= {"cyan", "navy"}
    for v in named:
        rgb = dict(backdrops)[v.background_words]
        assert tuple(np.asarray(v.image)[63, 63]) == rgb  # outside the subject: the backdrop, not magenta
        assert tuple(np.asarray(v.image)[20, 15]) == (220, 40, 40)  # the subject itself is unchanged
    assert all(v.scale == 1.0 and np.array_equal(np.asarray(v.mask), np.asarray(views[0].mask)) for v in views)
    plain = make_views(opaque, ref.getchannel("A"), 64, cfg, np.random.default_rng(0))
    assert len(plain) == 1  # no backdrops and no augmentation: the reference alone


def test_class_word_choice(monkeypatch):
    from seal_engine.class_word import choose_class_word

    monkeypatch.delenv("SEAL_CLIP_MODEL", raising=False)
    assert choose_class_word(reference_image(), given=" fox ").word == "fox"
    auto = choose_class_word(reference_image())
    assert (auto.word, auto.source) == ("character", "default")
    monkeypatch.setenv("SEAL_CLIP_MODEL", "/nonexistent/clip")
    assert choose_class_word(reference_image()).source == "default"  # not available locally: generic word


def test_users_caption_replaces_the_automatic_one(tmp_path, tiny_sd15_dir):
    concept = _run(load(tiny_sd15_dir), tmp_path / "c", short_config(caption="happy, waving, on a white background"))
    record = concept.meta["component_records"]["auto_caption"]
    assert record["caption"] == "happy, waving, on a white background" and "user" in record["source"]
    example = concept.meta["training_prompt"]["example"]
    assert "<seal-id>" in example and "waving" in example


def test_image_embedding_start_on_a_tiny_random_clip(tmp_path, tiny_sd15_dir):
    """The real-model path: a CLIP pair whose text tower is the model's text encoder (as CLIP ViT-L/14's is
    SD1.5's); the identity rows are fitted towards the reference's image embedding before training."""
    from seal_engine.evaluation.clip_models import save_tiny_clip

    model = load(tiny_sd15_dir)
    tower = save_tiny_clip(tmp_path / "clip", text_encoder=model.pipe.text_encoder)
    concept = _run(model, tmp_path / "c", short_config(image_tower=str(tower), auto_caption=False, image_start=True))
    start = concept.meta["component_records"]["image_start"]
    assert start["tower"] == str(tower) and concept.meta["tokens"]["identity"]["start"].startswith("CLIP image")
    assert start["cosine_after"] > start["cosine_before"] + 0.1  # the rows moved towards the image embedding
    # without a tower, the start is the class word, and the concept says why
    plain = _run(load(tiny_sd15_dir), tmp_path / "d", short_config(image_start=True))
    assert plain.meta["tokens"]["identity"]["start"] == "class word 'cat'"
    assert "class word" in plain.meta["component_records"]["image_start"]["reason"]


def test_the_image_start_is_on_for_the_paper_schedule_only_unless_set(tmp_path, tiny_sd15_dir):
    """Measured on the toy protocol: the start helps the 20-step `paper` schedule and costs identity on the
    longer ones; the concept says which start was used and why."""
    from seal_engine.evaluation.clip_models import save_tiny_clip
    from seal_engine.personalize.config import PersonalizeConfig

    assert PersonalizeConfig(schedule="paper").uses_image_start
    assert not PersonalizeConfig(schedule="fast").uses_image_start
    assert not PersonalizeConfig(schedule="quality").uses_image_start
    assert PersonalizeConfig(schedule="quality", image_start=True).uses_image_start
    assert not PersonalizeConfig(schedule="paper", image_start=False).uses_image_start
    model = load(tiny_sd15_dir)
    tower = save_tiny_clip(tmp_path / "clip", text_encoder=model.pipe.text_encoder)
    paper = _run(model, tmp_path / "p", short_config(schedule="paper", image_tower=str(tower), auto_caption=False))
    assert paper.meta["tokens"]["identity"]["start"].startswith("CLIP image")
    fast = _run(load(tiny_sd15_dir), tmp_path / "f", short_config(schedule="fast", image_tower=str(tower),
                                                                    auto_caption=False))
    assert "image_start" not in fast.meta["component_records"]
    assert fast.meta["tokens"]["identity"]["start"].startswith("class word 'cat' (the image start is off on the fast")


def test_toy_world_run_starts_from_the_shipped_tower_and_captions_the_reference(tmp_path):
    from seal_engine.devices import RuntimeOptions
    from seal_engine.loading import load_pipeline
    from seal_engine.personalize import PersonalizeConfig, personalize
    from seal_engine.toyworld.attributes import Sticker
    from seal_engine.toyworld.bench import reference_images
    from seal_engine.toyworld.model import default_pipeline_dir

    ref = Sticker(shape="triangle", colour="blue", accessory="none", emotion="sad", action="wave", scale="full",
                  position="left", style="shaded", background="magenta")
    image, mask, _truth = reference_images(ref)
    model = load_pipeline(str(default_pipeline_dir()), RuntimeOptions(device="cpu", dtype="fp32"))
    concept = personalize(model, image, mask, PersonalizeConfig(schedule="paper", class_word="creature",
                                                                 augment_bank=4), tmp_path / "c")
    meta = concept.meta
    caption = meta["component_records"]["auto_caption"]
    assert caption["values"]["background"] == "magenta" and caption["values"]["emotion"] == "sad"
    assert "magenta" in meta["training_prompt"]["example"] and "waving" in meta["training_prompt"]["example"]
    start = meta["component_records"]["image_start"]
    assert start["tower"] == "toyworld image tower" and start["cosine_after"] > start["cosine_before"]
    # the subject is fitted on every flat backdrop of the world, each named in its prompt
    assert start["backdrops"] == ["white", "cyan", "magenta", "orange", "lime", "navy"]
    assert "on a white background" in start["prompt"] and "waving" in start["prompt"]
    # no geometric augmentation (the caption names the framing); the background component's backdrop views
    # keep the reference's size and place; each kept edited view (on by default on `paper`) repeats
    # the reference's 4 views with another face
    edited = meta["component_records"]["edited_views"]
    assert edited["active"] and len(edited["kept"]) + len(edited["dropped"]) == 3
    n = 4 * (1 + len(edited["kept"]))
    aug = meta["augmentation"]
    assert (aug["on"], aug["why"], aug["scales"]) == (False, "off: the caption names the framing", [1.0] * n)
    views = meta["component_records"]["background_loss"]["backdrop_views"]
    assert views["of"] == n and views["views"] % (n // 4) == 0 and 1 <= views["views"] // (n // 4) <= 3
    assert "magenta" not in views["backdrops"]
