"""CLIP models for the evaluation metrics: from the hub (cached), a local folder, or tiny and random.

Identity and attribute accuracy both score images with a CLIP model
(image-image cosine, image-text zero-shot). Users get a real checkpoint from the
hub, downloaded once into the app's model cache (`seal_engine.paths.models_cache_dir`)
with huggingface_hub, or point at a local folder; tests build a tiny random
CLIP offline with `save_tiny_clip`, so the whole metric path (processor,
model, projection, normalisation) runs in the suite without a network.

Embeddings are L2-normalised numpy arrays: every metric downstream is plain numpy.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from ..errors import ModelError, OfflineError

DEFAULT_CLIP_MODEL = "openai/clip-vit-base-patch32"
"""DreamBench's CLIP-I / CLIP-T backbone (ViT-B/32): the published numbers in
research/methods.md are measured with it, so ours are comparable."""

CLIP_ALLOW_PATTERNS = [
    "config.json",
    "model.safetensors",
    "preprocessor_config.json",
    "tokenizer*",
    "vocab.json",
    "merges.txt",
    "special_tokens_map.json",
    "processor_config.json",
]
"""Only the safetensors weights and the processor files (no pickles, no TF/Flax copies)."""

_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


@dataclass
class ClipBundle:
    """A loaded CLIP model and its processor, with where it came from."""

    model: Any  # transformers.CLIPModel, eval mode
    processor: Any  # transformers.CLIPProcessor
    source: str  # the hub id or folder the user gave
    device: str = "cpu"
    batch_size: int = 16

    def image_embeddings(self, images: Sequence[Any]) -> np.ndarray:
        """(N, D) L2-normalised image embeddings of PIL images (converted to RGB)."""
        import torch

        chunks = []
        for start in range(0, len(images), self.batch_size):
            batch = [im.convert("RGB") for im in images[start:start + self.batch_size]]
            inputs = self.processor(images=batch, return_tensors="pt")
            pixels = inputs["pixel_values"].to(self.device, dtype=self.model.dtype)
            with torch.inference_mode():
                out = self.model.get_image_features(pixel_values=pixels)
            chunks.append(_features(out))
        return _normalise(np.concatenate(chunks) if chunks else np.zeros((0, self.dim), np.float32))

    def text_embeddings(self, texts: Sequence[str]) -> np.ndarray:
        """(N, D) L2-normalised text embeddings."""
        import torch

        chunks = []
        for start in range(0, len(texts), self.batch_size):
            batch = list(texts[start:start + self.batch_size])
            inputs = self.processor(text=batch, return_tensors="pt", padding=True, truncation=True)
            inputs = {k: v.to(self.device) for k, v in inputs.items() if k in ("input_ids", "attention_mask")}
            with torch.inference_mode():
                out = self.model.get_text_features(**inputs)
            chunks.append(_features(out))
        return _normalise(np.concatenate(chunks) if chunks else np.zeros((0, self.dim), np.float32))

    @property
    def dim(self) -> int:
        return int(self.model.config.projection_dim)


def _features(out: Any) -> np.ndarray:
    """transformers 5 returns a model output whose pooler_output is projected; 4.x returned the tensor."""
    tensor = out if hasattr(out, "detach") else out.pooler_output
    return tensor.detach().float().cpu().numpy()


def _normalise(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.maximum(norms, 1e-12)).astype(np.float32)


def resolve_clip_source(spec: str | os.PathLike, *, offline: bool = False) -> Path:
    """A local folder as is; a hub id downloaded (once) into the app's model cache."""
    path = Path(str(spec)).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelError(f"{path} is not a CLIP model folder (no config.json).")
        return path
    text = str(spec).strip()
    if not _REPO_ID.match(text):
        raise ModelError(f"CLIP model '{text}' not found: no such folder, and it is not a hub id like 'org/name'.")
    from huggingface_hub import snapshot_download

    from ..paths import models_cache_dir

    local_only = offline or os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes")
    try:
        return Path(snapshot_download(text, cache_dir=str(models_cache_dir()), allow_patterns=CLIP_ALLOW_PATTERNS,
                                      local_files_only=local_only))
    except Exception as err:  # huggingface_hub raises several unrelated types for "not there"
        if local_only or "connect" in str(err).lower() or "offline" in str(err).lower():
            raise OfflineError(f"CLIP model '{text}' is not in the model cache and the hub cannot be reached; "
                               f"connect once or pass --clip-model with a local folder.") from err
        raise ModelError(f"CLIP model '{text}' could not be downloaded: {' '.join(str(err).split())[:200]}") from err


def load_clip(spec: str | os.PathLike = DEFAULT_CLIP_MODEL, *, device: Optional[str] = None,
              offline: bool = False) -> ClipBundle:
    """Load a CLIP model and processor (hub id or local folder) in eval mode, fp32."""
    from transformers import CLIPModel, CLIPProcessor

    from ..loading import quiet_libraries

    quiet_libraries()
    folder = resolve_clip_source(spec, offline=offline)
    if device is None:
        from ..devices import select_device

        device = select_device("auto")
    try:
        model = CLIPModel.from_pretrained(str(folder), local_files_only=True)
        processor = CLIPProcessor.from_pretrained(str(folder), local_files_only=True)
    except (OSError, ValueError, KeyError) as err:
        raise ModelError(f"{spec} could not be loaded as a CLIP model: {' '.join(str(err).split())[:200]}") from err
    model.eval().to(device)
    return ClipBundle(model=model, processor=processor, source=str(spec), device=device)


TINY_CLIP_IMAGE_SIZE = 32


def save_tiny_clip(out_dir: str | Path, seed: int = 0, text_encoder: Any = None) -> Path:
    """Build a tiny random CLIPModel + CLIPProcessor fully offline and `save_pretrained` it.

    The tokenizer is the one the tiny diffusion models use (`seal_engine.testing.write_tokenizer`),
    so every prompt word the tests use maps to a real token. Same seed -> same weights.
    With `text_encoder` (a tiny pipeline's CLIPTextModel) the text tower gets its weights,
    as CLIP ViT-L/14's text tower is SD1.5's text encoder (`seal_engine.clip_pair` tests).
    """
    import torch
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor

    from ..loading import quiet_libraries
    from ..testing import write_tokenizer

    quiet_libraries()
    out = Path(out_dir)
    tokenizer = write_tokenizer(out / "_tokenizer")
    vocab = len(tokenizer)
    text_cfg = dict(vocab_size=vocab, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                    num_attention_heads=2, max_position_embeddings=77, bos_token_id=vocab - 2,
                    eos_token_id=vocab - 1, pad_token_id=vocab - 1, hidden_act="quick_gelu")
    vision_cfg = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                      image_size=TINY_CLIP_IMAGE_SIZE, patch_size=8, hidden_act="quick_gelu")
    torch.manual_seed(seed)
    model = CLIPModel(CLIPConfig(text_config=text_cfg, vision_config=vision_cfg, projection_dim=16))
    if text_encoder is not None:
        model.text_model.load_state_dict(getattr(text_encoder, "text_model", text_encoder).state_dict())
    image_processor = CLIPImageProcessor(size={"shortest_edge": TINY_CLIP_IMAGE_SIZE},
                                         crop_size={"height": TINY_CLIP_IMAGE_SIZE, "width": TINY_CLIP_IMAGE_SIZE})
    processor = CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer)
    model.save_pretrained(str(out), safe_serialization=True)
    processor.save_pretrained(str(out))
    import shutil

    shutil.rmtree(out / "_tokenizer", ignore_errors=True)
    return out
