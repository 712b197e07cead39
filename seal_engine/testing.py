"""Tiny, randomly initialised Stable Diffusion pipelines, built fully offline.

They exist so that tests (and `seal tiny-model` dry runs) exercise the real
loading, generation and personalization code without a download or a GPU. Both
families are covered: SD1.x-like (one CLIP text encoder) and SDXL-like (two text
encoders plus the added time/text conditioning). The UNet has cross-attention at
two resolutions so attention capture and layer restriction have real layers to
choose between. Same seed -> the same weights, bit for bit.

The tokenizer is a CLIP BPE tokenizer written from a small vocabulary: every
byte-level character plus the whole words the tests use, so prompts tokenize to
real word ids as they do with the real tokenizer.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

TINY_SIZE = 64  # pixels; the VAE downsamples by 8 -> 8x8 latents
ARCHES = ("sd15", "sdxl")

_WORDS = tuple((
    "a an the of in on at with and sticker character cat dog fox bear bird frog rabbit person face robot "
    "creature animal toy monster happy sad angry surprised laughing crying sleepy waving jumping running "
    "sitting dancing thumbs up heart close-up full body portrait far away zoomed left right centre center "
    "cartoon flat shaded pixel watercolor outline white red green blue yellow purple orange pink black grey "
    "background plain busy beach forest city sky night room studio photo of style illustration wearing hat "
    "scarf glasses holding cup smiling big small cute drawing simple emoji"
).split())


def _byte_chars() -> list[str]:
    """GPT-2/CLIP byte-to-unicode table (the alphabet a CLIP BPE vocab must contain)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for c in cs]


def write_tokenizer(folder: Path, extra_words: tuple[str, ...] = ()) -> Any:
    """Write a small CLIP tokenizer (vocab.json + merges.txt) and return it loaded."""
    from transformers import CLIPTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    vocab: dict[str, int] = {}
    for ch in _byte_chars():
        vocab.setdefault(ch, len(vocab))
    for ch in _byte_chars():
        vocab.setdefault(ch + "</w>", len(vocab))
    merges: list[str] = []
    for word in dict.fromkeys(_WORDS + tuple(extra_words)):
        # merge the word left to right into one symbol ending in </w>
        symbols = list(word[:-1]) + [word[-1] + "</w>"]
        while len(symbols) > 1:
            a, b = symbols[0], symbols[1]
            merges.append(f"{a} {b}")
            vocab.setdefault(a + b, len(vocab))
            symbols = [a + b] + symbols[2:]
    for special in ("<|startoftext|>", "<|endoftext|>"):
        vocab.setdefault(special, len(vocab))
    (folder / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(dict.fromkeys(merges)) + "\n", encoding="utf-8")
    tok = CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"), model_max_length=77,
                        pad_token="<|endoftext|>")
    tok.save_pretrained(str(folder))
    return tok


def _text_config(vocab_size: int, hidden: int, projection: int) -> Any:
    from transformers import CLIPTextConfig

    return CLIPTextConfig(vocab_size=vocab_size, hidden_size=hidden, intermediate_size=hidden * 2,
                          num_hidden_layers=2, num_attention_heads=2, max_position_embeddings=77,
                          projection_dim=projection, bos_token_id=vocab_size - 2, eos_token_id=vocab_size - 1,
                          pad_token_id=vocab_size - 1, hidden_act="quick_gelu")


def build_tiny_pipeline(arch: str = "sd15", seed: int = 0) -> Any:
    """Build (in memory) a tiny random pipeline of the given family."""
    import torch
    from diffusers import (AutoencoderKL, DDIMScheduler, EulerDiscreteScheduler, StableDiffusionPipeline,
                           StableDiffusionXLPipeline, UNet2DConditionModel)
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    if arch not in ARCHES:
        from .errors import InputError

        raise InputError(f"Unknown tiny architecture '{arch}'; choose one of {', '.join(ARCHES)}.")
    with tempfile.TemporaryDirectory() as tmp:
        tokenizer = write_tokenizer(Path(tmp) / "tok")
        tokenizer_2 = write_tokenizer(Path(tmp) / "tok2") if arch == "sdxl" else None
    vocab = len(tokenizer)

    torch.manual_seed(seed)
    vae = AutoencoderKL(in_channels=3, out_channels=3, latent_channels=4,
                        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
                        block_out_channels=(8, 16, 16, 16), layers_per_block=1, norm_num_groups=8,
                        sample_size=TINY_SIZE)
    if arch == "sd15":
        text_encoder = CLIPTextModel(_text_config(vocab, 32, 32))
        unet = UNet2DConditionModel(
            sample_size=TINY_SIZE // 8, in_channels=4, out_channels=4, layers_per_block=1,
            block_out_channels=(32, 64, 64),
            down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
            up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
            cross_attention_dim=32, attention_head_dim=8, norm_num_groups=8)
        scheduler = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                  clip_sample=False, set_alpha_to_one=False, steps_offset=1)
        return StableDiffusionPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
                                       scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                       requires_safety_checker=False)
    text_encoder = CLIPTextModel(_text_config(vocab, 32, 32))
    text_encoder_2 = CLIPTextModelWithProjection(_text_config(len(tokenizer_2), 32, 32))
    unet = UNet2DConditionModel(
        sample_size=TINY_SIZE // 8, in_channels=4, out_channels=4, layers_per_block=1,
        block_out_channels=(32, 64, 64),
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=64, attention_head_dim=8, norm_num_groups=8, use_linear_projection=True,
        transformer_layers_per_block=(1, 1, 2), addition_embed_type="text_time", addition_time_embed_dim=8,
        projection_class_embeddings_input_dim=32 + 6 * 8)
    scheduler = EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                       steps_offset=1, timestep_spacing="leading")
    return StableDiffusionXLPipeline(vae=vae, text_encoder=text_encoder, text_encoder_2=text_encoder_2,
                                     tokenizer=tokenizer, tokenizer_2=tokenizer_2, unet=unet, scheduler=scheduler,
                                     force_zeros_for_empty_prompt=True)


def save_tiny_model(out_dir: str | Path, arch: str = "sd15", seed: int = 0) -> Path:
    """Build a tiny pipeline and `save_pretrained` it (safetensors) so the real loader can read it."""
    from .atomic import staged_dir
    from .loading import quiet_libraries

    quiet_libraries()
    out = Path(out_dir)
    pipe = build_tiny_pipeline(arch, seed)
    with staged_dir(out, overwrite=out.exists() and (out / "model_index.json").is_file()) as stage:
        pipe.save_pretrained(str(stage), safe_serialization=True)
    return out
