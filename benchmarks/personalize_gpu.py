"""Personalization and generation cost at FULL size (SD1.5 at 512, SDXL at 1024), for a GPU session.

Builds SD1.5 and SDXL U-Nets, text encoders and VAEs with random weights from
their published configs (written inline: no hub, no download) directly on the
GPU in bf16 (or fp16). Random weights change no cost: shapes, kernels and
memory are those of the real models. Side by side in one run, per model:

1. `personalize()` with the SEAL components off (baseline: ti+lora, LoRA on
   every attention layer) and on (defaults). Per phase (embeddings, lora):
   wall time per step, GPU kernel time per step (the union of the kernels'
   intervals on the device timeline, from torch.profiler, so a user
   annotation such as `Optimizer.step` is not counted twice), their ratio
   (how much of a step the GPU waits for the host), and peak memory. Steps are
   cut into windows by the trainer's per-step progress events: warm-up, a timed
   window (synchronised at both ends, no profiler) and a profiled window.
2. The same phases written the way the diffusers example scripts write them
   (textual_inversion / train_dreambooth_lora, see `example_loop`) on the same
   model, measured with the same windows.
3. The total time of a personalization for every schedule in
   `SCHEDULE_STEPS` (read at run time: `paper`, `fast`, `quality`, ...): the
   measured run with the profiler's cost removed, extrapolated to the
   schedule's step counts at the timed window's wall time per step.
4. SD1.5 only: 8 stickers at 25 steps with CFG, as one batch (what a pack job
   does for an item's variants) and one at a time.

Targets are printed beside the numbers. Self-contained: torch, diffusers,
transformers, peft, safetensors and the seal_engine package.

    python benchmarks/personalize_gpu.py                 # ~3-5 minutes on one H100/H200
    python benchmarks/personalize_gpu.py --smoke         # = --arch tiny: the tiny test pipeline on CPU (~20 s), tests the script
    python benchmarks/personalize_gpu.py --smoke --arch sd15 --dtype bf16   # shrunk SD1.5 blocks, bf16 autocast paths
    python benchmarks/personalize_gpu.py --max-seconds 240 --steps 13 --arch sdxl
"""

from __future__ import annotations

import argparse
import importlib
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

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

PHASES = ("embeddings", "lora")
TARGETS = {"wall/kernel": 1.25, "SEAL/baseline": 1.05, "example/SEAL": 2.0,
           "quality_s": {"sd15": 25.0, "sdxl": 90.0}, "generation_s": 2.0}


# ---- where the personalization code lives (the trainer is being rewritten into a package) ------------------
def config_module() -> Any:
    """PersonalizeConfig, baseline_config, SCHEDULE_STEPS, BaseMethod."""
    return importlib.import_module("seal_engine.personalize.config")


def schedule_steps() -> dict[str, tuple[int, int]]:
    """(embedding steps, lora steps) of ti+lora for every schedule the engine defines, read at run time."""
    m = config_module()
    return {getattr(s, "value", str(s)): tuple(table[m.BaseMethod.TI_LORA])
            for s, table in m.SCHEDULE_STEPS.items()}


# ---- models ---------------------------------------------------------------------------------------------
def _smoke(cfg: dict, kind: str) -> dict:
    """Shrunk stand-ins with the same block structure (`--smoke --arch sd15|sdxl`)."""
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
    """A pipeline with random weights built on `device`, wrapped as a LoadedModel ('tiny': the test pipeline)."""
    import torch
    from diffusers import (AutoencoderKL, DDIMScheduler, EulerDiscreteScheduler, StableDiffusionPipeline,
                           StableDiffusionXLPipeline, UNet2DConditionModel)
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    from seal_engine.architecture import Architecture
    from seal_engine.devices import RuntimeOptions
    from seal_engine.loading import LoadedModel, load_pipeline
    from seal_engine.model_source import ResolvedModel, SourceKind
    from seal_engine.testing import save_tiny_model, write_tokenizer

    if arch == "tiny":  # the test suite's pipeline, through the real loading path
        folder = save_tiny_model(tmp / "tiny-sd15", "sd15")
        return load_pipeline(folder, RuntimeOptions(device=device, dtype={torch.float32: "fp32",
                                                                           torch.bfloat16: "bf16",
                                                                           torch.float16: "fp16"}[dtype]))

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


# ---- measuring -------------------------------------------------------------------------------------------
def synchronize(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def busy_seconds(prof: Any, cuda: bool) -> float:
    """Time the device was running kernels: the union of their intervals (overlaps and annotations count once).

    On CPU (smoke runs) the top-level operators stand in for kernels: the ratio then shows
    the Python time around the operators."""
    from torch.autograd import DeviceType

    spans = []
    for evt in prof.events():
        if getattr(evt, "is_user_annotation", False):
            continue
        if cuda:
            if evt.device_type != DeviceType.CUDA:
                continue
        elif evt.device_type != DeviceType.CPU or evt.cpu_parent is not None or not evt.name.startswith("aten::"):
            continue
        spans.append((evt.time_range.start, evt.time_range.end))
    spans.sort()
    total, end = 0.0, float("-inf")
    for start, stop in spans:
        if stop <= end:
            continue
        total += stop - max(start, end)
        end = stop
    return total / 1e6


@dataclass
class PhaseStats:
    steps: int = 0
    started: float = 0.0  # perf_counter when the phase began (the previous event)
    ended: float = 0.0
    wall_step: Optional[float] = None  # timed window: seconds per step
    kernel_step: Optional[float] = None  # profiled window: device busy seconds per step
    profiled_window: float = 0.0  # wall seconds of the profiled window (its extra cost is removed from totals)
    profiled_steps: int = 0
    peak: int = 0  # bytes


@dataclass
class StepMeter:
    """Cuts each phase's steps into windows: warm-up (1..w), timed (w+1..w+k), profiled (w+k+1..w+2k).

    Fed by the trainer's per-step progress events (or by an example loop after each step); it
    synchronises the device only at the window edges, so the steps in between run as they would."""

    device: str
    warmup: int
    window: int
    phases: dict[str, PhaseStats] = field(default_factory=dict)
    _last: float = field(default_factory=time.perf_counter)
    _mark: float = 0.0
    _prof: Any = None

    @property
    def cuda(self) -> bool:
        return self.device.startswith("cuda")

    def __call__(self, event: Any) -> None:
        import torch

        now = time.perf_counter()
        if event.phase not in PHASES or event.total <= 0 or event.step <= 0:
            self._last = now
            return
        stats = self.phases.get(event.phase)
        if stats is None:
            stats = self.phases[event.phase] = PhaseStats(started=self._last)
            if self.cuda:
                torch.cuda.reset_peak_memory_stats()
        stats.steps, stats.ended = event.step, now
        w, k = self.warmup, self.window
        if event.step == w:
            synchronize(self.device)
            self._mark = time.perf_counter()
        elif event.step == w + k:
            synchronize(self.device)
            now = time.perf_counter()
            stats.wall_step = (now - self._mark) / k
            from torch.profiler import ProfilerActivity, profile

            activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if self.cuda else [])
            self._prof = profile(activities=activities)
            self._prof.__enter__()
            self._mark = time.perf_counter()
        elif event.step == w + 2 * k and self._prof is not None:
            synchronize(self.device)
            self._prof.__exit__(None, None, None)
            now = time.perf_counter()
            stats.profiled_window, stats.profiled_steps = now - self._mark, k
            stats.kernel_step = busy_seconds(self._prof, self.cuda) / k
            self._prof = None
            if self.cuda:
                stats.peak = torch.cuda.max_memory_allocated()
        if self.cuda and event.step == event.total:
            stats.peak = max(stats.peak, torch.cuda.max_memory_allocated())
        self._last = time.perf_counter()

    def steps_needed(self) -> int:
        return self.warmup + 2 * self.window


@dataclass
class RunResult:
    name: str
    wall: float  # seconds for the whole call
    phases: dict[str, PhaseStats]

    def estimate(self, steps: dict[str, int]) -> Optional[float]:
        """The run's wall time without the profiler's extra cost, at another schedule's step counts."""
        total = self.wall
        for phase, stats in self.phases.items():
            if stats.wall_step is None:
                return None
            total -= stats.profiled_window - stats.profiled_steps * stats.wall_step
            total += (steps.get(phase, 0) - stats.steps) * stats.wall_step
        return total


def run_personalize(model, name: str, cfg, tmp: Path, meter: StepMeter) -> RunResult:
    import torch

    personalize = importlib.import_module("seal_engine.personalize").personalize
    cuda = model.device.startswith("cuda")
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    size = int(model.pipe.unet.config.sample_size) * int(model.pipe.vae_scale_factor)
    ref = reference(size)
    began = time.perf_counter()
    concept = personalize(model, ref, ref.getchannel("A"), cfg, tmp / name.replace(" ", "_"), progress=meter)
    synchronize(model.device)
    wall = time.perf_counter() - began
    lora = concept.meta.get("lora")
    if lora:
        model.pipe.unet.delete_adapters(lora["adapter_name"])  # the next variant starts clean
    return RunResult(name, wall, dict(meter.phases))


# ---- the diffusers-example-style loops -----------------------------------------------------------------
def example_loop(model, phase: str, steps: int, meter: StepMeter, lr: float = 1e-4) -> RunResult:
    """One training phase as the diffusers example scripts write it, on our model (same weights, dtype, size).

    `embeddings`: examples/textual_inversion (and _sdxl): the whole input-embedding matrix of each
    text encoder is the trainable parameter (text encoders in fp32 under autocast, as accelerate's
    mixed precision runs them), the rows other than the new token are restored after every step.
    `lora`: examples/dreambooth/train_dreambooth_lora(_sdxl): rank-4 LoRA on to_q/k/v/out of every
    attention layer, gradient clipping, the prompt encoded every step (SDXL: the script encodes it once).
    Both, every step, as a DataLoader would: the reference turned into a tensor on the CPU and copied
    over, the prompt tokenized, the image VAE-encoded, noise and timesteps drawn (on the device, like
    the scripts), and `loss.detach().item()` read for the progress bar (a host sync)."""
    import numpy as np
    import torch
    import torch.nn.functional as F
    from diffusers import DDPMScheduler

    from seal_engine.augment import flatten

    pipe, device, dtype = model.pipe, model.device, model.dtype
    xl = model.arch.is_xl
    unet, vae = pipe.unet, pipe.vae
    tokenizers = [pipe.tokenizer] + ([pipe.tokenizer_2] if xl else [])
    encoders = [pipe.text_encoder] + ([pipe.text_encoder_2] if xl else [])
    size = int(unet.config.sample_size) * int(pipe.vae_scale_factor)
    half = dtype != torch.float32
    autocast = torch.autocast(device_type="cuda" if device.startswith("cuda") else "cpu", dtype=dtype, enabled=half)
    noise_scheduler = DDPMScheduler.from_config(pipe.scheduler.config)
    ref = reference(size)
    for m in [unet, vae, *encoders]:
        m.requires_grad_(False)

    token = f"<example-{phase}>"
    if phase == "embeddings":
        ids = []
        for tok, enc in zip(tokenizers, encoders):
            tok.add_tokens([token])
            new_id = tok.convert_tokens_to_ids(token)
            init = tok.encode("cat", add_special_tokens=False)[0]
            enc.resize_token_embeddings(len(tok))
            enc.to(torch.float32)  # the script keeps the trained text encoder in fp32
            table = enc.get_input_embeddings().weight
            with torch.no_grad():
                table[new_id] = table[init].clone()
            enc.get_input_embeddings().requires_grad_(True)
            ids.append(new_id)
        params = [enc.get_input_embeddings().weight for enc in encoders]
        originals = [p.detach().clone() for p in params]
        prompt = f"a sticker of {token}"
    else:
        from peft import LoraConfig

        unet.add_adapter(LoraConfig(r=4, lora_alpha=4, init_lora_weights="gaussian",
                                    target_modules=["to_k", "to_q", "to_v", "to_out.0"]), adapter_name="example")
        params = [p for p in unet.parameters() if p.requires_grad]
        prompt = "a sticker of sks cat"
    optimizer = torch.optim.AdamW(params, lr=lr, betas=(0.9, 0.999), weight_decay=1e-2, eps=1e-8)

    def encode_prompt():
        states, pooled = [], None
        for tok, enc in zip(tokenizers, encoders):
            input_ids = tok(prompt, padding="max_length", truncation=True, max_length=tok.model_max_length,
                            return_tensors="pt").input_ids.to(device)
            out = enc(input_ids, output_hidden_states=True)
            if xl:
                pooled = out[0]
                states.append(out.hidden_states[-2])
            else:
                states.append(out[0])
        return torch.cat(states, dim=-1), pooled

    fixed = None
    if xl and phase == "lora":  # train_dreambooth_lora_sdxl: prompt embeddings computed once, before the loop
        with torch.no_grad(), autocast:
            fixed = encode_prompt()
    began = time.perf_counter()
    for step in range(1, steps + 1):
        image = np.asarray(flatten(ref, (255, 255, 255)), dtype=np.float32) / 127.5 - 1.0
        pixels = torch.from_numpy(image).permute(2, 0, 1).unsqueeze(0).to(device, dtype=dtype)
        with autocast:
            latents = vae.encode(pixels).latent_dist.sample() * vae.config.scaling_factor
            noise = torch.randn_like(latents)
            timesteps = torch.randint(0, noise_scheduler.config.num_train_timesteps, (1,), device=device).long()
            noisy = noise_scheduler.add_noise(latents, noise, timesteps)
            if fixed is not None:
                hidden, pooled = fixed
            elif phase == "lora":
                with torch.no_grad():
                    hidden, pooled = encode_prompt()
            else:
                hidden, pooled = encode_prompt()
            added = None
            if xl:
                time_ids = torch.tensor([[size, size, 0, 0, size, size]], device=device, dtype=hidden.dtype)
                added = {"text_embeds": pooled, "time_ids": time_ids}
            pred = unet(noisy, timesteps, hidden, added_cond_kwargs=added).sample
            loss = F.mse_loss(pred.float(), noise.float(), reduction="mean")
        loss.backward()
        if phase == "lora":
            torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        optimizer.zero_grad()
        if phase == "embeddings":
            with torch.no_grad():
                for p, orig, keep in zip(params, originals, ids):
                    rows = torch.ones(p.shape[0], dtype=torch.bool)
                    rows[keep] = False
                    p[rows] = orig[rows]
        float(loss.detach().item())  # the progress bar's loss
        meter(_Event(phase, step, steps))
    synchronize(device)
    wall = time.perf_counter() - began
    if phase == "lora":
        unet.delete_adapters("example")
    else:
        for enc in encoders:
            enc.to(dtype)
            enc.get_input_embeddings().requires_grad_(False)
    return RunResult(f"example {phase}", wall, dict(meter.phases))


@dataclass
class _Event:
    phase: str
    step: int
    total: int


# ---- generation -----------------------------------------------------------------------------------------
def generation_times(model, count: int, steps: int) -> dict[str, float]:
    """`count` stickers with CFG: one pipeline call for all of them vs one call each (seconds)."""
    from seal_engine.generation import GenerationSettings, generate

    common = dict(negative_prompt="blurry, low quality", steps=steps, guidance_scale=7.5)
    generate(model, GenerationSettings("a cat sticker", seeds=[0, 1], **{**common, "steps": 2}, batch_size=2))
    times = {}
    for label, batch in (("batched", count), ("sequential", 1)):
        synchronize(model.device)
        t = time.perf_counter()
        generate(model, GenerationSettings("a cat sticker", seeds=list(range(count)), batch_size=batch, **common))
        synchronize(model.device)
        times[label] = time.perf_counter() - t
    return times


# ---- the run --------------------------------------------------------------------------------------------
def _ms(value: Optional[float]) -> str:
    return "-" if value is None else f"{value * 1e3:.1f}"


def _ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
    return None if a is None or not b else a / b


def _fmt(value: Optional[float], digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true",
                        help="CPU, few steps, the tiny test pipeline (or shrunk blocks with --arch sd15/sdxl)")
    parser.add_argument("--arch", choices=("both", "sd15", "sdxl", "tiny"), default=None,
                        help="default: both (GPU), tiny (--smoke)")
    parser.add_argument("--steps", type=int, default=None,
                        help="steps per phase: warm-up w then two windows of k (default 13: 3+5+5; smoke 5: 1+2+2)")
    parser.add_argument("--dtype", choices=("bf16", "fp16", "fp32"), default=None,
                        help="default bf16 on GPU, fp32 with --smoke")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--gradient-checkpointing", action="store_true")
    parser.add_argument("--images", type=int, default=8, help="generation: stickers per batch")
    parser.add_argument("--gen-steps", type=int, default=None, help="generation steps (default 25; smoke 3)")
    parser.add_argument("--no-example", action="store_true", help="skip the diffusers-example-style loops")
    parser.add_argument("--max-seconds", type=float, default=420.0,
                        help="safety budget: no new measurement starts after this many seconds")
    args = parser.parse_args(argv)

    import torch

    from seal_engine.loading import quiet_libraries

    quiet_libraries()
    started = time.perf_counter()
    args.smoke = args.smoke or args.arch == "tiny"  # the tiny test pipeline is a CPU smoke test
    device = "cpu" if args.smoke else "cuda"
    arch_arg = args.arch or ("tiny" if args.smoke else "both")
    steps = args.steps or (5 if args.smoke else 13)
    warmup = max(1, steps // 5)
    window = max(1, (steps - warmup) // 2)
    steps = warmup + 2 * window
    gen_steps = args.gen_steps or (3 if args.smoke else 25)
    dtype_name = args.dtype or ("fp32" if args.smoke else "bf16")
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[dtype_name]
    if args.smoke:
        torch.set_num_threads(1)  # tiny models: one thread is fastest and steadiest
    if device == "cuda" and not torch.cuda.is_available():
        print("No CUDA device; run with --smoke to test the script on CPU.", file=sys.stderr)
        return 2
    cfgmod = config_module()
    schedules = schedule_steps()
    arches = ["sd15", "sdxl"] if arch_arg == "both" else [arch_arg]
    device_name = torch.cuda.get_device_name(0) if device == "cuda" else "CPU (smoke)"
    runs: dict[str, dict[str, RunResult]] = {}
    generation: dict[str, dict[str, float]] = {}
    sizes: dict[str, int] = {}
    skipped: list[str] = []

    def budget_left(what: str) -> bool:
        if time.perf_counter() - started > args.max_seconds:
            skipped.append(f"{what} (budget)")
            return False
        return True

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for arch in arches:
            if not budget_left(arch):
                continue
            model = build(arch, device, dtype, args.smoke, tmp)
            size = sizes[arch] = int(model.pipe.unet.config.sample_size) * int(model.pipe.vae_scale_factor)
            common = dict(embedding_steps=steps, lora_steps=steps, class_word="cat", resolution=size,
                          batch_size=args.batch, probe_attention=False, augment_bank=4,
                          gradient_checkpointing=args.gradient_checkpointing)
            runs[arch] = {}
            for name, cfg in (("baseline", cfgmod.baseline_config(**common)), ("SEAL", cfgmod.PersonalizeConfig(**common))):
                if not budget_left(f"{arch} {name}"):
                    continue
                try:
                    runs[arch][name] = run_personalize(model, f"{arch}-{name}", cfg, tmp,
                                                       StepMeter(device, warmup, window))
                except Exception as err:  # an OOM in one variant should not lose the others' numbers
                    skipped.append(f"{arch} {name} ({type(err).__name__}: {str(err)[:120]})")
            if arch in ("sd15", "tiny") and budget_left(f"{arch} generation"):
                try:
                    generation[arch] = generation_times(model, args.images, gen_steps)
                except Exception as err:
                    skipped.append(f"{arch} generation ({type(err).__name__}: {str(err)[:120]})")
            if not args.no_example:
                for phase in PHASES:
                    if not budget_left(f"{arch} example {phase}"):
                        continue
                    try:
                        runs[arch][f"example {phase}"] = example_loop(model, phase, steps,
                                                                      StepMeter(device, warmup, window))
                    except Exception as err:
                        skipped.append(f"{arch} example {phase} ({type(err).__name__}: {str(err)[:120]})")
            del model
            if device == "cuda":
                torch.cuda.empty_cache()

    gib = 2 ** 30
    kind = "random weights, full size" if not args.smoke else ("tiny test pipeline" if arch_arg == "tiny"
                                                                 else "shrunk blocks")
    print(f"\n### Personalization step cost: {device_name}, {dtype_name}, {kind}, batch {args.batch}, "
          f"{steps} steps/phase ({warmup} warm-up, {window} timed, {window} profiled)"
          f"{', gradient checkpointing' if args.gradient_checkpointing else ''}\n")
    kernel_word = "GPU kernel" if device == "cuda" else "CPU operator"
    print(f"| model | variant | phase | wall/step (ms) | {kernel_word}/step (ms) | wall/kernel "
          f"(target <= {TARGETS['wall/kernel']}) | peak mem (GiB) |")
    print("|---|---|---|---|---|---|---|")
    for arch, results in runs.items():
        for name, r in results.items():
            for phase, s in r.phases.items():
                print(f"| {arch} @ {sizes[arch]} | {name.split(' ')[0]} | {phase} | {_ms(s.wall_step)} | "
                      f"{_ms(s.kernel_step)} | {_fmt(_ratio(s.wall_step, s.kernel_step))} | "
                      f"{f'{s.peak / gib:.2f}' if device == 'cuda' else '-'} |")

    print(f"\n| model | phase | SEAL/baseline wall (target <= {TARGETS['SEAL/baseline']}) | SEAL/baseline kernel | "
          f"SEAL/baseline peak mem | example/SEAL wall (target >= {TARGETS['example/SEAL']}) | example/baseline wall |")
    print("|---|---|---|---|---|---|---|")
    for arch, results in runs.items():
        b, s = results.get("baseline"), results.get("SEAL")
        for phase in PHASES:
            bs, ss = (b.phases.get(phase) if b else None), (s.phases.get(phase) if s else None)
            ex = results.get(f"example {phase}")
            es = ex.phases.get(phase) if ex else None
            w = lambda st: st.wall_step if st else None  # noqa: E731
            kr = lambda st: st.kernel_step if st else None  # noqa: E731
            pk = lambda st: st.peak if st else None  # noqa: E731
            print(f"| {arch} @ {sizes[arch]} | {phase} | {_fmt(_ratio(w(ss), w(bs)), 3)} | "
                  f"{_fmt(_ratio(kr(ss), kr(bs)), 3)} | {_fmt(_ratio(pk(ss), pk(bs)), 3)} | "
                  f"{_fmt(_ratio(w(es), w(ss)))} | {_fmt(_ratio(w(es), w(bs)))} |")

    names = list(schedules)
    header = " | ".join(f"{n} {e}+{l} (s)" for n, (e, l) in schedules.items())
    print(f"\n| model | variant | {header} | quality target (s) |")
    print("|---|---|" + "---|" * len(names) + "---|")
    for arch, results in runs.items():
        target = None if args.smoke else TARGETS["quality_s"].get(arch)
        for name in ("baseline", "SEAL"):
            r = results.get(name)
            if r is None:
                continue
            cells = " | ".join(_fmt(r.estimate({"embeddings": e, "lora": l}), 1) for e, l in schedules.values())
            print(f"| {arch} @ {sizes[arch]} | {name} | {cells} | {'-' if target is None else f'<= {target:g}'} |")

    if generation:
        print(f"\n| model | stickers | steps (CFG 7.5) | batched (s) (target <= {TARGETS['generation_s']:g}) | "
              f"one at a time (s) | one at a time / batched |")
        print("|---|---|---|---|---|---|")
        for arch, t in generation.items():
            print(f"| {arch} @ {sizes[arch]} | {args.images} | {gen_steps} | {t['batched']:.2f} | "
                  f"{t['sequential']:.2f} | {t['sequential'] / t['batched']:.2f} |")
    if skipped:
        print("\nSkipped: " + "; ".join(skipped))
    print(f"\nTotal wall time {time.perf_counter() - started:.0f}s (budget {args.max_seconds:.0f}s).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
