"""Learn a character from ONE reference image: test-time fine-tuning plus SEAL's components.

`personalize()` is the one entry point (desktop app, `seal personalize`,
`seal pack`, benchmarks). Base method `ti`, `lora` or `ti+lora` (embeddings
first, then LoRA, each phase with its own learning rate); the SEAL
components are independent switches in `PersonalizeConfig`:
attention loss (`attention_loss.py`), split-merge tokens (`split_merge.py`),
layer restriction (`layer_restriction.py`).

Textual inversion here trains only the new rows: they are a small fp32
parameter spliced into the token-embedding output by a forward hook, and the
embedding matrix itself is never given to the optimiser. The diffusers example
optimises the whole matrix and must restore the other rows after every step
(AdamW's weight decay moves them even with zero gradients); here they cannot
move at all, AdamW keeps state for n rows instead of 49k, and half-precision
models still get fp32 master weights. At the end the rows are written into the
matrix, exactly what `load_textual_inversion` does, so the in-memory model and
a reloaded concept are the same.

On success the model is left personalised (tokens added, LoRA adapter active)
and the concept folder is written atomically; on cancel or failure nothing is
written and the LoRA adapter and hooks are removed.
"""

from __future__ import annotations

import contextlib
import datetime
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from .concept import CONCEPT_FORMAT_VERSION, LORA_FILE, Concept, write_concept
from .errors import InputError
from .personalize_config import BaseMethod, PersonalizeConfig
from .progress import CancelToken, EtaClock, ProgressCallback, ProgressEvent, no_progress

RARE_WORD = "sks"
"""DreamBooth's rare identifier: initialises frozen identity tokens for `lora` alone."""

PROBE_SEED = 1234


@dataclass
class _EncoderTokens:
    """The new token rows of one text encoder (two on SDXL)."""

    text_encoder: Any
    tokenizer: Any
    ids: list[int]
    rows: Any  # nn.Parameter (n_tokens, dim), fp32
    hook: Any = None

    def install(self) -> None:
        import torch

        emb = self.text_encoder.get_input_embeddings()
        lut = torch.full((emb.num_embeddings,), -1, dtype=torch.long, device=emb.weight.device)
        lut[torch.tensor(self.ids, device=lut.device)] = torch.arange(len(self.ids), device=lut.device)
        rows = self.rows

        def splice(_module: Any, inputs: Any, output: Any) -> Any:
            idx = lut[inputs[0]]
            new = rows[idx.clamp(min=0)].to(output.dtype)
            return torch.where((idx >= 0).unsqueeze(-1), new, output)

        self.hook = emb.register_forward_hook(splice)

    def remove(self) -> None:
        if self.hook is not None:
            self.hook.remove()
            self.hook = None

    def commit(self) -> None:
        """Write the learned rows into the embedding matrix (what load_textual_inversion does)."""
        import torch

        weight = self.text_encoder.get_input_embeddings().weight
        with torch.no_grad():
            weight[self.ids] = self.rows.detach().to(device=weight.device, dtype=weight.dtype)


@dataclass
class _Bank:
    """Augmented views, VAE-encoded once (latent mean/std), with masks at latent and map sizes."""

    mean: Any
    std: Any
    mask_lat: Any  # (N,1,h,w)
    valid_lat: Any
    mask_map: Any  # (N,S,S) or None
    words: list[str]
    scales: list[float]


@dataclass
class _State:
    names: Any = None
    encoders: list[_EncoderTokens] = field(default_factory=list)
    adapter: Optional[str] = None
    timings: dict = field(default_factory=dict)
    step_times: dict = field(default_factory=dict)


def personalize(
    model: Any,
    reference: Any,
    mask: Any,
    config: PersonalizeConfig,
    out_dir: Path,
    *,
    progress: ProgressCallback = no_progress,
    cancel: Optional[CancelToken] = None,
    overwrite: bool = False,
) -> Concept:
    """Learn the character in `reference` (PIL RGBA) inside `mask` (PIL L) and save it to `out_dir`."""
    import torch

    from .class_word import choose_class_word
    from .loading import oom_guard

    started = time.perf_counter()
    out_dir = Path(out_dir)
    if out_dir.exists() and not overwrite:
        raise InputError(f"{out_dir} already exists; choose another output folder or remove it first.")
    if model.options.cpu_offload:
        raise InputError("Personalization needs the whole model on one device; turn model CPU offload off.")
    cfg = config.resolve(model.arch)
    if reference is None or mask is None:
        raise InputError("Personalization needs a reference image and its subject mask.")
    if _mask_area(mask) < 0.005:
        raise InputError("The subject mask is empty; give a mask that covers the character.")
    choice = choose_class_word(reference, mask, given=cfg.class_word)
    trainer = _Trainer(model, cfg, choice.word, progress, cancel)
    state = trainer.state
    try:
        with oom_guard("personalizing"):
            trainer.setup(reference, mask)
            probe_before = trainer.probe() if cfg.probe_attention else None
            emb_steps, lora_steps = cfg.embedding_steps, cfg.lora_steps
            trainer.clock = EtaClock(emb_steps + lora_steps)
            if emb_steps:
                trainer.train_phase("embeddings", emb_steps, [e.rows for e in state.encoders], cfg.embedding_lr,
                                    grad_text=True)
            if lora_steps:
                params = trainer.attach_lora()
                trainer.train_phase("lora", lora_steps, params, cfg.lora_lr, grad_text=False)
            trainer.finish_training()
            probe_after = trainer.probe() if cfg.probe_attention else None
        _check_cancel(cancel)
        progress(ProgressEvent("save", 0, 1, message=f"Writing {out_dir.name}"))
        save_start = time.perf_counter()
        meta = trainer.metadata(choice, probe_before, probe_after)
        meta["timings"]["total_s"] = round(time.perf_counter() - started, 3)
        concept = write_concept(out_dir, meta, identity_embeds=trainer.embeddings("identity"),
                                context_embeds=trainer.embeddings("context"),
                                lora_writer=trainer.lora_writer() if state.adapter else None,
                                reference=reference, mask=mask, overwrite=overwrite)
        concept.meta["timings"]["save_s"] = round(time.perf_counter() - save_start, 3)
    except BaseException:
        trainer.abort()
        raise
    model.extras["concept"] = {"path": str(out_dir.resolve()), "identity": concept.identity_string}
    model.extras.setdefault("applied_concepts", {})[str(out_dir.resolve())] = concept.identity_string
    progress(ProgressEvent("save", 1, 1, message=f"Concept saved to {out_dir}"))
    return concept


def _check_cancel(cancel: Optional[CancelToken]) -> None:
    if cancel is not None:
        cancel.raise_if_cancelled()


def _mask_area(mask: Any) -> float:
    import numpy as np

    return float(np.asarray(mask.convert("L"), dtype=np.float32).mean() / 255.0)


def _unique_token(base: str, tokenizers: list[Any]) -> str:
    vocab = set()
    for tok in tokenizers:
        vocab |= set(tok.get_vocab())

    def taken(name: str) -> bool:
        return any(v == name or v.startswith(name + "_") for v in vocab)

    if not taken(base):
        return base
    stem, close = (base[:-1], ">") if base.endswith(">") else (base, "")
    i = 2
    while taken(f"{stem}-{i}{close}"):
        i += 1
    return f"{stem}-{i}{close}"


class _Trainer:
    def __init__(self, model: Any, cfg: PersonalizeConfig, class_word: str, progress: ProgressCallback,
                 cancel: Optional[CancelToken]) -> None:
        import numpy as np
        import torch

        self.model = model
        self.pipe = model.pipe
        self.cfg = cfg
        self.class_word = class_word
        self.progress = progress
        self.cancel = cancel
        self.state = _State()
        self.xl = model.arch.is_xl
        self.device = torch.device(model.execution_device)
        self.dtype = self.pipe.unet.dtype
        self.rng = np.random.default_rng(cfg.seed)
        self.gen = torch.Generator(device="cpu").manual_seed(cfg.seed)
        self.clock: Optional[EtaClock] = None
        self.done = 0
        self.cache: dict[str, tuple] = {}
        self.token_cache: dict[tuple, Any] = {}
        self.attn_layers: list[str] = []
        self.map_side = 0
        self.capture_stack = contextlib.ExitStack()
        self.store = None
        self.targets: list[str] = []
        self.scaler = None
        self.lora_counts: dict = {}

    # ------------------------------------------------------------------ setup
    def setup(self, reference: Any, mask: Any) -> None:
        import torch
        from diffusers import DDPMScheduler

        from .attention_loss import AttentionStore, capture, choose_layers
        from .generation import native_size
        from .split_merge import TokenNames

        cfg, pipe = self.cfg, self.pipe
        self.size = cfg.resolution or native_size(self.model)
        self.progress(ProgressEvent("prepare", 0, 3, message="Preparing the reference"))
        for module in self._modules():
            module.requires_grad_(False)
        self.noise_scheduler = DDPMScheduler.from_config(pipe.scheduler.config)
        self.attn_layers, self.map_side = choose_layers(
            pipe.unet, self.size, int(pipe.vae_scale_factor), cfg.attention_resolution, cfg.attention_layers)
        self.bank = self._encode_bank(reference, mask)
        _check_cancel(self.cancel)
        self.progress(ProgressEvent("prepare", 1, 3, message="Adding the identity tokens"))
        tokenizers = [pipe.tokenizer] + ([pipe.tokenizer_2] if self.xl else [])
        ident = _unique_token(cfg.identity_token, tokenizers)
        ctx = _unique_token(cfg.context_token, tokenizers) if cfg.split_merge else None
        self.state.names = TokenNames.make(ident, cfg.num_vectors, ctx)
        init_word = self.class_word if cfg.base.trains_embeddings else RARE_WORD
        pairs = [(pipe.text_encoder, pipe.tokenizer)] + ([(pipe.text_encoder_2, pipe.tokenizer_2)] if self.xl else [])
        for encoder, tokenizer in pairs:
            self.state.encoders.append(self._add_tokens(encoder, tokenizer, init_word))
        for enc in self.state.encoders:
            enc.install()
        self.id_ids = torch.tensor(pipe.tokenizer.convert_tokens_to_ids(list(self.state.names.identity)),
                                   device=self.device)
        self.ctx_ids = (torch.tensor(pipe.tokenizer.convert_tokens_to_ids([ctx]), device=self.device)
                        if ctx else None)
        if cfg.gradient_checkpointing:
            pipe.unet.enable_gradient_checkpointing()
        if self.device.type == "cuda" and self.dtype == torch.float16:
            self.scaler = torch.amp.GradScaler("cuda")
        if cfg.attention_loss or cfg.split_merge:
            self.store = AttentionStore()
            self.capture_stack.enter_context(capture(pipe.unet, self.attn_layers, self.store))
        self.progress(ProgressEvent("prepare", 3, 3, message=f"{len(self.bank.words)} views, "
                                    f"attention maps {self.map_side}x{self.map_side} on {len(self.attn_layers)} layers"))

    def _modules(self) -> list[Any]:
        pipe = self.pipe
        mods = [pipe.unet, pipe.vae, pipe.text_encoder]
        if self.xl:
            mods.append(pipe.text_encoder_2)
        return mods

    def _add_tokens(self, encoder: Any, tokenizer: Any, init_word: str) -> _EncoderTokens:
        import torch

        names = self.state.names
        strings = list(names.all)
        tokenizer.add_tokens(strings)
        ids = tokenizer.convert_tokens_to_ids(strings)
        emb = encoder.get_input_embeddings()
        if max(ids) >= emb.num_embeddings:
            encoder.resize_token_embeddings(len(tokenizer))
            emb = encoder.get_input_embeddings()
        weight = emb.weight

        def vec(word: str) -> Any:
            wid = [i for i in tokenizer(word, add_special_tokens=False).input_ids if i < weight.shape[0]]
            if not wid:
                raise InputError(f"The word '{word}' cannot be tokenized by this model.")
            return weight[wid].detach().float().mean(0)

        init = [vec(init_word)] * len(names.identity)
        if names.context:
            init.append(vec(self.cfg.context_init))
        rows = torch.stack(init).clone()
        with torch.no_grad():
            weight[ids] = rows.to(weight.dtype)
        return _EncoderTokens(encoder, tokenizer, ids, torch.nn.Parameter(rows.to(weight.device)))

    def _encode_bank(self, reference: Any, mask: Any) -> _Bank:
        import numpy as np
        import torch
        import torch.nn.functional as F

        from .attention_loss import resize_mask
        from .augment import make_views

        views = make_views(reference, mask, self.size, self.cfg, self.rng)
        vae = self.pipe.vae
        upcast = vae.dtype == torch.float16 and getattr(vae.config, "force_upcast", False)
        vae_dtype = torch.float32 if upcast else vae.dtype
        if upcast:
            vae.to(torch.float32)
        means, stds = [], []
        try:
            with torch.no_grad():
                for start in range(0, len(views), 4):
                    _check_cancel(self.cancel)
                    chunk = views[start:start + 4]
                    px = torch.stack([torch.from_numpy(np.asarray(v.image, dtype=np.float32) / 127.5 - 1.0)
                                      .permute(2, 0, 1) for v in chunk]).to(self.device, vae_dtype)
                    dist = vae.encode(px).latent_dist
                    means.append(dist.mean.float())
                    stds.append(dist.std.float())
        finally:
            if upcast:
                vae.to(torch.float16)

        def stack(images: list[Any]) -> Any:
            return torch.stack([torch.from_numpy(np.asarray(im, dtype=np.float32) / 255.0) for im in images]
                               ).unsqueeze(1).to(self.device)

        mean = torch.cat(means)
        lat = mean.shape[-1]
        mask_full = stack([v.mask for v in views])
        valid_full = stack([v.valid for v in views])
        return _Bank(mean=mean, std=torch.cat(stds),
                     mask_lat=F.interpolate(mask_full, size=(lat, lat), mode="area"),
                     valid_lat=(F.interpolate(valid_full, size=(lat, lat), mode="area") > 0.5).float(),
                     mask_map=resize_mask(mask_full, self.map_side),
                     words=[v.words for v in views], scales=[v.scale for v in views])

    # ------------------------------------------------------------------ encoding
    def _tokenize(self, tokenizer: Any, prompts: list[str]) -> Any:
        """Token ids, memoised per prompt: training prompts come from a small set (subset x view words)."""
        import torch

        rows = []
        for p in prompts:
            key = (id(tokenizer), p)
            if key not in self.token_cache:
                self.token_cache[key] = tokenizer([p], padding="max_length", max_length=tokenizer.model_max_length,
                                                  truncation=True, return_tensors="pt").input_ids.to(self.device)
            rows.append(self.token_cache[key])
        return torch.cat(rows)

    def _encode(self, prompts: list[str]) -> tuple[Any, Any, Any]:
        """(prompt embeddings, pooled or None, tokenizer-1 ids), as the pipeline's encode_prompt does."""
        import torch

        pipe = self.pipe
        ids = self._tokenize(pipe.tokenizer, prompts)
        if not self.xl:
            te = pipe.text_encoder
            mask = None
            if getattr(te.config, "use_attention_mask", False):
                mask = pipe.tokenizer(prompts, padding="max_length", max_length=pipe.tokenizer.model_max_length,
                                      truncation=True, return_tensors="pt").attention_mask.to(self.device)
            return te(ids, attention_mask=mask)[0].to(self.dtype), None, ids
        ids2 = self._tokenize(pipe.tokenizer_2, prompts)
        h1 = pipe.text_encoder(ids, output_hidden_states=True).hidden_states[-2]
        out2 = pipe.text_encoder_2(ids2, output_hidden_states=True)
        pooled = out2[0]
        embeds = torch.cat([h1, out2.hidden_states[-2]], dim=-1)
        return embeds.to(self.dtype), pooled.to(self.dtype), ids

    def _encode_cached(self, prompts: list[str]) -> tuple[Any, Any, Any]:
        import torch

        parts = []
        for p in prompts:
            if p not in self.cache:
                with torch.no_grad():
                    self.cache[p] = self._encode([p])
            parts.append(self.cache[p])
        embeds = torch.cat([x[0] for x in parts])
        pooled = torch.cat([x[1] for x in parts]) if self.xl else None
        return embeds, pooled, torch.cat([x[2] for x in parts])

    def _unet(self, noisy: Any, t: Any, embeds: Any, pooled: Any) -> Any:
        import torch

        kwargs = {}
        if self.xl:
            s = self.size
            time_ids = torch.tensor([[s, s, 0, 0, s, s]], device=self.device, dtype=self.dtype).repeat(noisy.shape[0], 1)
            kwargs["added_cond_kwargs"] = {"text_embeds": pooled, "time_ids": time_ids}
        return self.pipe.unet(noisy.to(self.dtype), t, encoder_hidden_states=embeds, **kwargs).sample

    def _latents(self, idx: Any, noise_gen: Any) -> Any:
        import torch

        mean, std = self.bank.mean[idx], self.bank.std[idx]
        eps = torch.randn(mean.shape, generator=noise_gen).to(self.device)
        lat = mean + std * eps
        vae_cfg = self.pipe.vae.config
        shift = getattr(vae_cfg, "shift_factor", None) or 0.0
        return (lat - shift) * vae_cfg.scaling_factor

    # ------------------------------------------------------------------ training
    def train_step(self, grad_text: bool) -> dict[str, Any]:
        import torch

        from .attention_loss import attention_loss, token_maps
        from .split_merge import loss_region, masked_mse, sample_subset, training_prompt

        cfg, bank, names = self.cfg, self.bank, self.state.names
        b = cfg.batch_size
        idx = torch.from_numpy(self.rng.integers(0, len(bank.words), size=b)).to(self.device)
        subsets = [sample_subset(self.rng, cfg.union_probs, cfg.split_merge) for _ in range(b)]
        prompts = [training_prompt(s, names, self.class_word, bank.words[int(i)], cfg.prompt_template,
                                   cfg.background_words) for s, i in zip(subsets, idx)]
        latents = self._latents(idx, self.gen)
        noise = torch.randn(latents.shape, generator=self.gen).to(self.device)
        t = torch.randint(0, self.noise_scheduler.config.num_train_timesteps, (b,), generator=self.gen).to(self.device)
        noisy = self.noise_scheduler.add_noise(latents, noise, t)
        embeds, pooled, ids = self._encode(prompts) if grad_text else self._encode_cached(prompts)
        if self.store is not None:
            self.store.clear()
        pred = self._unet(noisy, t, embeds, pooled)
        if self.noise_scheduler.config.prediction_type == "v_prediction":
            target = self.noise_scheduler.get_velocity(latents, noise, t)
        else:
            target = noise
        regions = torch.stack([loss_region(s, bank.mask_lat[int(i)], bank.valid_lat[int(i)], cfg.split_merge)
                               for s, i in zip(subsets, idx)])
        diffusion = masked_mse(pred, target, regions).mean()
        total = diffusion
        losses = {"diffusion": diffusion}
        if self.store is not None:
            mean_map = self.store.mean_map()
            target_map = bank.mask_map[idx]
            if cfg.attention_loss:
                sel = torch.isin(ids, self.id_ids).float()
                maps = token_maps(mean_map, sel, self.map_side)
                term = attention_loss(maps, target_map, sel.sum(1) > 0, cfg.attention_outside_weight)
                losses["attention"] = term
                total = total + cfg.attention_weight * term
            if cfg.split_merge and self.ctx_ids is not None:
                sel = torch.isin(ids, self.ctx_ids).float()
                maps = token_maps(mean_map, sel, self.map_side)
                term = attention_loss(maps, 1 - target_map, sel.sum(1) > 0, cfg.attention_outside_weight)
                losses["context_attention"] = term
                total = total + cfg.attention_weight * term
            self.store.clear()
        losses["total"] = total
        return losses

    def train_phase(self, phase: str, steps: int, params: list[Any], lr: float, *, grad_text: bool) -> None:
        import torch

        cfg = self.cfg
        if not grad_text:
            for enc in self.state.encoders:
                enc.rows.requires_grad_(False)
        for p in params:
            p.requires_grad_(True)
        opt = torch.optim.AdamW(params, lr=lr, weight_decay=cfg.weight_decay)
        times = self.state.step_times.setdefault(phase, [])
        began = time.perf_counter()
        for step in range(1, steps + 1):
            _check_cancel(self.cancel)
            t0 = time.perf_counter()
            losses = self.train_step(grad_text)
            total = losses["total"]
            if self.scaler is not None:
                self.scaler.scale(total).backward()
                self.scaler.step(opt)
                self.scaler.update()
            else:
                total.backward()
                opt.step()
            opt.zero_grad(set_to_none=True)
            values = {k: float(v.detach()) for k, v in losses.items()}
            times.append(time.perf_counter() - t0)
            self.done += 1
            preview = None
            if cfg.preview_every and (step % cfg.preview_every == 0 or step == steps):
                preview = self.preview()
            self.progress(ProgressEvent(phase, step, steps, losses=values,
                                        eta_s=self.clock.eta(self.done) if self.clock else None, preview=preview))
        self.state.timings[f"{phase}_s"] = round(time.perf_counter() - began, 3)

    def attach_lora(self) -> list[Any]:
        import torch

        from .layer_restriction import lora_config, resolve_targets

        cfg, unet = self.cfg, self.pipe.unet
        patterns = cfg.layer_patterns if cfg.layer_restriction else None
        self.targets = resolve_targets(unet, cfg.layer_preset or "all", patterns)
        existing = set(getattr(unet, "peft_config", {}) or {}) if getattr(unet, "_hf_peft_config_loaded", False) else set()
        name, i = "seal", 1
        while name in existing:
            i += 1
            name = f"seal_{i}"
        with torch.random.fork_rng(devices=[]), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*multiple adapters.*")  # a second concept on one model
            torch.manual_seed(cfg.seed)
            unet.add_adapter(lora_config(self.targets, int(cfg.lora_rank)), adapter_name=name)
        self.state.adapter = name
        params = []
        total = sum(p.numel() for p in unet.parameters())
        for pname, p in unet.named_parameters():
            if p.requires_grad:
                if f".{name}." not in pname:
                    p.requires_grad_(False)  # another concept's adapter: leave it alone
                    continue
                p.data = p.data.float()  # fp32 master weights (diffusers' cast_training_params)
                params.append(p)
        trainable = sum(p.numel() for p in params)
        self.lora_counts = {"trainable_params": int(trainable), "frozen_params": int(total - trainable)}
        return params

    def finish_training(self) -> None:
        for enc in self.state.encoders:
            enc.commit()
            enc.remove()
        self.capture_stack.close()
        self.store = None
        self.cache.clear()
        for module in self._modules():
            module.requires_grad_(False)

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            for enc in self.state.encoders:
                enc.remove()
        with contextlib.suppress(Exception):
            self.capture_stack.close()
        if self.state.adapter:
            with contextlib.suppress(Exception):
                self.pipe.unet.delete_adapters(self.state.adapter)
        with contextlib.suppress(Exception):
            for module in self._modules():
                module.requires_grad_(False)

    # ------------------------------------------------------------------ diagnostics
    def probe(self) -> dict[str, float]:
        """Attention mass of the identity token inside the mask (and of the context token outside it),
        on the unaugmented view at three fixed timesteps and fixed noise."""
        import torch

        from .attention_loss import AttentionStore, capture, mass_inside, token_maps
        from .split_merge import Subset, training_prompt

        names = self.state.names
        gen = torch.Generator(device="cpu").manual_seed(PROBE_SEED)
        n_t = self.noise_scheduler.config.num_train_timesteps
        t = torch.tensor([n_t // 4, n_t // 2, (3 * n_t) // 4], device=self.device)
        idx = torch.zeros(3, dtype=torch.long, device=self.device)
        latents = self.bank.mean[idx] * self.pipe.vae.config.scaling_factor
        noise = torch.randn(latents.shape, generator=gen).to(self.device)
        noisy = self.noise_scheduler.add_noise(latents, noise, t)
        target = self.bank.mask_map[idx]
        store = AttentionStore()
        result = {}
        tpl, bgw = self.cfg.prompt_template, self.cfg.background_words
        prompts = {"identity_inside": training_prompt(Subset.IDENTITY, names, self.class_word, "", tpl, bgw)}
        if names.context:
            prompts["context_outside"] = training_prompt(Subset.BOTH, names, self.class_word, "", tpl, bgw)
        with torch.no_grad(), capture(self.pipe.unet, self.attn_layers, store):
            for key, prompt in prompts.items():
                embeds, pooled, ids = self._encode([prompt] * 3)
                store.clear()
                self._unet(noisy, t, embeds, pooled)
                wanted = self.ctx_ids if key == "context_outside" else self.id_ids
                maps = token_maps(store.mean_map(), torch.isin(ids, wanted).float(), self.map_side)
                region = 1 - target if key == "context_outside" else target
                result[key] = round(float(mass_inside(maps, region).mean()), 5)
        result["mask_fraction"] = round(float(target[0].mean()), 5)
        return result

    def preview(self) -> Any:
        import torch

        from .attributes import expand_placeholder

        if self.store is not None:
            self.store.active = False
        try:
            prompt = expand_placeholder(self.cfg.preview_prompt, self.state.names.identity[0], self.class_word)
            with torch.no_grad():
                out = self.pipe(prompt=prompt, num_inference_steps=self.cfg.preview_steps, width=self.size,
                                height=self.size, generator=torch.Generator("cpu").manual_seed(self.cfg.seed))
            return out.images[0]
        finally:
            if self.store is not None:
                self.store.active = True
                self.store.clear()

    # ------------------------------------------------------------------ outputs
    def embeddings(self, role: str) -> Optional[dict]:
        names = self.state.names
        n_id = len(names.identity)
        if role == "context" and not names.context:
            return None
        sl = slice(0, n_id) if role == "identity" else slice(n_id, n_id + 1)
        token = names.identity[0] if role == "identity" else names.context
        rows = [enc.rows.detach()[sl].float().cpu().clone() for enc in self.state.encoders]
        if self.xl:
            return {"clip_l": rows[0], "clip_g": rows[1]}
        return {token: rows[0]}

    def lora_writer(self) -> Any:
        from diffusers.utils import convert_state_dict_to_diffusers
        from peft.utils import get_peft_model_state_dict

        unet, name = self.pipe.unet, self.state.adapter
        state = convert_state_dict_to_diffusers(get_peft_model_state_dict(unet, adapter_name=name))
        meta = unet.peft_config[name].to_dict()
        meta["target_modules"] = sorted(meta.get("target_modules") or [])

        def write(stage: Path) -> None:
            type(self.pipe).save_lora_weights(str(stage), unet_lora_layers=state, safe_serialization=True,
                                              weight_name=LORA_FILE, unet_lora_adapter_metadata=meta)

        return write

    def metadata(self, choice: Any, before: Optional[dict], after: Optional[dict]) -> dict:
        import statistics

        from . import __version__

        cfg, names, model = self.cfg, self.state.names, self.model
        step_means = {}
        for phase, times in self.state.step_times.items():
            tail = times[2:] if len(times) > 4 else times
            if tail:
                step_means[phase] = round(statistics.fmean(tail), 5)
        timings = dict(self.state.timings)
        timings["mean_step_s"] = step_means
        return {
            "format_version": CONCEPT_FORMAT_VERSION,
            "kind": "seal-concept",
            "seal_version": __version__,
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "base_model": {"id": model.model_id, "architecture": model.arch.value, "dtype": model.dtype_label,
                           "device": str(self.device)},
            "tokens": {
                "identity": {"token": names.identity[0], "strings": list(names.identity),
                             "vectors": len(names.identity), "role": "identity",
                             "init": self.class_word if cfg.base.trains_embeddings else RARE_WORD,
                             "trained": cfg.base.trains_embeddings},
                "context": ({"token": names.context, "strings": [names.context], "vectors": 1, "role": "context",
                             "init": cfg.context_init, "trained": cfg.base.trains_embeddings,
                             "file": "context_embeds.safetensors"} if names.context else None),
            },
            "identity_string": f"{names.identity[0]} {self.class_word}".strip(),
            "class_word": self.class_word,
            "class_word_source": choice.source,
            "settings": cfg.to_dict(),
            "components": {"attention_loss": cfg.attention_loss, "split_merge": cfg.split_merge,
                           "layer_restriction": cfg.layer_restriction},
            "seed": cfg.seed,
            "steps": {"embeddings": cfg.embedding_steps, "lora": cfg.lora_steps,
                      "total": cfg.embedding_steps + cfg.lora_steps},
            "training_size": self.size,
            "timings": timings,
            "attention": {"layers": [n.removesuffix(".processor") for n in self.attn_layers],
                          "map_side": self.map_side, "probe_before": before, "probe_after": after},
            "lora": ({"adapter_name": self.state.adapter, "rank": cfg.lora_rank, "alpha": cfg.lora_rank,
                      "preset": cfg.layer_preset, "patterns": cfg.layer_patterns if cfg.layer_restriction else None,
                      "target_modules": self.targets, **self.lora_counts}
                     if self.state.adapter else None),
            "augmentation": {"views": len(self.bank.words), "scales": [round(s, 3) for s in self.bank.scales]},
        }
