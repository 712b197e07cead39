"""The CLIP pair: the shipped toy tower, the cached real one (a tiny random stand-in), pooling at EOS."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from seal_engine.clip_pair import ClipPair, encode_pooled, find_clip_pair, pooled_at_eos  # noqa: E402
from seal_engine.errors import ModelError  # noqa: E402
from seal_engine.toyworld.model import default_pipeline_dir  # noqa: E402

L14 = "openai/clip-vit-large-patch14"


@pytest.fixture(scope="module")
def toy_pair() -> ClipPair:
    pair, reason = find_clip_pair(default_pipeline_dir(), "sd1")
    assert pair is not None, reason
    return pair


@pytest.fixture(scope="module")
def toy_text_encoder():
    from transformers import CLIPTextModel

    return CLIPTextModel.from_pretrained(str(default_pipeline_dir() / "text_encoder"), torch_dtype=torch.float32)


def test_toy_pipeline_ships_its_tower(toy_pair, toy_text_encoder):
    pair, reason = find_clip_pair(default_pipeline_dir(), "sd1")
    assert pair.source == "toyworld image tower" and "toyworld image tower" in reason
    assert pair.vocabulary is not None and pair.vocabulary.name == "toyworld"
    assert toy_pair.check_text_encoder(toy_text_encoder) is None  # the text tower IS the toy text encoder


def test_image_embeds_are_normalised_and_rgba_goes_on_white(toy_pair):
    from PIL import Image

    clear = Image.new("RGBA", (64, 64), (10, 200, 30, 0))
    white = Image.new("RGB", (64, 64), (255, 255, 255))
    emb = toy_pair.image_embeds([clear, white, Image.new("RGB", (80, 80), (255, 135, 10))])
    assert emb.shape == (3, toy_pair.dim)
    assert torch.allclose(emb.norm(dim=1), torch.ones(3), atol=1e-4)
    assert torch.allclose(emb[0], emb[1], atol=1e-5)


def test_project_text_reaches_an_added_token_row(toy_pair, toy_text_encoder):
    """The lead's use: an added token (id above EOS) in a prompt, pooled at EOS, projected, fit to the image."""
    import copy

    from seal_engine.toyworld.attributes import Sticker
    from seal_engine.toyworld.render import render_pil
    from seal_engine.toyworld.vocab import load_tokenizer

    te = copy.deepcopy(toy_text_encoder)
    tok = load_tokenizer(default_pipeline_dir() / "tokenizer")
    new_id = len(tok)  # 263 > eos 262
    te.resize_token_embeddings(new_id + 1)
    ids = tok(["a creature creature, happy, arms up"], return_tensors="pt").input_ids
    ids[0, 2] = new_id
    eos = tok.eos_token_id
    pooled = encode_pooled(te, ids)
    # this encoder's config has eos 262, so transformers' own pooler already pools at EOS
    assert torch.allclose(pooled, te(input_ids=ids).pooler_output, atol=1e-6)
    target = toy_pair.image_embeds([render_pil(Sticker(action="up"))])
    loss = 1 - (toy_pair.project_text(pooled) * target).sum()
    loss.backward()
    grad = te.get_input_embeddings().weight.grad
    assert grad[new_id].abs().sum() > 0
    assert int((ids == eos).int().argmax()) > 2


def test_pooled_at_eos_fixes_the_legacy_argmax_rule():
    """Configs with eos_token_id 2 (SD1.5, CLIP L/14) pool at argmax(ids): an added token wins."""
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(0)
    te = CLIPTextModel(CLIPTextConfig(vocab_size=60, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                      num_attention_heads=2, bos_token_id=0, eos_token_id=2, pad_token_id=1))
    eos = 49  # the tokenizer's real EOS id, as in openai/clip-vit-large-patch14 (49407)
    ids = torch.tensor([[48, 5, 59, 7, eos, eos]])  # 59: an added token, above eos
    out = te(input_ids=ids)
    assert torch.allclose(out.pooler_output, out.last_hidden_state[:, 2])  # the legacy rule picks the added token
    assert torch.allclose(pooled_at_eos(out.last_hidden_state, ids, eos), out.last_hidden_state[:, 4])
    assert torch.allclose(encode_pooled(te, ids, eos), out.last_hidden_state[:, 4])
    with pytest.raises(ValueError):
        encode_pooled(te, ids)


# --- the real-model path, with a tiny random CLIP standing in for ViT-L/14 -------------------

def _fake_hub_cache(cache: Path, repo_id: str, source: Path) -> Path:
    """huggingface_hub's cache layout: refs/main -> snapshots/<commit>/files."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    commit = "0" * 40
    snap = repo / "snapshots" / commit
    shutil.copytree(source, snap)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    return snap


@pytest.fixture(scope="module")
def tiny_pair_source(tmp_path_factory, tiny_sd15_dir):
    """A tiny CLIP whose text tower is the tiny SD1.5 pipeline's text encoder (as L/14's is SD1.5's)."""
    from transformers import CLIPTextModel

    from seal_engine.evaluation.clip_models import save_tiny_clip

    te = CLIPTextModel.from_pretrained(str(tiny_sd15_dir / "text_encoder"))
    return save_tiny_clip(tmp_path_factory.mktemp("clip") / "l14", text_encoder=te), te


@pytest.fixture
def empty_hf_cache(tmp_path, monkeypatch) -> Path:
    import huggingface_hub.constants as hc

    cache = tmp_path / "hf-cache"
    cache.mkdir()
    monkeypatch.setattr(hc, "HF_HUB_CACHE", str(cache))
    return cache


def test_real_pair_found_in_our_models_cache_offline(tiny_pair_source, tiny_sd15_dir, empty_hf_cache):
    from seal_engine.paths import models_cache_dir

    source, te = tiny_pair_source
    _fake_hub_cache(models_cache_dir(), L14, source)
    pair, reason = find_clip_pair(tiny_sd15_dir, "sd1")
    assert pair is not None, reason
    assert pair.source == f"{L14} (cache)" and L14 in reason
    assert pair.image_processor is not None and pair.vocabulary.name == "presets"
    assert pair.check_text_encoder(te) is None
    emb = pair.text_embeds(["a sticker of character, happy", "a sticker of character, sad"])
    assert emb.shape == (2, 16) and torch.allclose(emb.norm(dim=1), torch.ones(2), atol=1e-4)
    ids = pair.tokenizer(["a sticker of character, happy"], return_tensors="pt").input_ids
    assert torch.allclose(pair.project_text(encode_pooled(te, ids)), emb[:1], atol=1e-5)


def test_real_pair_found_in_the_hf_cache_and_sdxl_says_first_encoder(tiny_pair_source, empty_hf_cache):
    source, _ = tiny_pair_source
    _fake_hub_cache(empty_hf_cache, L14, source)
    pair, reason = find_clip_pair("stabilityai/stable-diffusion-xl-base-1.0", "sdxl")
    assert pair is not None and "first text encoder only" in reason


def test_no_cache_means_no_pair_and_a_reason(tiny_sd15_dir, empty_hf_cache, tiny_pair_source):
    pair, reason = find_clip_pair(tiny_sd15_dir, "sd1")
    assert pair is None and "ViT-L/14" in reason and "class word" in reason
    pair, reason = find_clip_pair("stabilityai/stable-diffusion-2-1", "sd2")
    assert pair is None and "ViT-H/14" in reason
    # a cached snapshot with only pickle weights does not count
    snap = _fake_hub_cache(empty_hf_cache, L14, tiny_pair_source[0])
    for f in snap.glob("*.safetensors"):
        f.rename(f.with_suffix(".bin"))
    assert find_clip_pair(tiny_sd15_dir, "sd1")[0] is None


def test_explicit_folder_wins_and_a_bad_one_is_an_error(tiny_pair_source, tmp_path):
    pair, reason = find_clip_pair(default_pipeline_dir(), "sd1", explicit=tiny_pair_source[0])
    assert pair is not None and pair.dim == 16 and str(tiny_pair_source[0]) in reason
    with pytest.raises(ModelError):
        find_clip_pair(default_pipeline_dir(), "sd1", explicit=tmp_path)
