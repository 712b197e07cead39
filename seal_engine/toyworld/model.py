"""The toy world's model: a tiny Stable-Diffusion-shaped pipeline (SD1.x layout).

Same component classes as SD1.x (CLIPTokenizer, CLIPTextModel, AutoencoderKL,
UNet2DConditionModel, a DDIM scheduler), so the SEAL engine runs on it unchanged.
Sizes and schedule follow the issue's feasibility notes:
- VAE 64x64x3 -> 16x16x4 with three blocks;
- UNet with cross-attention at 16x16 and 8x8 plus a third, attention-free level at 4x4
  (global layout and background colour need a coarse level);
- zero-terminal-SNR betas, v-prediction and "trailing" timestep spacing (Lin et al.,
  "Common Diffusion Noise Schedules and Sample Steps are Flawed"): with SD's usual
  schedule a 16x16 latent keeps an SNR ~1.2 on its mean at the last step, so layout and
  background come from the starting noise instead of the prompt.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .vocab import BOS, EOS, MAX_LENGTH, build_vocab, load_tokenizer, save_tokenizer_files

LATENT_SIZE = 16
TEXT_DIM = 128

SCHEDULER_CONFIG: dict[str, Any] = dict(
    num_train_timesteps=1000,
    beta_schedule="scaled_linear",
    beta_start=0.00085,
    beta_end=0.012,
    prediction_type="v_prediction",
    rescale_betas_zero_snr=True,
    timestep_spacing="trailing",
    clip_sample=False,
    steps_offset=0,
)


def make_vae():
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 3,
        up_block_types=("UpDecoderBlock2D",) * 3,
        block_out_channels=(32, 64, 96),
        layers_per_block=1,
        latent_channels=4,
        norm_num_groups=16,
        sample_size=64,
    )


def make_text_encoder(vocab_size: int | None = None):
    from transformers import CLIPTextConfig, CLIPTextModel

    vocab, _ = build_vocab()
    cfg = CLIPTextConfig(
        vocab_size=vocab_size or len(vocab),
        hidden_size=TEXT_DIM,
        intermediate_size=4 * TEXT_DIM,
        num_hidden_layers=3,
        num_attention_heads=4,
        max_position_embeddings=MAX_LENGTH,
        projection_dim=TEXT_DIM,
        bos_token_id=vocab[BOS],
        eos_token_id=vocab[EOS],
        pad_token_id=vocab[EOS],
    )
    return CLIPTextModel(cfg)


def make_unet():
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(
        sample_size=LATENT_SIZE,
        in_channels=4,
        out_channels=4,
        down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
        block_out_channels=(64, 96, 128),
        layers_per_block=1,
        cross_attention_dim=TEXT_DIM,
        attention_head_dim=8,
        norm_num_groups=16,
    )


def make_train_scheduler():
    from diffusers import DDPMScheduler

    return DDPMScheduler(**SCHEDULER_CONFIG)


def make_sample_scheduler():
    from diffusers import DDIMScheduler

    return DDIMScheduler(**SCHEDULER_CONFIG, set_alpha_to_one=False)


def assemble_pipeline(tokenizer, text_encoder, vae, unet):
    from diffusers import StableDiffusionPipeline

    return StableDiffusionPipeline(
        vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
        scheduler=make_sample_scheduler(), safety_checker=None, feature_extractor=None,
        requires_safety_checker=False,
    )


def new_tokenizer(folder: Path):
    return load_tokenizer(save_tokenizer_files(folder))


def save_pipeline_fp16(pipe, folder: Path) -> Path:
    """Write the pipeline with fp16 weights (a few MB); loads back in fp32 on CPU."""
    import copy

    import torch

    half = copy.deepcopy(pipe)
    for m in (half.unet, half.vae, half.text_encoder):
        m.to(device="cpu", dtype=torch.float16)
    half.save_pretrained(str(folder), safe_serialization=True)
    return folder


def default_pipeline_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "data" / "toyworld" / "pipeline"


def load_pipeline(folder: Path | None = None, device: str = "cpu", dtype: Any = None):
    """The shipped (or a freshly trained) toy-world pipeline, fp32 on CPU by default."""
    import torch
    from diffusers import StableDiffusionPipeline

    folder = Path(folder or default_pipeline_dir())
    if not (folder / "model_index.json").is_file():
        from ..errors import ModelError

        raise ModelError(f"No toy-world pipeline at {folder}; train one with python -m seal_engine.toyworld.train.")
    pipe = StableDiffusionPipeline.from_pretrained(
        str(folder), torch_dtype=dtype or torch.float32, safety_checker=None,
        requires_safety_checker=False,
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(device)
