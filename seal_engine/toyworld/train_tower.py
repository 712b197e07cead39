"""Train the toy world's image tower: a tiny CLIP whose text tower IS the toy text encoder.

    python -m seal_engine.toyworld.train_tower --out runs/tower --device cpu --max-seconds 900
    python -m seal_engine.toyworld.train_tower --out runs/tower --resume      # continue a run

Why: SEAL's image-embedding start and the zero-shot caption of a reference need a CLIP
pair whose text tower matches the diffusion model's text encoder (on SD1.5 that is CLIP
ViT-L/14's text tower). The toy world has no such pair, so we build one: the shipped toy
text encoder, frozen, plus a tiny ViT, `visual_projection` and `text_projection`, trained
contrastively on fresh renders and their prompts.

Because the text tower is frozen, the pooled output of every prompt the world can say is
computed once (60 appearances x 864 contexts, plus the 864 contexts with the class word
alone); training then only runs the ViT and the two projections. Three softmax terms per
image: (1) among the 864 "a creature, <context>" prompts (exactly what the zero-shot
caption scores), (2) among the training appearances with the true context (identity), and
(3) the usual symmetric in-batch CLIP loss on full prompts. Held-out appearances are never
rendered for training; they are what the evaluation renders.

Data are rendered on the fly (about 0.5 ms per sticker), seeded per step, so a resumed
run sees the same stream. The result is a transformers CLIPModel folder (fp16
safetensors) with the tokenizer, `caption_vocabulary.json` and `training.json`.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import random
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np

from .attributes import CLASS_WORD, FACTORS, HELD_OUT_APPEARANCES, SCHEMA, Sticker, prompt_for
from .render import render

CONTEXT_FACTORS: tuple[str, ...] = ("emotion", "action", "scale", "position", "style", "background")
APPEARANCES: tuple[tuple[str, str, str], ...] = tuple(
    itertools.product(FACTORS["shape"], FACTORS["colour"], FACTORS["accessory"]))
TRAIN_APPEARANCES = tuple(a for a in APPEARANCES if a not in HELD_OUT_APPEARANCES)
HELD_OUT_INDEX = tuple(APPEARANCES.index(a) for a in HELD_OUT_APPEARANCES)
TRAIN_INDEX = tuple(APPEARANCES.index(a) for a in TRAIN_APPEARANCES)
CONTEXTS: tuple[dict[str, str], ...] = tuple(
    dict(zip(CONTEXT_FACTORS, values)) for values in itertools.product(*(FACTORS[f] for f in CONTEXT_FACTORS)))

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
IMAGE_SIZE = 64


def context_index(s: Sticker) -> int:
    idx = 0
    for f in CONTEXT_FACTORS:
        idx = idx * len(FACTORS[f]) + FACTORS[f].index(getattr(s, f))
    return idx


def sticker_of(appearance: tuple[str, str, str], ctx: dict[str, str]) -> Sticker:
    shape, colour, accessory = appearance
    return Sticker(shape=shape, colour=colour, accessory=accessory, **ctx)


@dataclass
class Plan:
    out: Path
    device: str = "cpu"
    seed: int = 0
    max_seconds: float = 900.0
    steps: int = 20000
    batch: int = 128
    lr: float = 1e-3
    weight_decay: float = 0.05
    warmup: int = 150
    hidden: int = 128
    layers: int = 4
    heads: int = 4
    patch: int = 8
    checkpoint_every: float = 90.0
    eval_every: float = 180.0
    eval_n: int = 500
    threads: int = 1
    resume: bool = False
    budget: str = "wall"  # what --max-seconds counts: wall-clock or this process's CPU seconds
    text_encoder: Optional[Path] = None


def toy_pipeline_dir() -> Path:
    from .model import default_pipeline_dir

    return default_pipeline_dir()


def build_tower(plan: Plan, text_encoder_dir: Path) -> Any:
    """A CLIPModel whose text tower is the toy text encoder (weights copied, then frozen)."""
    import torch
    from transformers import CLIPConfig, CLIPModel, CLIPTextModel

    te = CLIPTextModel.from_pretrained(str(text_encoder_dir), torch_dtype=torch.float32)
    text_cfg = te.config.to_dict()
    for k in ("architectures", "dtype", "torch_dtype", "transformers_version", "_name_or_path"):
        text_cfg.pop(k, None)
    vision_cfg = dict(hidden_size=plan.hidden, intermediate_size=4 * plan.hidden, num_hidden_layers=plan.layers,
                      num_attention_heads=plan.heads, image_size=IMAGE_SIZE, patch_size=plan.patch,
                      hidden_act="quick_gelu", projection_dim=te.config.hidden_size)
    cfg = CLIPConfig(text_config=text_cfg, vision_config=vision_cfg, projection_dim=te.config.hidden_size)
    torch.manual_seed(plan.seed)
    model = CLIPModel(cfg)
    source = getattr(te, "text_model", te)  # transformers 5 flattens CLIPTextModel
    missing = model.text_model.load_state_dict(source.state_dict())
    assert not missing.missing_keys and not missing.unexpected_keys, missing
    model.text_model.requires_grad_(False)
    with torch.no_grad():  # identity start; the trainer replaces it by a whitening of the pooled outputs
        model.text_projection.weight.copy_(torch.eye(cfg.projection_dim, te.config.hidden_size))
    return model


def all_prompts() -> tuple[list[str], list[str]]:
    """(full prompts, 60*864 in appearance-major order; class-word prompts, 864)."""
    full = [prompt_for(sticker_of(a, c)) for a in APPEARANCES for c in CONTEXTS]
    bare = [prompt_for(sticker_of(APPEARANCES[0], c), identity=CLASS_WORD) for c in CONTEXTS]
    return full, bare


def pooled_bank(text_model: Any, tokenizer: Any, prompts: list[str], batch: int = 1024) -> Any:
    """Pooled (EOS) outputs of the frozen text tower for every prompt, (n, hidden) fp32."""
    import torch

    chunks = []
    with torch.inference_mode():
        for i in range(0, len(prompts), batch):
            ids = tokenizer(prompts[i:i + batch], padding=True, return_tensors="pt").input_ids
            chunks.append(text_model(input_ids=ids).pooler_output.float())
    return torch.cat(chunks)


def whitening(pooled: Any, eps: float = 1e-3) -> Any:
    """(E[x x^T] + eps * max eigenvalue)^(-1/2) over the pooled outputs: the initial text_projection.

    Why: in the frozen toy encoder's pooled space, prompts that differ only in the emotion
    word are 0.07 apart (normalised) against 0.85 for style or background, so at an
    identity projection emotion barely moves the logits and the vision tower gets almost no
    signal for it. Whitening (no centring: text_projection has no bias) brings every
    factor's direction to a comparable scale from the first step (emotion 0.31, action
    0.69, the others 0.8-1.2).
    """
    import torch

    x = pooled.double()
    s, u = torch.linalg.eigh(x.T @ x / len(x))
    w = u @ torch.diag((s.clamp_min(0) + eps * s.max()).rsqrt()) @ u.T
    return w.float()


def images_to_tensor(arrays: np.ndarray) -> Any:
    """(n, 64, 64, 3) uint8 -> normalised (n, 3, 64, 64) float, CLIP mean/std (the pair's preprocessing)."""
    import torch

    x = torch.from_numpy(np.ascontiguousarray(arrays)).permute(0, 3, 1, 2).float() / 255.0
    mean = torch.tensor(CLIP_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(CLIP_STD).view(1, 3, 1, 1)
    return (x - mean) / std


def sample_batch(rng: random.Random, n: int, appearances: tuple) -> tuple[np.ndarray, list[int], list[int]]:
    arrays = np.empty((n, IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8)
    app_idx, ctx_idx = [], []
    for i in range(n):
        a = rng.choice(appearances)
        c = rng.randrange(len(CONTEXTS))
        arrays[i] = render(sticker_of(a, CONTEXTS[c]), rng)
        app_idx.append(APPEARANCES.index(a))
        ctx_idx.append(c)
    return arrays, app_idx, ctx_idx


def held_out_set(n: int, seed: int = 4242) -> tuple[np.ndarray, list[int], list[int]]:
    """n fresh renders of the six held-out appearances, every context factor uniform."""
    return sample_batch(random.Random(seed), n, HELD_OUT_APPEARANCES)


def _normalise(x: Any) -> Any:
    return x / x.norm(dim=-1, keepdim=True).clamp_min(1e-12)


def evaluate_bank(model: Any, full: Any, bare: Any, data: tuple[np.ndarray, list[int], list[int]]) -> dict[str, float]:
    """Zero-shot caption accuracy per context factor (argmax over the 864 class-word prompts)
    and appearance retrieval among the 60 appearances (full prompts with the true context)."""
    import torch

    arrays, app_idx, ctx_idx = data
    with torch.inference_mode():
        v = _normalise(model.visual_projection(model.vision_model(pixel_values=images_to_tensor(arrays)).pooler_output))
        t_bare = _normalise(model.text_projection(bare))
        pred_ctx = (v @ t_bare.T).argmax(dim=1).tolist()
        n_ctx = len(CONTEXTS)
        cand = full.view(len(APPEARANCES), n_ctx, -1)[:, torch.tensor(ctx_idx)]  # (60, n, h)
        t_full = _normalise(model.text_projection(cand))
        pred_app = torch.einsum("nd,and->na", v, t_full).argmax(dim=1).tolist()
    out: dict[str, float] = {}
    for f in CONTEXT_FACTORS:
        hits = [CONTEXTS[p][f] == CONTEXTS[t][f] for p, t in zip(pred_ctx, ctx_idx)]
        out[f] = float(np.mean(hits))
    out["all_context"] = float(np.mean([p == t for p, t in zip(pred_ctx, ctx_idx)]))
    out["appearance_retrieval"] = float(np.mean([p == t for p, t in zip(pred_app, app_idx)]))
    return out


def caption_vocabulary_dict() -> dict[str, Any]:
    """The toy world's caption vocabulary: candidate words per factor and its exact prompt form."""
    from .attributes import _ACTION_WORDS, _POSITION_WORDS, _SCALE_WORDS
    from .render import BACKGROUND_RGB

    phrases = {
        "emotion": {v: v for v in FACTORS["emotion"]},
        "action": dict(_ACTION_WORDS),
        "scale": dict(_SCALE_WORDS),
        "position": dict(_POSITION_WORDS),
        "style": {v: f"{v} style" for v in FACTORS["style"]},
        "background": {v: v for v in FACTORS["background"]},
    }
    return {
        "format_version": 1,
        "name": "toyworld",
        "prefix": "a {subject}, ",
        "context": "{emotion}, {action}, {scale}, {position}, {style}, on a {background} background",
        "neutral_subject": CLASS_WORD,
        "attributes": {f: {"schema": next(k for k, v in SCHEMA.items() if f in v), "phrases": phrases[f]}
                       for f in CONTEXT_FACTORS},
        "search": "exhaustive",
        "swatches": {v: list(BACKGROUND_RGB[v]) for v in FACTORS["background"]},
    }


class _Trainer:
    def __init__(self, plan: Plan) -> None:
        import torch

        from .vocab import load_tokenizer

        self.plan = plan
        self.t0 = time.perf_counter()
        self.c0 = time.process_time()
        torch.set_num_threads(plan.threads)
        plan.out.mkdir(parents=True, exist_ok=True)
        self.log_path = plan.out / "training.log"
        te_dir = Path(plan.text_encoder or toy_pipeline_dir() / "text_encoder")
        self.tokenizer_dir = te_dir.parent / "tokenizer"
        self.tokenizer = load_tokenizer(self.tokenizer_dir)
        self.model = build_tower(plan, te_dir)
        bank_path = plan.out / "text_bank.pt"
        if bank_path.is_file():
            bank = torch.load(bank_path)
        else:
            full, bare = all_prompts()
            t = time.perf_counter()
            bank = {"full": pooled_bank(self.model.text_model, self.tokenizer, full),
                    "bare": pooled_bank(self.model.text_model, self.tokenizer, bare)}
            torch.save(bank, bank_path)
            self.log(f"text bank: {len(full)} + {len(bare)} prompts in {time.perf_counter() - t:.1f}s")
        self.full, self.bare = bank["full"], bank["bare"]
        with torch.no_grad():  # overwritten by a resumed state below
            self.model.text_projection.weight.copy_(whitening(torch.cat([self.full, self.bare])))
        self.params = [p for n, p in self.model.named_parameters() if p.requires_grad]
        self.opt = torch.optim.AdamW(self.params, lr=plan.lr, weight_decay=plan.weight_decay, betas=(0.9, 0.98))
        self.step = 0
        self.seconds_done = 0.0
        self.cpu_done = 0.0
        self.history: list[dict[str, Any]] = []
        self.ckpt = plan.out / "state.pt"
        if plan.resume and self.ckpt.is_file():
            state = torch.load(self.ckpt, weights_only=False)
            self.model.load_state_dict(state["model"])
            self.opt.load_state_dict(state["opt"])
            self.step, self.seconds_done, self.history = state["step"], state["seconds"], state["history"]
            self.cpu_done = state.get("cpu_seconds", state["seconds"])  # unknown: count it as wall time
            self.log(f"resumed at step {self.step} ({self.seconds_done:.0f}s, {self.cpu_done:.0f} cpu-s done)")
        self.eval_data = held_out_set(min(plan.eval_n, 200))

    def log(self, msg: str) -> None:
        line = f"[{time.perf_counter() - self.t0:7.1f}s] {msg}"
        print(line, flush=True)
        with self.log_path.open("a", encoding="utf-8") as fh:
            fh.write(line + "\n")

    def elapsed(self) -> float:
        return self.seconds_done + time.perf_counter() - self.t0

    def cpu_elapsed(self) -> float:
        return self.cpu_done + time.process_time() - self.c0

    def spent(self) -> float:
        """Seconds counted against --max-seconds: wall clock, or CPU seconds on a shared machine."""
        return self.cpu_elapsed() if self.plan.budget == "cpu" else self.elapsed()

    def save(self) -> None:
        import torch

        tmp = self.ckpt.with_suffix(".tmp")
        torch.save({"model": self.model.state_dict(), "opt": self.opt.state_dict(), "step": self.step,
                    "seconds": self.elapsed(), "cpu_seconds": self.cpu_elapsed(), "history": self.history}, tmp)
        tmp.replace(self.ckpt)

    def lr_at(self, progress: float) -> float:
        warm = min(1.0, (self.step + 1) / self.plan.warmup)
        return self.plan.lr * warm * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))

    def train_step(self) -> dict[str, float]:
        import torch
        import torch.nn.functional as F

        p = self.plan
        rng = random.Random(p.seed * 1_000_003 + self.step)
        arrays, app_idx, ctx_idx = sample_batch(rng, p.batch, TRAIN_APPEARANCES)
        m = self.model
        v = _normalise(m.visual_projection(m.vision_model(pixel_values=images_to_tensor(arrays)).pooler_output))
        scale = m.logit_scale.clamp(max=math.log(100.0)).exp()
        ctx_t = torch.tensor(ctx_idx)
        # (1) which of the 864 contexts (class word only): the zero-shot caption's own question
        t_bare = _normalise(m.text_projection(self.bare))
        loss_ctx = F.cross_entropy(scale * v @ t_bare.T, ctx_t)
        # (2) which training appearance, given the true context
        n_ctx = len(CONTEXTS)
        cand = self.full.view(len(APPEARANCES), n_ctx, -1)[torch.tensor(TRAIN_INDEX)][:, ctx_t]  # (54, B, h)
        t_cand = _normalise(m.text_projection(cand))
        target_app = torch.tensor([TRAIN_INDEX.index(a) for a in app_idx])
        loss_app = F.cross_entropy(scale * torch.einsum("bd,abd->ba", v, t_cand), target_app)
        # (3) symmetric in-batch CLIP loss on the full prompts
        t_full = t_cand[target_app, torch.arange(p.batch)]
        logits = scale * v @ t_full.T
        same = torch.tensor([[a == b and c == d for b, d in zip(app_idx, ctx_idx)] for a, c in zip(app_idx, ctx_idx)])
        logits = logits.masked_fill(same & ~torch.eye(p.batch, dtype=torch.bool), -1e4)
        labels = torch.arange(p.batch)
        loss_clip = 0.5 * (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels))
        loss = loss_ctx + loss_app + loss_clip
        for g in self.opt.param_groups:
            g["lr"] = self.lr_at(max(self.step / p.steps, self.spent() / p.max_seconds))
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.params, 1.0)
        self.opt.step()
        self.step += 1
        return {"loss": float(loss), "ctx": float(loss_ctx), "app": float(loss_app), "clip": float(loss_clip),
                "scale": float(scale)}

    def run(self) -> dict[str, Any]:
        p = self.plan
        last_ckpt = last_eval = last_log = time.perf_counter()
        stats: dict[str, float] = {}
        while self.step < p.steps and self.spent() < p.max_seconds - 30.0:
            stats = self.train_step()
            now = time.perf_counter()
            if now - last_log > 20:
                self.log(f"step {self.step} " + " ".join(f"{k}={v:.3f}" for k, v in stats.items()))
                last_log = now
            if now - last_eval > p.eval_every:
                acc = evaluate_bank(self.model, self.full, self.bare, self.eval_data)
                self.history.append({"step": self.step, "seconds": round(self.elapsed(), 1),
                                     "cpu_seconds": round(self.cpu_elapsed(), 1), **acc})
                self.log(f"eval {json.dumps({k: round(v, 3) for k, v in acc.items()})}")
                last_eval = now
            if now - last_ckpt > p.checkpoint_every:
                self.save()
                last_ckpt = now
        self.save()
        return stats


def export(model: Any, tokenizer_dir: Path, folder: Path) -> Path:
    """fp16 CLIPModel folder + tokenizer + caption vocabulary (staged, then renamed)."""
    import copy

    import torch

    from ..atomic import atomic_write_json, staged_dir

    with staged_dir(folder, overwrite=True) as tmp:
        half = copy.deepcopy(model).to(torch.float16)
        half.save_pretrained(str(tmp), safe_serialization=True)
        for f in tokenizer_dir.iterdir():
            if f.is_file():
                shutil.copy2(f, tmp / f.name)
        atomic_write_json(tmp / "caption_vocabulary.json", caption_vocabulary_dict())
    return folder


def parse_args(argv: Optional[list[str]]) -> Plan:
    ap = argparse.ArgumentParser(prog="python -m seal_engine.toyworld.train_tower", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--device", default="cpu", choices=["cpu"], help="the tower trains on CPU")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-seconds", type=float, default=900.0, help="wall-clock budget (summed over resumes)")
    ap.add_argument("--steps", type=int, default=Plan.steps)
    ap.add_argument("--batch", type=int, default=Plan.batch)
    ap.add_argument("--lr", type=float, default=Plan.lr)
    ap.add_argument("--layers", type=int, default=Plan.layers)
    ap.add_argument("--hidden", type=int, default=Plan.hidden)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--eval-n", type=int, default=500)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--budget", choices=["wall", "cpu"], default="wall",
                    help="what --max-seconds counts: wall clock, or CPU seconds (a shared machine)")
    a = ap.parse_args(argv)
    return Plan(out=a.out, device=a.device, seed=a.seed, max_seconds=a.max_seconds, steps=a.steps, batch=a.batch,
                lr=a.lr, layers=a.layers, hidden=a.hidden, threads=a.threads, eval_n=a.eval_n, resume=a.resume,
                budget=a.budget)


def main(argv: Optional[list[str]] = None) -> int:
    plan = parse_args(argv)
    tr = _Trainer(plan)
    tr.log(f"plan {json.dumps({k: str(v) for k, v in asdict(plan).items()})}")
    stats = tr.run()
    folder = export(tr.model, tr.tokenizer_dir, plan.out / "image_tower")
    # Evaluate the exported fp16 weights through the public API, as the app uses them.
    from .tower_eval import evaluate_tower

    t = time.perf_counter()
    table = evaluate_tower(folder, n=plan.eval_n)
    tr.log(f"final (exported fp16, {plan.eval_n} held-out renders, {time.perf_counter() - t:.0f}s): {json.dumps(table)}")
    record = {
        "kind": "toyworld",
        "command": "python -m seal_engine.toyworld.train_tower " + " ".join(sys.argv[1:] if argv is None else argv),
        "seed": plan.seed, "steps": tr.step, "seconds": round(tr.elapsed(), 1),
        "cpu_seconds": round(tr.cpu_elapsed(), 1), "budget": plan.budget, "device": "cpu",
        "threads": plan.threads, "batch": plan.batch, "lr": plan.lr,
        "vision": {"hidden": plan.hidden, "layers": plan.layers, "heads": plan.heads, "patch": plan.patch,
                   "image_size": IMAGE_SIZE},
        "final_losses": stats, "history": tr.history,
        "held_out_eval": {"renders": plan.eval_n, "appearances": [list(a) for a in HELD_OUT_APPEARANCES],
                          "accuracy": table},
    }
    from ..atomic import atomic_write_json

    atomic_write_json(folder / "training.json", record)
    tr.log(f"wrote {folder}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
