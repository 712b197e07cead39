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
    with staged_dir(out, overwrite=out.exists() and (out / "model_index.json").is_file(),
                    markers=("model_index.json",)) as stage:
        pipe.save_pretrained(str(stage), safe_serialization=True)
    return out


# --- single-file (original LDM / CompVis layout) checkpoints ------------------------------------------------

_LDM_UNET_PREFIX = "model.diffusion_model."
_LDM_VAE_PREFIX = "first_stage_model."
_LDM_CLIP_PREFIX = "cond_stage_model.transformer.text_model."
_UNET_RESNET_NAMES = {"norm1": "in_layers.0", "conv1": "in_layers.2", "norm2": "out_layers.0",
                      "conv2": "out_layers.3", "time_emb_proj": "emb_layers.1", "conv_shortcut": "skip_connection"}
_UNET_TOP_LEVEL = {"time_embedding.linear_1": "time_embed.0", "time_embedding.linear_2": "time_embed.2",
                   "conv_in": "input_blocks.0.0", "conv_norm_out": "out.0", "conv_out": "out.2"}
_VAE_MID_ATTN_NAMES = {"group_norm": "norm", "to_q": "q", "to_k": "k", "to_v": "v", "to_out.0": "proj_out"}


def _ldm_unet_key(key: str, layers_per_block: int, up_blocks_with_attention: set[int]) -> str:
    """Diffusers UNet key -> LDM key: the inverse of diffusers' `convert_ldm_unet_checkpoint`.

    LDM numbers input_blocks consecutively: 0 is conv_in, then each down block has
    `layers_per_block` (resnet[, attention]) entries plus one downsampler entry; output_blocks
    hold `layers_per_block + 1` entries per up block, the upsampler sitting in the last one
    after the attention (index 2) or directly after the resnet (index 1)."""
    import re

    param_owner, _, param = key.rpartition(".")
    if param_owner in _UNET_TOP_LEVEL:
        return f"{_UNET_TOP_LEVEL[param_owner]}.{param}"
    per_block = layers_per_block + 1

    def resnet(rest: str) -> str:
        head, _, tail = rest.partition(".")
        return f"{_UNET_RESNET_NAMES.get(head, head)}.{tail}"

    if m := re.fullmatch(r"down_blocks\.(\d+)\.(resnets|attentions)\.(\d+)\.(.+)", key):
        index = 1 + int(m[1]) * per_block + int(m[3])
        return f"input_blocks.{index}.0.{resnet(m[4])}" if m[2] == "resnets" else f"input_blocks.{index}.1.{m[4]}"
    if m := re.fullmatch(r"down_blocks\.(\d+)\.downsamplers\.0\.conv\.(.+)", key):
        return f"input_blocks.{1 + int(m[1]) * per_block + layers_per_block}.0.op.{m[2]}"
    if m := re.fullmatch(r"mid_block\.resnets\.(\d+)\.(.+)", key):
        return f"middle_block.{2 * int(m[1])}.{resnet(m[2])}"
    if m := re.fullmatch(r"mid_block\.attentions\.0\.(.+)", key):
        return f"middle_block.1.{m[1]}"
    if m := re.fullmatch(r"up_blocks\.(\d+)\.(resnets|attentions)\.(\d+)\.(.+)", key):
        index = int(m[1]) * per_block + int(m[3])
        return f"output_blocks.{index}.0.{resnet(m[4])}" if m[2] == "resnets" else f"output_blocks.{index}.1.{m[4]}"
    if m := re.fullmatch(r"up_blocks\.(\d+)\.upsamplers\.0\.conv\.(.+)", key):
        block = int(m[1])
        slot = 2 if block in up_blocks_with_attention else 1
        return f"output_blocks.{block * per_block + layers_per_block}.{slot}.conv.{m[2]}"
    raise ValueError(f"no LDM name for UNet parameter {key}")


def _ldm_vae_key(key: str, num_up_blocks: int) -> str:
    """Diffusers VAE key -> LDM key: the inverse of diffusers' `convert_ldm_vae_checkpoint`
    (LDM numbers decoder up blocks from the bottom, diffusers from the top)."""
    import re

    if m := re.fullmatch(r"(encoder|decoder)\.conv_norm_out\.(.+)", key):
        return f"{m[1]}.norm_out.{m[2]}"
    if m := re.fullmatch(r"encoder\.down_blocks\.(\d+)\.resnets\.(\d+)\.(.+)", key):
        return f"encoder.down.{m[1]}.block.{m[2]}.{m[3].replace('conv_shortcut', 'nin_shortcut')}"
    if m := re.fullmatch(r"encoder\.down_blocks\.(\d+)\.downsamplers\.0\.conv\.(.+)", key):
        return f"encoder.down.{m[1]}.downsample.conv.{m[2]}"
    if m := re.fullmatch(r"decoder\.up_blocks\.(\d+)\.resnets\.(\d+)\.(.+)", key):
        block = num_up_blocks - 1 - int(m[1])
        return f"decoder.up.{block}.block.{m[2]}.{m[3].replace('conv_shortcut', 'nin_shortcut')}"
    if m := re.fullmatch(r"decoder\.up_blocks\.(\d+)\.upsamplers\.0\.conv\.(.+)", key):
        return f"decoder.up.{num_up_blocks - 1 - int(m[1])}.upsample.conv.{m[2]}"
    if m := re.fullmatch(r"(encoder|decoder)\.mid_block\.resnets\.(\d+)\.(.+)", key):
        return f"{m[1]}.mid.block_{int(m[2]) + 1}.{m[3].replace('conv_shortcut', 'nin_shortcut')}"
    if m := re.fullmatch(r"(encoder|decoder)\.mid_block\.attentions\.0\.(.+)\.(weight|bias)", key):
        return f"{m[1]}.mid.attn_1.{_VAE_MID_ATTN_NAMES[m[2]]}.{m[3]}"
    if re.fullmatch(r"(encoder|decoder)\.(conv_in|conv_out)\.(weight|bias)|(post_)?quant_conv\.(weight|bias)", key):
        return key
    raise ValueError(f"no LDM name for VAE parameter {key}")


def save_tiny_single_file(pipeline_folder: str | Path, out_path: str | Path) -> Path:
    """Write a saved SD1.x diffusers pipeline as ONE original-layout (CompVis/LDM) `.safetensors`
    checkpoint, the kind users download from model sites.

    No such checkpoint exists offline, and diffusers only converts LDM -> diffusers, so this is
    the inverse of its `convert_ldm_unet_checkpoint` / `convert_ldm_vae_checkpoint` /
    `convert_ldm_clip_checkpoint`, derived from them; tests then load the file through the real
    `from_single_file` path and compare every tensor. SD1.x only (SDXL's OpenCLIP encoder has
    another layout)."""
    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from safetensors.torch import save
    from transformers import CLIPTextModel

    from .architecture import Architecture, detect_folder
    from .atomic import atomic_write_bytes
    from .loading import quiet_libraries

    quiet_libraries()
    folder = Path(pipeline_folder)
    if detect_folder(folder) is not Architecture.SD1:
        raise ValueError(f"{folder} is not an SD1.x pipeline; only SD1.x single-file checkpoints are written.")
    unet = UNet2DConditionModel.from_pretrained(str(folder), subfolder="unet")
    vae = AutoencoderKL.from_pretrained(str(folder), subfolder="vae")
    text_encoder = CLIPTextModel.from_pretrained(str(folder), subfolder="text_encoder")

    state: dict[str, torch.Tensor] = {}
    lpb = unet.config.layers_per_block
    if not isinstance(lpb, int):
        raise ValueError("per-block layers_per_block has no single LDM numbering")
    with_attention = {i for i, block in enumerate(unet.up_blocks) if getattr(block, "attentions", None)}
    for key, tensor in unet.state_dict().items():
        state[_LDM_UNET_PREFIX + _ldm_unet_key(key, lpb, with_attention)] = tensor
    num_up = len(vae.config.up_block_types)
    for key, tensor in vae.state_dict().items():
        if ".mid_block.attentions.0." in key and key.endswith("weight") and tensor.ndim == 2:
            tensor = tensor[:, :, None, None]  # LDM's VAE attention uses 1x1 convolutions
        state[_LDM_VAE_PREFIX + _ldm_vae_key(key, num_up)] = tensor
    for key, tensor in text_encoder.state_dict().items():
        # transformers >= 5.6 flattened CLIPTextModel (no `text_model.` level); LDM keeps it
        state[_LDM_CLIP_PREFIX + key.removeprefix("text_model.")] = tensor
    state = {k: v.detach().contiguous().clone() for k, v in state.items()}

    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out, save(state, metadata={"format": "pt", "source": "seal_engine.testing"}))
    return out


def crop_through_subject(im: Any, gt: Any, edges: tuple[str, ...], cut: float = 0.25):
    """Image and ground-truth mask (numpy bool) cropped so the subject runs `cut` of its extent past each named edge."""
    import numpy as np

    ys, xs = np.nonzero(gt)
    x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
    box = [0, 0, im.width, im.height]
    if "left" in edges:
        box[0] = int(x0 + cut * (x1 - x0))
    if "right" in edges:
        box[2] = int(x1 - cut * (x1 - x0))
    if "top" in edges:
        box[1] = int(y0 + cut * (y1 - y0))
    if "bottom" in edges:
        box[3] = int(y1 - cut * (y1 - y0))
    return im.crop(tuple(box)), gt[box[1]:box[3], box[0]:box[2]]
