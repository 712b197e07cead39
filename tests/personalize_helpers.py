"""Helpers shared by the personalization tests (reference image, short configs, one torch thread)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image, ImageDraw

# LoRA on the query/key projections of the captured layers: on a tiny *random* U-Net the
# queries carry little spatial information, so embeddings alone move the maps slowly; with
# q/k free the attention loss's effect is large and the tests can assert it with a margin.
QK_PATTERNS = ["*attn2.to_q", "*attn2.to_k"]


def reference_image() -> Image.Image:
    """A red blob in the upper-left of a transparent 64x64 canvas (mask = its alpha)."""
    ref = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    ImageDraw.Draw(ref).ellipse((2, 4, 30, 40), fill=(220, 40, 40, 255))
    return ref


def short_config(**overrides):
    from seal_engine.personalize.config import PersonalizeConfig

    base = dict(embedding_steps=4, lora_steps=4, class_word="cat", augment_bank=4, probe_attention=False)
    base.update(overrides)
    return PersonalizeConfig(**base)


def load(model_dir: Path):
    from seal_engine.loading import load_pipeline

    return load_pipeline(model_dir)


@pytest.fixture(autouse=True, scope="module")
def single_torch_thread():
    """Tiny models are fastest on one thread, and the CI box's 2 cores are shared."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
