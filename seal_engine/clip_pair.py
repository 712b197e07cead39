"""The CLIP pair ("image tower") that matches a diffusion model's text encoder.

Two uses in personalization: (1) the image-embedding start - fit the new identity token
rows so that the diffusion model's OWN text encoder, projected by CLIP's
`text_projection`, points where CLIP's image tower puts the reference; (2) the zero-shot
caption of the reference (`seal_engine.caption`). Both need a CLIP model whose text tower
is the diffusion model's text encoder: SD1.x's text encoder IS CLIP ViT-L/14's text
tower, SD2.x's is OpenCLIP ViT-H/14's, SDXL's first is ViT-L/14 again. The toy world
ships its own pair (`seal_engine/data/toyworld/pipeline/image_tower/`, trained by
`python -m seal_engine.toyworld.train_tower`).

Lookup (`find_clip_pair`) never downloads: an explicit folder, an `image_tower/` folder
inside the model's local folder, then the matching hub id in our models cache or the
Hugging Face cache with `local_files_only=True`.

Pooled output and added tokens: transformers' CLIPTextTransformer pools at the first
`eos_token_id` when the config's eos id is not 2, but at `argmax(input_ids)` when it is 2
(the legacy configs of openai/clip-vit-large-patch14 and of SD1.5's text encoder). With a
placeholder token spliced in (id 49408+, above every original id) argmax lands on the
placeholder, not on EOS. `pooled_at_eos` always pools at the first EOS; use it (or
`encode_pooled`) instead of `pooler_output` whenever prompts contain added tokens. The toy
text encoder (eos 262) and the tiny test encoders (eos = vocab-1) take the first-EOS path,
so there `pooler_output` is already right; `pooled_at_eos` agrees with it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Sequence

from .errors import ModelError

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from PIL import Image

    from .caption import CaptionVocabulary

HUB_IDS: dict[str, str] = {
    "sd1": "openai/clip-vit-large-patch14",
    "sd2": "laion/CLIP-ViT-H-14-laion2B-s32B-b79K",
    "sdxl": "openai/clip-vit-large-patch14",
}
"""The CLIP whose text tower is the architecture's (first) text encoder. SDXL: only the
first encoder (ViT-L/14) is covered; text_encoder_2 (OpenCLIP bigG,
laion/CLIP-ViT-bigG-14-laion2B-39B-b160k) is not used."""

TOWER_FOLDER = "image_tower"
VOCABULARY_FILE = "caption_vocabulary.json"
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def pooled_at_eos(last_hidden_state: "torch.Tensor", input_ids: "torch.Tensor", eos_id: int) -> "torch.Tensor":
    """(batch, hidden) hidden state at each row's FIRST `eos_id` (the last position if a row has none).

    Unlike transformers' legacy `argmax(input_ids)` rule, this stays right when added
    token ids exceed the EOS id (see the module docstring).
    """
    import torch

    is_eos = input_ids == eos_id
    first = is_eos.int().argmax(dim=-1)
    last = torch.full_like(first, input_ids.shape[-1] - 1)
    pos = torch.where(is_eos.any(dim=-1), first, last)
    return last_hidden_state[torch.arange(last_hidden_state.shape[0], device=last_hidden_state.device), pos]


def encode_pooled(text_encoder: Any, input_ids: "torch.Tensor", eos_id: Optional[int] = None) -> "torch.Tensor":
    """Run a CLIPTextModel (e.g. the SD pipeline's text encoder) and pool at EOS; differentiable.

    `eos_id` defaults to the tokenizer-independent `text_encoder.config.eos_token_id` unless
    that is the legacy 2, in which case pass the tokenizer's `eos_token_id`.
    """
    if eos_id is None:
        eos_id = int(text_encoder.config.eos_token_id)
        if eos_id == 2:
            raise ValueError("This text encoder's config has the legacy eos_token_id 2; pass the tokenizer's eos_token_id.")
    out = text_encoder(input_ids=input_ids)
    return pooled_at_eos(out.last_hidden_state, input_ids, eos_id)


@dataclass
class ClipPair:
    """A frozen CLIPModel (both towers and projections) with its tokenizer and caption vocabulary."""

    model: Any  # transformers.CLIPModel, eval, requires_grad False
    source: str  # recorded in concept.json
    vocabulary: Optional["CaptionVocabulary"]
    tokenizer: Any = None  # the pair's own CLIPTokenizer (for text_embeds)
    image_processor: Any = None  # CLIPImageProcessor for real checkpoints; None: plain resize + CLIP normalisation
    device: str = "cpu"
    _text_cache: dict = field(default_factory=dict, repr=False)

    @property
    def dim(self) -> int:
        return int(self.model.config.projection_dim)

    @property
    def image_size(self) -> int:
        return int(self.model.config.vision_config.image_size)

    @property
    def dtype(self) -> Any:
        return self.model.visual_projection.weight.dtype

    def _pixels(self, images: Sequence["Image.Image"]) -> "torch.Tensor":
        import numpy as np
        import torch
        from PIL import Image

        rgb = [_on_white(im) for im in images]
        if self.image_processor is not None:
            pixels = self.image_processor(images=rgb, return_tensors="pt")["pixel_values"]
        else:  # the toy tower: plain resize to its image size, CLIP mean/std (as in train_tower)
            size = self.image_size
            arr = np.stack([np.asarray(im if im.size == (size, size) else im.resize((size, size), Image.BICUBIC),
                                       dtype=np.float32) for im in rgb]) / 255.0
            x = torch.from_numpy(arr).permute(0, 3, 1, 2)
            pixels = (x - torch.tensor(CLIP_MEAN).view(1, 3, 1, 1)) / torch.tensor(CLIP_STD).view(1, 3, 1, 1)
        return pixels.to(self.device, dtype=self.dtype)

    def image_embeds(self, images: Sequence["Image.Image"], batch_size: int = 64) -> "torch.Tensor":
        """(n, d) L2-normalised projected image embeddings (fp32, no grad); RGBA composited on white."""
        import torch

        chunks = []
        with torch.no_grad():  # not inference_mode: callers use these as loss targets
            for i in range(0, len(images), batch_size):
                out = self.model.vision_model(pixel_values=self._pixels(images[i:i + batch_size]))
                chunks.append(_normalise(self.model.visual_projection(out.pooler_output).float()))
        return torch.cat(chunks) if chunks else torch.zeros(0, self.dim)

    def project_text(self, pooled: "torch.Tensor") -> "torch.Tensor":
        """text_projection(pooled), L2-normalised, differentiable (grad flows into `pooled`).

        `pooled` is the EOS-position output of a text encoder whose weights are this pair's
        text tower - typically the SD pipeline's own text encoder with learnable token rows
        (see `encode_pooled`). Returned in fp32.
        """
        w = self.model.text_projection.weight
        return _normalise((pooled.to(device=w.device, dtype=w.dtype) @ w.T).float())

    def text_embeds(self, prompts: Sequence[str], batch_size: int = 256) -> "torch.Tensor":
        """(n, d) L2-normalised text embeddings through the pair's own tokenizer and text tower (cached)."""
        import torch

        missing = [p for p in dict.fromkeys(prompts) if p not in self._text_cache]
        eos = int(self.tokenizer.eos_token_id)
        with torch.no_grad():  # not inference_mode: callers use these as loss targets
            for i in range(0, len(missing), batch_size):
                batch = missing[i:i + batch_size]
                ids = self.tokenizer(batch, padding=True, truncation=True, return_tensors="pt").input_ids.to(self.device)
                out = self.model.text_model(input_ids=ids)
                emb = self.project_text(pooled_at_eos(out.last_hidden_state, ids, eos))
                self._text_cache.update(zip(batch, emb.cpu()))
        if not prompts:
            return torch.zeros(0, self.dim)
        return torch.stack([self._text_cache[p] for p in prompts])

    def check_text_encoder(self, text_encoder: Any) -> Optional[str]:
        """None when `text_encoder` has this pair's text tower weights; else why not (one line).

        Compares shapes and the original token embedding rows and final layer norm, so a
        fine-tuned or unrelated encoder is caught before project_text is trusted.
        """
        import torch

        ours = getattr(self.model.text_model, "embeddings").token_embedding.weight
        inner = getattr(text_encoder, "text_model", text_encoder)
        theirs = inner.embeddings.token_embedding.weight
        if theirs.shape[1] != ours.shape[1] or theirs.shape[0] < ours.shape[0]:
            return f"text encoder width/vocabulary {tuple(theirs.shape)} does not match the CLIP pair's {tuple(ours.shape)}"
        layers, our_layers = len(inner.encoder.layers), len(self.model.text_model.encoder.layers)
        if layers != our_layers:  # e.g. SD2's text encoder drops OpenCLIP ViT-H's last layer
            return f"text encoder has {layers} layers, the CLIP pair's text tower {our_layers}"
        with torch.no_grad():
            diff = (theirs[: ours.shape[0]].float().cpu() - ours.float().cpu()).abs().max().item()
            ln = (inner.final_layer_norm.weight.float().cpu() - self.model.text_model.final_layer_norm.weight.float().cpu())
            diff = max(diff, ln.abs().max().item())
        if diff > 1e-2:
            return f"text encoder weights differ from the CLIP pair's text tower (max |diff| {diff:.3g})"
        return None


def _normalise(x: "torch.Tensor") -> "torch.Tensor":
    return x / x.norm(dim=-1, keepdim=True).clamp_min(1e-12)


def _on_white(image: "Image.Image") -> "Image.Image":
    from PIL import Image

    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        canvas.alpha_composite(rgba)
        return canvas.convert("RGB")
    return image.convert("RGB")


def _arch_key(arch: Any) -> str:
    text = str(getattr(arch, "value", arch)).lower().replace(".x", "").replace(" ", "")
    return {"sd1": "sd1", "sd15": "sd1", "sd2": "sd2", "sd21": "sd2", "sdxl": "sdxl", "xl": "sdxl"}.get(text, text)


def _is_clip_folder(folder: Path) -> bool:
    return (folder / "config.json").is_file() and any(folder.glob("*.safetensors"))


def load_clip_pair(folder: Path, source: str, device: str = "cpu") -> ClipPair:
    """Load a CLIPModel folder (safetensors only) with its tokenizer and caption vocabulary."""
    import torch
    from transformers import CLIPModel, CLIPTokenizer

    from .caption import CaptionVocabulary, preset_vocabulary
    from .loading import quiet_libraries

    quiet_libraries()
    folder = Path(folder)
    try:
        model = CLIPModel.from_pretrained(str(folder), local_files_only=True, use_safetensors=True,
                                          torch_dtype=torch.float32)
        tokenizer = CLIPTokenizer.from_pretrained(str(folder), local_files_only=True)
    except (OSError, ValueError, KeyError) as err:
        raise ModelError(f"{folder} could not be loaded as a CLIP model: {' '.join(str(err).split())[:200]}") from err
    model.eval().requires_grad_(False).to(device)
    processor = None
    if any((folder / name).is_file() for name in ("preprocessor_config.json", "processor_config.json")):
        from transformers import CLIPImageProcessor

        processor = CLIPImageProcessor.from_pretrained(str(folder), local_files_only=True)
    vocab_path = folder / VOCABULARY_FILE
    vocabulary = CaptionVocabulary.load(vocab_path) if vocab_path.is_file() else preset_vocabulary()
    return ClipPair(model=model, source=source, vocabulary=vocabulary, tokenizer=tokenizer,
                    image_processor=processor, device=device)


def cached_hub_folder(repo_id: str) -> Optional[Path]:
    """The snapshot folder of `repo_id` in our models cache or the Hugging Face cache; never downloads."""
    from huggingface_hub import constants, snapshot_download

    from .paths import seal_home

    # ours, then huggingface_hub's own (HF_HUB_CACHE / HF_HOME), read at call time; a look-up creates nothing
    caches = [str(seal_home(create=False) / "models"), str(constants.HF_HUB_CACHE)]
    for cache in caches:
        if not Path(cache).is_dir():
            continue
        try:
            folder = Path(snapshot_download(repo_id, cache_dir=cache, local_files_only=True))
        except Exception:  # LocalEntryNotFoundError and friends: not cached there
            continue
        if _is_clip_folder(folder):
            return folder
    return None


def find_clip_pair(model_dir_or_id: Any, arch: Any, *, explicit: Optional[os.PathLike | str] = None,
                   device: str = "cpu") -> tuple[Optional[ClipPair], str]:
    """(the CLIP pair for this model or None, one line saying which and why - for concept.json).

    Order: `explicit` folder (a bad one raises ModelError: the user asked for it);
    `<model folder>/image_tower/`; the architecture's hub id in the local caches only.
    """
    if explicit is not None:
        folder = Path(explicit).expanduser()
        if not _is_clip_folder(folder):
            raise ModelError(f"{folder} is not a CLIP model folder (config.json and .safetensors weights needed).")
        pair = load_clip_pair(folder, str(folder), device)
        return pair, f"CLIP pair from {folder}"
    if model_dir_or_id is not None:
        local = Path(str(model_dir_or_id)).expanduser()
        if local.is_file():
            local = local.parent
        tower = local / TOWER_FOLDER
        if local.is_dir() and _is_clip_folder(tower):
            source = _tower_label(tower)
            return load_clip_pair(tower, source, device), f"CLIP pair: {source}"
    key = _arch_key(arch)
    repo = HUB_IDS.get(key)
    if repo is None:
        return None, f"no CLIP pair known for architecture {arch!r}; started from the class word"
    folder = cached_hub_folder(repo)
    name = {"openai/clip-vit-large-patch14": "CLIP ViT-L/14", "laion/CLIP-ViT-H-14-laion2B-s32B-b79K": "OpenCLIP ViT-H/14"}[repo]
    if folder is None:
        return None, f"no {name} ({repo}) with safetensors weights in the model cache; started from the class word"
    suffix = " (first text encoder only)" if key == "sdxl" else ""
    return load_clip_pair(folder, f"{repo} (cache)", device), f"CLIP pair: {repo} (cache){suffix}"


def _tower_label(tower: Path) -> str:
    """'toyworld image tower' for the toy world's (its caption vocabulary says so), else the folder."""
    try:
        if json.loads((tower / VOCABULARY_FILE).read_text(encoding="utf-8")).get("name") == "toyworld":
            return "toyworld image tower"
    except (OSError, ValueError, AttributeError):
        pass
    return f"image tower at {tower}"
