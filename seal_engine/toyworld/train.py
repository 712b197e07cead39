"""Train the toy world once: VAE, then the attribute detector, then text encoder + UNet.

    python -m seal_engine.toyworld.train --out runs/toy --device cpu      # ~80 min on 2 cores
    python -m seal_engine.toyworld.train --out runs/toy --resume          # continue a run

Every phase is bounded by steps *and* by the wall clock (--max-seconds for the whole
invocation), checkpoints to `<out>/checkpoints/state.pt` every --checkpoint-every seconds
and at phase ends, and `--resume` continues where it stopped. The result is written as a
diffusers StableDiffusionPipeline folder with fp16 safetensors (`<out>/pipeline`), the
detector weights (`<out>/detector.safetensors`) and `<out>/training.json` (seed, steps,
seconds, device, PSNR, losses). The learning rate follows a cosine over each phase's
progress, where progress is the larger of steps done / steps planned and seconds spent /
seconds allotted, so a run cut short by its time budget still anneals.

Data are rendered once into an in-memory pool (deterministic from --seed). The VAE and
the detector see every appearance; the diffusion model never sees a held-out one.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import tarfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np

from .attributes import FACTORS, is_held_out, prompt_for, random_sticker
from .render import render_many

PHASES = ("vae", "detector", "unet", "done")


@dataclass
class Plan:
    out: Path
    device: str = "auto"
    seed: int = 0
    max_seconds: float = 4800.0
    pool: int = 0
    vae_steps: int = 6000
    detector_steps: int = 3000
    unet_steps: int = 40000
    vae_batch: int = 0
    detector_batch: int = 0
    unet_batch: int = 0
    vae_lr: float = 1e-3
    detector_lr: float = 1e-3
    unet_lr: float = 5e-4
    vae_share: float = 0.22
    detector_share: float = 0.08
    ema_decay: float = 0.999
    cfg_dropout: float = 0.1
    checkpoint_every: float = 90.0
    workers: int = 0
    resume: bool = False
    pack: Optional[Path] = None
    log_every: int = 100


@dataclass
class State:
    phase: str = "vae"
    steps: dict[str, int] = field(default_factory=lambda: {"vae": 0, "detector": 0, "unet": 0})
    seconds: dict[str, float] = field(default_factory=lambda: {"vae": 0.0, "detector": 0.0, "unet": 0.0})
    metrics: dict[str, Any] = field(default_factory=dict)
    scaling_factor: float = 1.0


def _log(msg: str) -> None:
    print(f"[toyworld {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def _lr_factor(progress: float, warmup: float = 0.02) -> float:
    if progress < warmup:
        return max(0.05, progress / warmup)
    p = min(1.0, (progress - warmup) / (1 - warmup))
    return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * p))


def _resolve_defaults(plan: Plan, device: str) -> None:
    gpu = device.startswith("cuda")
    plan.pool = plan.pool or (60000 if gpu else 16000)
    plan.vae_batch = plan.vae_batch or (128 if gpu else 32)
    plan.detector_batch = plan.detector_batch or (256 if gpu else 64)
    plan.unet_batch = plan.unet_batch or (256 if gpu else 32)
    plan.workers = plan.workers or min(16, os.cpu_count() or 1)


class Trainer:
    def __init__(self, plan: Plan) -> None:
        import torch

        self.torch = torch
        self.plan = plan
        dev = plan.device
        if dev == "auto":
            dev = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = dev
        _resolve_defaults(plan, dev)
        if dev.startswith("cuda"):
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True
        self.t0 = time.perf_counter()
        self.ckpt_dir = plan.out / "checkpoints"
        self.ckpt_path = self.ckpt_dir / "state.pt"
        self.state = State()
        self._last_ckpt = time.perf_counter()

        from .model import make_text_encoder, make_train_scheduler, make_unet, make_vae, new_tokenizer
        from .detectors import build_cnn

        self._render_pool()  # before any CUDA work: the render pool forks
        torch.manual_seed(plan.seed)
        self.tokenizer = new_tokenizer(plan.out / "tokenizer_src")
        self.vae = make_vae().to(dev)
        self.text = make_text_encoder().to(dev)
        self.unet = make_unet().to(dev)
        self.det = build_cnn().to(dev)
        self.ema_text = make_text_encoder().to(dev)
        self.ema_unet = make_unet().to(dev)
        self.ema_text.load_state_dict(self.text.state_dict())
        self.ema_unet.load_state_dict(self.unet.state_dict())
        for m in (self.ema_text, self.ema_unet):
            m.requires_grad_(False)
        self.noise_sched = make_train_scheduler()
        self.opt: Any = None
        self.opt_state: Optional[dict] = None
        if plan.resume and self.ckpt_path.is_file():
            self._load()
            if self.state.phase == "done" and self.state.steps["unet"] < plan.unet_steps:
                self.state.phase = "unet"
        self._pool_to_device()

    # ---------------------------------------------------------------- data
    def _render_pool(self) -> None:
        t = time.perf_counter()
        rng = random.Random(self.plan.seed)
        self.stickers = [random_sticker(rng, allow_held_out=True) for _ in range(self.plan.pool)]
        self._pool_np = render_many(self.stickers, seed=self.plan.seed, workers=self.plan.workers)
        self._render_seconds = time.perf_counter() - t

    def _pool_to_device(self) -> None:
        torch = self.torch
        self.images = torch.from_numpy(self._pool_np).to(self.device)  # uint8 N,64,64,3
        del self._pool_np
        self.labels = {f: torch.tensor([FACTORS[f].index(getattr(s, f)) for s in self.stickers], device=self.device)
                       for f in FACTORS}
        self.train_idx = torch.tensor([i for i, s in enumerate(self.stickers) if not is_held_out(s)], device=self.device)
        _log(f"rendered pool of {len(self.stickers)} images ({len(self.train_idx)} trainable for diffusion) "
             f"in {self._render_seconds:.1f}s with {self.plan.workers} workers")

    def _batch_images(self, idx):
        return self.images[idx].permute(0, 3, 1, 2).float().div(127.5).sub(1.0)

    # ---------------------------------------------------------------- checkpoint
    def _save(self) -> None:
        torch = self.torch
        self.ckpt_dir.mkdir(parents=True, exist_ok=True)
        blob = {
            "state": asdict(self.state),
            "vae": self.vae.state_dict(), "text": self.text.state_dict(), "unet": self.unet.state_dict(),
            "det": self.det.state_dict(), "ema_text": self.ema_text.state_dict(),
            "ema_unet": self.ema_unet.state_dict(),
            "opt": self.opt.state_dict() if self.opt is not None else None,
            "torch_rng": torch.get_rng_state(),
        }
        tmp = self.ckpt_path.with_suffix(".tmp")
        torch.save(blob, tmp)
        os.replace(tmp, self.ckpt_path)
        self._last_ckpt = time.perf_counter()

    def _load(self) -> None:
        torch = self.torch
        blob = torch.load(self.ckpt_path, map_location=self.device, weights_only=False)
        self.state = State(**blob["state"])
        for name in ("vae", "text", "unet", "det", "ema_text", "ema_unet"):
            getattr(self, name).load_state_dict(blob[name])
        self.opt_state = blob["opt"]
        torch.set_rng_state(blob["torch_rng"].cpu())
        _log(f"resumed at phase {self.state.phase}, steps {self.state.steps}")

    def _maybe_checkpoint(self) -> None:
        if time.perf_counter() - self._last_ckpt > self.plan.checkpoint_every:
            self._save()

    # ---------------------------------------------------------------- time
    def _remaining(self) -> float:
        return self.plan.max_seconds - (time.perf_counter() - self.t0)

    def _phase_budget(self, phase: str) -> float:
        """Seconds this phase may still use in this invocation (reserve 5% + 20 s for export)."""
        left = self._remaining() - (20.0 + 0.05 * self.plan.max_seconds)
        if phase == "vae":
            return min(left, self.plan.vae_share * self.plan.max_seconds)
        if phase == "detector":
            return min(left, self.plan.detector_share * self.plan.max_seconds)
        return left

    def _make_opt(self, params, lr: float):
        torch = self.torch
        opt = torch.optim.AdamW(params, lr=lr, weight_decay=1e-4 if lr else 0.0)
        if self.opt_state is not None:
            try:
                opt.load_state_dict(self.opt_state)
            except (ValueError, KeyError):
                pass
            self.opt_state = None
        self.opt = opt
        return opt

    def _run_phase(self, phase: str, planned_steps: int, lr: float, step_fn) -> None:
        budget = self._phase_budget(phase)
        start = time.perf_counter()
        sec0 = self.state.seconds[phase]
        total_time = sec0 + max(0.0, budget)
        opt = self.opt
        while self.state.steps[phase] < planned_steps:
            spent = time.perf_counter() - start
            if spent >= budget:
                _log(f"{phase}: time budget reached")
                break
            progress = max(self.state.steps[phase] / planned_steps, (sec0 + spent) / max(1e-6, total_time))
            for g in opt.param_groups:
                g["lr"] = lr * _lr_factor(progress)
            losses = step_fn()
            self.state.steps[phase] += 1
            self.state.seconds[phase] = sec0 + (time.perf_counter() - start)
            n = self.state.steps[phase]
            if n % self.plan.log_every == 0 or n == 1:
                rate = (n - 0) / max(1e-6, self.state.seconds[phase])
                _log(f"{phase} step {n}/{planned_steps} " + " ".join(f"{k}={v:.4f}" for k, v in losses.items())
                     + f" lr={opt.param_groups[0]['lr']:.2e} {rate:.1f} it/s")
            self._maybe_checkpoint()
        self.state.seconds[phase] = sec0 + (time.perf_counter() - start)

    # ---------------------------------------------------------------- phases
    def train_vae(self) -> None:
        torch = self.torch
        p = self.plan
        opt = self._make_opt(self.vae.parameters(), p.vae_lr)
        self.vae.train()
        n = len(self.images)

        def step() -> dict[str, float]:
            idx = torch.randint(0, n, (p.vae_batch,), device=self.device)
            x = self._batch_images(idx)
            post = self.vae.encode(x).latent_dist
            z = post.sample()
            rec = self.vae.decode(z).sample
            mse = torch.nn.functional.mse_loss(rec, x)
            l1 = (rec - x).abs().mean()
            kl = post.kl().mean() / (16 * 16 * 4)
            loss = mse + 0.2 * l1 + 1e-5 * kl
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.vae.parameters(), 1.0)
            opt.step()
            psnr = 10 * math.log10(4.0 / max(1e-10, mse.item()))
            return {"mse": mse.item(), "psnr": psnr, "kl": kl.item()}

        self._run_phase("vae", p.vae_steps, p.vae_lr, step)
        self.vae.eval()
        self.state.metrics["vae_psnr_db"] = self.vae_psnr()
        sf = self._latent_scale()
        self.state.scaling_factor = sf
        _log(f"vae done: PSNR {self.state.metrics['vae_psnr_db']:.2f} dB, scaling factor {sf:.4f}")

    def vae_psnr(self, count: int = 0) -> float:
        """PSNR of VAE round-trips (latent mean) on fresh renders not in the pool."""
        torch = self.torch
        from .render import render_batch

        count = count or min(1000 if self.device.startswith("cuda") else 200, max(16, self.plan.pool // 2))
        rng = random.Random(self.plan.seed + 777)
        imgs = render_batch([random_sticker(rng, allow_held_out=True) for _ in range(count)], seed=self.plan.seed + 777)
        x = torch.from_numpy(imgs).to(self.device).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)
        with torch.no_grad():
            mses = []
            for i in range(0, count, 250):
                xb = x[i:i + 250]
                rec = self.vae.decode(self.vae.encode(xb).latent_dist.mean).sample.clamp(-1, 1)
                # PSNR on 8-bit images, as a user sees them
                a = ((rec + 1) * 127.5).round()
                b = ((xb + 1) * 127.5).round()
                mses.append(((a - b) ** 2).mean().item())
        return 10 * math.log10(255.0 ** 2 / float(np.mean(mses)))

    def _latent_scale(self) -> float:
        torch = self.torch
        with torch.no_grad():
            idx = torch.arange(0, min(2000 if self.device.startswith("cuda") else 256, len(self.images)), device=self.device)
            z = torch.cat([self.vae.encode(self._batch_images(idx[i:i + 250])).latent_dist.mean
                           for i in range(0, len(idx), 250)])
        return float(1.0 / z.std().item())

    def train_detector(self) -> None:
        torch = self.torch
        p = self.plan
        opt = self._make_opt(self.det.parameters(), p.detector_lr)
        self.det.train()
        n = len(self.images)
        ce = torch.nn.functional.cross_entropy

        def step() -> dict[str, float]:
            idx = torch.randint(0, n, (p.detector_batch,), device=self.device)
            x = self._batch_images(idx)
            with torch.no_grad():
                half = p.detector_batch // 2
                # VAE round-trips (sampled latents: a bit noisier than generation sees)
                x[:half] = self.vae.decode(self.vae.encode(x[:half]).latent_dist.sample()).sample.clamp(-1, 1)
                sigma = torch.rand(len(x), 1, 1, 1, device=self.device) * 0.08
                x = x + sigma * torch.randn_like(x)
            out = self.det(x)
            loss = sum(ce(out[f], self.labels[f][idx]) for f in FACTORS)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            return {"ce": float(loss.item())}

        self._run_phase("detector", p.detector_steps, p.detector_lr, step)
        self.det.eval()
        _log("detector done")

    def _encode_pool(self) -> None:
        torch = self.torch
        t = time.perf_counter()
        idx = self.train_idx
        sf = self.state.scaling_factor
        with torch.no_grad():
            self.latents = torch.cat([self.vae.encode(self._batch_images(idx[i:i + 500])).latent_dist.mean * sf
                                      for i in range(0, len(idx), 500)])
        prompts = [prompt_for(self.stickers[int(i)]) for i in idx.tolist()]
        ids = self.tokenizer(prompts, padding="max_length", max_length=77, truncation=True, return_tensors="pt").input_ids
        self.prompt_ids = ids.to(self.device)
        self.empty_ids = self.tokenizer([""], padding="max_length", max_length=77, return_tensors="pt").input_ids.to(self.device)
        _log(f"encoded {len(idx)} latents (std {self.latents.std().item():.3f}) and prompts in {time.perf_counter() - t:.1f}s")

    def train_unet(self) -> None:
        torch = self.torch
        p = self.plan
        self._encode_pool()
        params = list(self.unet.parameters()) + list(self.text.parameters())
        opt = self._make_opt(params, p.unet_lr)
        self.unet.train()
        self.text.train()
        n = len(self.latents)
        sched = self.noise_sched
        alphas = sched.alphas_cumprod.to(self.device)

        def step() -> dict[str, float]:
            idx = torch.randint(0, n, (p.unet_batch,), device=self.device)
            z0 = self.latents[idx]
            ids = self.prompt_ids[idx].clone()
            drop = torch.rand(len(ids), device=self.device) < p.cfg_dropout
            ids[drop] = self.empty_ids[0]
            noise = torch.randn_like(z0)
            t = torch.randint(0, sched.config.num_train_timesteps, (len(z0),), device=self.device)
            a = alphas[t].sqrt().view(-1, 1, 1, 1)
            s = (1 - alphas[t]).sqrt().view(-1, 1, 1, 1)
            zt = a * z0 + s * noise
            target = a * noise - s * z0  # v-prediction
            cond = self.text(ids)[0]
            pred = self.unet(zt, t, encoder_hidden_states=cond).sample
            loss = torch.nn.functional.mse_loss(pred, target)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            k = self.state.steps["unet"]
            decay = min(p.ema_decay, (1 + k) / (10 + k))
            with torch.no_grad():
                for ema, cur in ((self.ema_unet, self.unet), (self.ema_text, self.text)):
                    for pe, pc in zip(ema.parameters(), cur.parameters()):
                        pe.lerp_(pc, 1 - decay)
            return {"loss": float(loss.item())}

        self._run_phase("unet", p.unet_steps, p.unet_lr, step)
        _log("unet phase ended")

    # ---------------------------------------------------------------- export
    def export(self) -> Path:
        torch = self.torch
        from safetensors.torch import save_file

        from .model import assemble_pipeline, save_pipeline_fp16

        out = self.plan.out
        self.vae.register_to_config(scaling_factor=self.state.scaling_factor)
        pipe = assemble_pipeline(self.tokenizer, self.ema_text, self.vae, self.ema_unet)
        target = out / "pipeline"
        tmp = out / ".pipeline.tmp"
        if tmp.exists():
            import shutil

            shutil.rmtree(tmp)
        save_pipeline_fp16(pipe, tmp)
        if target.exists():
            import shutil

            shutil.rmtree(target)
        os.replace(tmp, target)
        save_file({k: v.detach().to("cpu", torch.float16).contiguous() for k, v in self.det.state_dict().items()},
                  str(out / "detector.safetensors"))
        info = {
            "seed": self.plan.seed,
            "device": self.device,
            "device_name": torch.cuda.get_device_name() if self.device.startswith("cuda") else "cpu",
            "torch": torch.__version__,
            "steps": self.state.steps,
            "seconds": {k: round(v, 1) for k, v in self.state.seconds.items()},
            "batch": {"vae": self.plan.vae_batch, "detector": self.plan.detector_batch, "unet": self.plan.unet_batch},
            "pool": self.plan.pool,
            "phase": self.state.phase,
            "scaling_factor": self.state.scaling_factor,
            "metrics": self.state.metrics,
            "command": " ".join(sys.argv),
        }
        (out / "training.json").write_text(json.dumps(info, indent=2), encoding="utf-8")
        _log(f"exported pipeline to {target}")
        return target

    def run(self) -> Path:
        st = self.state
        try:
            self._run_phases()
        except Exception:  # a crash mid-run still exports what was learned, then re-raises
            import traceback

            traceback.print_exc()
            self._save()
            self.export()
            raise
        path = self.export()
        if self.plan.pack:
            pack(self.plan.out, self.plan.pack)
        _log(f"total {time.perf_counter() - self.t0:.0f}s; steps {st.steps}")
        return path

    def _run_phases(self) -> None:
        st = self.state
        if True:
            if st.phase == "vae":
                self.train_vae()
                st.phase = "detector"
                self._save()
            if st.phase == "detector":
                self.train_detector()
                st.phase = "unet"
                self._save()
            if st.phase == "unet":
                self.train_unet()
                if st.steps["unet"] >= self.plan.unet_steps:
                    st.phase = "done"
                self._save()
            if "vae_psnr_db" not in st.metrics:
                st.metrics["vae_psnr_db"] = self.vae_psnr()


def pack(out: Path, folder: Path) -> Path:
    """Flat copies for transfer: pipeline.tar, detector.safetensors, training.json."""
    import shutil

    folder.mkdir(parents=True, exist_ok=True)
    with tarfile.open(folder / "pipeline.tar", "w") as tf:
        tf.add(out / "pipeline", arcname="pipeline")
    for name in ("detector.safetensors", "training.json"):
        if (out / name).exists():
            shutil.copyfile(out / name, folder / name)
    return folder


def parse_args(argv: Optional[list[str]] = None) -> Plan:
    ap = argparse.ArgumentParser(prog="python -m seal_engine.toyworld.train", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True, help="run folder (checkpoints, pipeline, detector)")
    ap.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:0 ...")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-seconds", type=float, default=4800.0, help="wall-clock budget of this invocation")
    ap.add_argument("--pool", type=int, default=0, help="rendered images held in memory (default: 60000 GPU, 16000 CPU)")
    for name in ("vae", "detector", "unet"):
        ap.add_argument(f"--{name}-steps", type=int, default=getattr(Plan, f"{name}_steps"))
        ap.add_argument(f"--{name}-batch", type=int, default=0)
    ap.add_argument("--vae-share", type=float, default=Plan.vae_share, help="fraction of --max-seconds for the VAE")
    ap.add_argument("--detector-share", type=float, default=Plan.detector_share)
    ap.add_argument("--checkpoint-every", type=float, default=Plan.checkpoint_every, help="seconds")
    ap.add_argument("--workers", type=int, default=0, help="render processes (default: CPU count, max 16)")
    ap.add_argument("--log-every", type=int, default=100)
    ap.add_argument("--resume", action="store_true", help="continue from <out>/checkpoints/state.pt")
    ap.add_argument("--pack", type=Path, default=None,
                    help="also write pipeline.tar, detector.safetensors and training.json into this folder")
    a = ap.parse_args(argv)
    return Plan(out=a.out, device=a.device, seed=a.seed, max_seconds=a.max_seconds, pool=a.pool,
                vae_steps=a.vae_steps, detector_steps=a.detector_steps, unet_steps=a.unet_steps,
                vae_batch=a.vae_batch, detector_batch=a.detector_batch, unet_batch=a.unet_batch,
                vae_share=a.vae_share, detector_share=a.detector_share, checkpoint_every=a.checkpoint_every,
                workers=a.workers, resume=a.resume, pack=a.pack, log_every=a.log_every)


def main(argv: Optional[list[str]] = None) -> int:
    plan = parse_args(argv)
    plan.out.mkdir(parents=True, exist_ok=True)
    Trainer(plan).run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
