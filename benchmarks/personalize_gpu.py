"""Personalization cost at FULL size (SD1.5 at 512, SDXL at 1024), baseline vs SEAL, for a GPU session.

Builds SD1.5 and SDXL U-Nets, text encoders and VAEs with random weights from
their published configs (written inline: no hub, no download) directly on the
GPU in bf16 (or fp16), then runs `personalize()` for a few steps per phase with
the SEAL components off (baseline: ti+lora, LoRA on every attention layer) and
on (defaults), and reports mean step time per phase, peak GPU memory and the
estimated wall time of a default-length (`quality`) personalization.
Random weights change no cost: shapes, kernels and memory are those of the
real models. Self-contained: torch, diffusers, transformers, peft,
safetensors and the seal_engine package.

    python benchmarks/personalize_gpu.py                 # ~2-4 minutes on one H100/H200
    python benchmarks/personalize_gpu.py --smoke         # tiny configs on CPU, to test the script
    python benchmarks/personalize_gpu.py --max-seconds 240 --steps 8 --arch sdxl
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

CLIP_L = dict(vocab_size=49408, hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
              num_attention_heads=12, max_position_embeddings=77, hidden_act="quick_gelu", projection_dim=768)
CLIP_G = dict(vocab_size=49408, hidden_size=1280, intermediate_size=5120, num_hidden_layers=32,
              num_attention_heads=20, max_position_embeddings=77, hidden_act="gelu", projection_dim=1280)
SD15_UNET = dict(sample_size=64, in_channels=4, out_channels=4, layers_per_block=2,
                 block_out_channels=(320, 640, 1280, 1280),
                 down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D",
                                   "DownBlock2D"),
                 up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
                 cross_attention_dim=768, attention_head_dim=8, norm_num_groups=32)
SDXL_UNET = dict(sample_size=128, in_channels=4, out_channels=4, layers_per_block=2,
                 block_out_channels=(320, 640, 1280),
                 down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
                 up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
                 transformer_layers_per_block=(1, 2, 10), attention_head_dim=(5, 10, 20),
                 cross_attention_dim=2048, use_linear_projection=True, addition_embed_type="text_time",
                 addition_time_embed_dim=256, projection_class_embeddings_input_dim=2816, norm_num_groups=32)
VAE = dict(in_channels=3, out_channels=3, latent_channels=4, layers_per_block=2,
           down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
           block_out_channels=(128, 256, 512, 512), norm_num_groups=32)
DEFAULT_STEPS = {"ti+lora": (400, 400)}  # the quality schedule (personalize_config.SCHEDULE_STEPS)


def _smoke(cfg: dict, kind: str) -> dict:
    """Tiny stand-ins with the same block structure, for --smoke on CPU."""
    cfg = dict(cfg)
    if kind == "clip":
        cfg.update(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2, projection_dim=32)
    elif kind == "vae":
        cfg.update(block_out_channels=(8, 16, 16, 16), layers_per_block=1, norm_num_groups=8)
    else:
        n = len(cfg["block_out_channels"])
        cfg.update(block_out_channels=(32, 64, 64, 64)[:n], layers_per_block=1, norm_num_groups=8,
                   sample_size=8, attention_head_dim=8)
        if "transformer_layers_per_block" in cfg:
            cfg.update(transformer_layers_per_block=(1, 1, 2), cross_attention_dim=64, addition_time_embed_dim=8,
                       projection_class_embeddings_input_dim=32 + 6 * 8)
        else:
            cfg.update(cross_attention_dim=32)
    return cfg


def build(arch: str, device: str, dtype, smoke: bool, tmp: Path):
    """A pipeline with random weights built on `device`, wrapped as a LoadedModel."""
    import torch
    from diffusers import (AutoencoderKL, DDIMScheduler, EulerDiscreteScheduler, StableDiffusionPipeline,
                           StableDiffusionXLPipeline, UNet2DConditionModel)
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    from seal_engine.architecture import Architecture
    from seal_engine.devices import RuntimeOptions
    from seal_engine.loading import LoadedModel
    from seal_engine.model_source import ResolvedModel, SourceKind
    from seal_engine.testing import write_tokenizer

    def text(cfg: dict, tok, projection: bool):
        cfg = _smoke(cfg, "clip") if smoke else cfg
        special = dict(bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
        conf = CLIPTextConfig(**cfg, **special)
        return (CLIPTextModelWithProjection if projection else CLIPTextModel)(conf)

    xl = arch == "sdxl"
    tok = write_tokenizer(tmp / f"{arch}-tok")
    tok2 = write_tokenizer(tmp / f"{arch}-tok2") if xl else None
    unet_cfg = SDXL_UNET if xl else SD15_UNET
    if smoke:
        unet_cfg = _smoke(unet_cfg, "unet")
    vae_cfg = _smoke(VAE, "vae") if smoke else VAE
    torch.manual_seed(0)
    with torch.device(device):
        unet = UNet2DConditionModel(**unet_cfg)
        vae = AutoencoderKL(**vae_cfg, sample_size=unet_cfg["sample_size"] * 8,
                            scaling_factor=0.13025 if xl else 0.18215, force_upcast=xl)
        te = text(CLIP_L, tok, projection=False)
        te2 = text(CLIP_G, tok2, projection=True) if xl else None
    modules = [unet, vae, te] + ([te2] if xl else [])
    for m in modules:
        m.to(dtype=dtype).eval()
    sched_kw = dict(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", steps_offset=1)
    if xl:
        pipe = StableDiffusionXLPipeline(vae=vae, text_encoder=te, text_encoder_2=te2, tokenizer=tok,
                                         tokenizer_2=tok2, unet=unet,
                                         scheduler=EulerDiscreteScheduler(**sched_kw, timestep_spacing="leading"))
    else:
        pipe = StableDiffusionPipeline(vae=vae, text_encoder=te, tokenizer=tok, unet=unet,
                                       scheduler=DDIMScheduler(**sched_kw, clip_sample=False, set_alpha_to_one=False),
                                       safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    source = ResolvedModel(spec=f"random-{arch}", kind=SourceKind.FOLDER, path=tmp)
    return LoadedModel(pipe=pipe, arch=Architecture.SDXL if xl else Architecture.SD1, source=source,
                       device=device, dtype=dtype, options=RuntimeOptions(device=device))


def reference(size: int):
    from PIL import Image, ImageDraw

    ref = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    ImageDraw.Draw(ref).ellipse((size // 8, size // 10, size * 11 // 16, size * 9 // 10), fill=(220, 40, 40, 255))
    return ref


def run_variant(model, name: str, cfg, tmp: Path) -> dict:
    import torch

    from seal_engine.personalize import personalize

    cuda = model.device.startswith("cuda")
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    began = time.perf_counter()
    ref = reference(512)
    concept = personalize(model, ref, ref.getchannel("A"), cfg, tmp / name.replace(" ", "_"))
    wall = time.perf_counter() - began
    peak = (torch.cuda.max_memory_allocated() - base) if cuda else 0
    total_peak = torch.cuda.max_memory_allocated() if cuda else 0
    meta = concept.meta
    if meta["lora"]:
        model.pipe.unet.delete_adapters(meta["lora"]["adapter_name"])  # next variant starts clean
    steps = meta["timings"]["mean_step_s"]
    setup = wall - sum(meta["timings"].get(f"{p}_s", 0.0) for p in ("embeddings", "lora"))
    emb_n, lora_n = DEFAULT_STEPS["ti+lora"]
    estimate = setup + emb_n * steps.get("embeddings", 0) + lora_n * steps.get("lora", 0)
    return {"emb": steps.get("embeddings"), "lora": steps.get("lora"), "peak": peak, "total_peak": total_peak,
            "setup": setup, "estimate": estimate, "layers": len(meta["attention"]["layers"]),
            "targets": len(meta["lora"]["target_modules"]) if meta["lora"] else 0}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny configs on CPU (tests the script)")
    parser.add_argument("--arch", choices=("both", "sd15", "sdxl"), default="both")
    parser.add_argument("--steps", type=int, default=10, help="measured steps per phase (first 2 are warm-up)")
    parser.add_argument("--dtype", choices=("bf16", "fp16"), default="bf16")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--gradient-checkpointing", action="store_true")
    parser.add_argument("--max-seconds", type=float, default=270.0,
                        help="safety budget: no new variant starts after this many seconds")
    args = parser.parse_args(argv)

    import torch

    from seal_engine.loading import quiet_libraries
    from seal_engine.personalize.config import PersonalizeConfig, baseline_config

    quiet_libraries()
    started = time.perf_counter()
    device = "cpu" if args.smoke else "cuda"
    if args.smoke:
        torch.set_num_threads(1)  # tiny models: one thread is fastest and steadiest
    if device == "cuda" and not torch.cuda.is_available():
        print("No CUDA device; run with --smoke to test the script on CPU.", file=sys.stderr)
        return 2
    dtype = torch.float32 if args.smoke else {"bf16": torch.bfloat16, "fp16": torch.float16}[args.dtype]
    arches = ["sd15", "sdxl"] if args.arch == "both" else [args.arch]
    rows, skipped = [], []
    device_name = torch.cuda.get_device_name(0) if device == "cuda" else "CPU (smoke, tiny configs)"
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for arch in arches:
            if time.perf_counter() - started > args.max_seconds:
                skipped.append(f"{arch} (budget)")
                continue
            t0 = time.perf_counter()
            model = build(arch, device, dtype, args.smoke, tmp)
            build_s = time.perf_counter() - t0
            size = 64 if args.smoke else (1024 if arch == "sdxl" else 512)
            common = dict(embedding_steps=args.steps, lora_steps=args.steps, class_word="cat", resolution=size,
                          batch_size=args.batch, probe_attention=False, augment_bank=4,
                          gradient_checkpointing=args.gradient_checkpointing)
            results = {}
            for name, cfg in (("baseline", baseline_config(**common)), ("SEAL", PersonalizeConfig(**common))):
                if time.perf_counter() - started > args.max_seconds:
                    skipped.append(f"{arch} {name} (budget)")
                    continue
                try:
                    results[name] = run_variant(model, f"{arch}-{name}", cfg, tmp)
                except Exception as err:  # an OOM in one variant should not lose the others' numbers
                    skipped.append(f"{arch} {name} ({type(err).__name__}: {str(err)[:80]})")
            rows.append((arch, size, build_s, results))
            del model
            if device == "cuda":
                torch.cuda.empty_cache()

    print(f"\n### Personalization at full size: {device_name}, {args.dtype if not args.smoke else 'fp32'}, "
          f"batch {args.batch}, {args.steps} steps/phase measured (2 warm-up excluded)"
          f"{', gradient checkpointing' if args.gradient_checkpointing else ''}\n")
    print("| model | variant | emb step (ms) | LoRA step (ms) | peak GPU mem over weights (GiB) | peak GPU mem total "
          "(GiB) | attn layers captured | LoRA targets | est. default run 400+400 steps (s) |")
    print("|---|---|---|---|---|---|---|---|---|")
    gib = 2 ** 30
    for arch, size, build_s, results in rows:
        for name, r in results.items():
            print(f"| {arch} @ {size} | {name} | {r['emb'] * 1e3:.1f} | {r['lora'] * 1e3:.1f} | {r['peak'] / gib:.2f} | "
                  f"{r['total_peak'] / gib:.2f} | {r['layers'] if name == 'SEAL' else 0} | {r['targets']} | "
                  f"{r['estimate']:.0f} |")
    print("\n| model | SEAL/baseline emb step | SEAL/baseline LoRA step | SEAL/baseline peak mem | target |")
    print("|---|---|---|---|---|")
    for arch, size, build_s, results in rows:
        if {"baseline", "SEAL"} <= set(results):
            b, s = results["baseline"], results["SEAL"]
            print(f"| {arch} @ {size} | {s['emb'] / b['emb']:.3f} | {s['lora'] / b['lora']:.3f} | "
                  f"{s['peak'] / max(1, b['peak']):.3f} | time <= 1.10 |")
    if skipped:
        print("\nSkipped: " + "; ".join(skipped))
    print(f"\nTotal wall time {time.perf_counter() - started:.0f}s (budget {args.max_seconds:.0f}s).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
