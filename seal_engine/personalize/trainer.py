"""Learn a character from ONE reference image: the one training loop SEAL's components plug into.

`personalize()` is the one entry point (desktop app, `seal personalize`, `seal pack`,
benchmarks). Base method `ti`, `lora` or `ti+lora` (embeddings first, then LoRA, each
phase with its own learning rate). Everything SEAL adds is a component in a file of its
own (`component.py` describes the interface): `attention_loss.py`, `split_merge.py`,
`layer_restriction.py`, `background_loss.py`, the run's start, `image_start.py` and
`auto_caption.py`, and ours, `context_hold.py`, `edited_views.py`, `edit_consistency.py`.
The LoRA adapter (`lora_adapter.py`) and what a run records (`concept_record.py`) live
beside it. The baseline is this loop with no SEAL component.

The step is written for the GPU (issue 14): every per-sample choice (view, token subset,
prompt, loss region, token selection) is a gather from tensors prepared at setup; noise,
timesteps and choices come from one generator on the device; the losses are read back
every `log_every` steps, not every step. A non-finite loss stops the run with nothing saved.

On success the model is left personalised (tokens added, LoRA adapter active) and the
concept folder is written atomically; on cancel or failure nothing is written and the
LoRA adapter and hooks are removed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import re
import time
from pathlib import Path
from typing import Any, Iterator, Optional

from ..concept import Concept, write_concept
from ..errors import InputError, TrainingDiverged
from ..progress import CancelToken, EtaClock, ProgressCallback, ProgressEvent, no_progress
from . import concept_record, lora_adapter
from .attention_maps import MapCapture, probe
from .component import Component, Step, Term
from .config import PersonalizeConfig
from .concept_record import RNG_STREAM
from .edit_consistency import replace_phrase
from .split_merge import Subset, loss_region, masked_mse, training_prompt
from .tokens import RARE_WORD, EncoderTokens, TokenNames, add_tokens, unique_token

PROBE_SEED = 1234


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
    from ..class_word import choose_class_word
    from ..loading import oom_guard

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
    trainer = Trainer(model, cfg, choice.word, progress, cancel)
    try:
        with oom_guard("personalizing"):
            trainer.setup(reference, mask)
            trainer.train()
            trainer.finish()
        _check_cancel(cancel)
        progress(ProgressEvent("save", 0, 1, message=f"Writing {out_dir.name}"))
        save_start = time.perf_counter()
        meta = trainer.metadata(choice)
        meta["timings"]["total_s"] = round(time.perf_counter() - started, 3)
        concept = write_concept(out_dir, meta, identity_embeds=trainer.embeddings("identity"),
                                context_embeds=trainer.embeddings("context"),
                                lora_writer=trainer.lora_writer() if trainer.adapter else None,
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


def build_components(cfg: PersonalizeConfig) -> list[Component]:
    """The components a configuration switches on, in hook order."""
    comps: list[Component] = []
    if (cfg.auto_caption or cfg.caption) and cfg.prompt_template is None:
        from .auto_caption import AutoCaption

        comps.append(AutoCaption())
    if cfg.split_merge:
        from .split_merge import SplitMerge

        comps.append(SplitMerge())
    if cfg.layer_restriction:
        from .layer_restriction import LayerRestriction

        comps.append(LayerRestriction())
    if cfg.uses_image_start and cfg.base.trains_embeddings:
        from .image_start import ImageStart

        comps.append(ImageStart())
    if cfg.uses_edited_views:  # after the image start (its rows draw the edits), before what reads the views
        from .edited_views import EditedViews

        comps.append(EditedViews())
    if cfg.attention_loss:
        from .attention_loss import AttentionLoss

        comps.append(AttentionLoss())
    if cfg.background_loss:
        from .background_loss import BackgroundLoss

        comps.append(BackgroundLoss())
    if cfg.edit_consistency:
        from .edit_consistency import EditConsistency

        comps.append(EditConsistency())
    if cfg.uses_context_hold and cfg.base.trains_embeddings:
        from .context_hold import ContextHold

        comps.append(ContextHold())
    return comps


class Trainer:
    """Owns the loop; components read and extend the state below through their hooks."""

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
        self.xl = model.arch.is_xl
        self.device = torch.device(model.execution_device)
        self.dtype = self.pipe.unet.dtype
        self.np_rng = np.random.default_rng(cfg.seed)  # augmentation views only (PIL work, at setup)
        self.gen = torch.Generator(device=self.device).manual_seed(cfg.seed)
        self.components = build_components(cfg)
        # state the components may set in configure()
        self.subsets: list[Subset] = [Subset.IDENTITY]
        self.subset_probs: list[float] = [1.0]
        self.region_rule = lambda subset, mask, valid: valid
        self.context_token: Optional[str] = None
        self.template: Optional[str] = cfg.prompt_template
        self.background_words: str = cfg.background_words
        self.caption_values: dict[str, str] = {}  # attribute -> value the caption names (AutoCaption)
        self.caption_names_framing = False
        self.backdrops: list[tuple[str, tuple[int, int, int]]] = []  # named backdrops for some views (configure)
        self.backdrop_share = 0.0
        self.lora_preset: Optional[str] = None
        self.lora_patterns: Optional[list[str]] = None
        self.maps = MapCapture()
        # filled by setup / training
        self.encoders: list[EncoderTokens] = []
        self.names: Optional[TokenNames] = None
        self.adapter: Optional[str] = None
        self.lora_targets: list[str] = []
        self.lora_counts: dict = {}
        self.ctx_sel = None
        self.notes: list[str] = []
        self.balance: dict[str, dict] = {}
        self.skip: set[str] = set()
        self.timings: dict[str, float] = {}
        self.step_times: dict[str, list[float]] = {}
        self.probe_before: Optional[dict] = None
        self.probe_after: Optional[dict] = None
        self.scaler = None
        self.clock: Optional[EtaClock] = None
        self.done = 0
        self.compiled: Optional[str] = None
        self._unet_call = None

    # ------------------------------------------------------------------ services for components
    def report(self, message: str, phase: str = "prepare", total: int = 3) -> None:
        """A note the user should see: a progress event now (step 0 of the phase) and a line in concept.json."""
        self.notes.append(message)
        self.progress(ProgressEvent(phase, 0, total, message=message))

    def clip_pair(self) -> tuple[Any, str]:
        """The CLIP image tower matching this model's text encoder (or None and why), found once."""
        if not hasattr(self, "_clip_pair"):
            from ..clip_pair import find_clip_pair

            source = self.model.source
            where = str(source.path) if getattr(source, "path", None) else self.model.model_id
            self._clip_pair = find_clip_pair(where, self.model.arch, explicit=self.cfg.image_tower,
                                             device=str(self.device))
        return self._clip_pair

    def check_cancel(self) -> None:
        _check_cancel(self.cancel)

    def add_views(self, edits: list[tuple[Any, tuple[str, str]]]) -> None:
        """Edited references (RGBA, the reference's frame and mask) join the bank, each with the same
        augmentation draws as the reference's views and prompts naming its swap's new phrase."""
        import numpy as np

        from .bank import encode_bank

        for image, swap in edits:
            self.check_cancel()
            rng = np.random.default_rng(self.cfg.seed)  # the draws the reference's own views were made with
            extra = encode_bank(self.pipe, image, self.mask, self.size, self.views_cfg, rng, self.device,
                                self.cancel, self.backdrops, self.backdrop_share)
            self.bank.extend(extra, swap)
        self.subject_lat = self.bank.subject_lat(self.cfg.subject_margin)
        self._build_tables()

    def wants(self, term: str) -> bool:
        return term not in self.skip

    def subset_index(self, subset: str | Subset) -> int:
        return self.subsets.index(Subset(subset))

    @property
    def n_views(self) -> int:
        return len(self.bank)

    def tokenize(self, prompts: list[str]) -> tuple[Any, Any]:
        """(ids of tokenizer 1, ids of tokenizer 2 or None), each (n, 77), on the device."""
        pipe = self.pipe

        def run(tok: Any) -> Any:
            return tok(prompts, padding="max_length", max_length=tok.model_max_length, truncation=True,
                       return_tensors="pt").input_ids.to(self.device)

        return run(pipe.tokenizer), (run(pipe.tokenizer_2) if self.xl else None)

    def encode(self, tokens: tuple[Any, Any], grad: bool = True) -> tuple[Any, Any]:
        """(prompt embeddings, pooled or None), as the pipeline's encode_prompt does."""
        import torch

        ids, ids2 = tokens
        with contextlib.nullcontext() if grad else torch.no_grad():
            pipe = self.pipe
            if not self.xl:
                return pipe.text_encoder(ids)[0].to(self.dtype), None
            h1 = pipe.text_encoder(ids, output_hidden_states=True).hidden_states[-2]
            out2 = pipe.text_encoder_2(ids2, output_hidden_states=True)
            embeds = torch.cat([h1, out2.hidden_states[-2]], dim=-1)
            return embeds.to(self.dtype), out2[0].to(self.dtype)

    def unet_forward(self, noisy: Any, timesteps: Any, embeds: Any, pooled: Any) -> Any:
        kwargs = {}
        if self.xl:
            kwargs["added_cond_kwargs"] = {"text_embeds": pooled,
                                           "time_ids": self.time_ids.expand(noisy.shape[0], -1)}
        unet = self._unet_call or self.pipe.unet
        return unet(noisy.to(self.dtype), timesteps, encoder_hidden_states=embeds, **kwargs).sample

    @contextlib.contextmanager
    def base_model(self) -> Iterator[None]:
        """The model before fine-tuning: LoRA adapters off, attention capture paused."""
        unet = self.pipe.unet
        self.maps.store.active = False
        if self.adapter:
            unet.disable_adapters()
        try:
            yield
        finally:
            if self.adapter:
                unet.enable_adapters()
            self.maps.store.active = True

    def identity_ids(self, views: Any) -> tuple[Any, Any]:
        s = self.subset_index(Subset.IDENTITY)
        return self.prompt_ids[views, s], (self.prompt_ids2[views, s] if self.xl else None)

    def identity_selection(self, views: Any) -> Any:
        return self.id_sel[views, self.subset_index(Subset.IDENTITY)]

    def probe_inputs(self) -> tuple[Any, Any, Any]:
        """Fixed noisy latents of the unaugmented reference at three timesteps (diagnostics)."""
        import torch

        gen = torch.Generator(device="cpu").manual_seed(PROBE_SEED)
        n_t = self.noise_scheduler.config.num_train_timesteps
        timesteps = torch.tensor([n_t // 4, n_t // 2, (3 * n_t) // 4], device=self.device)
        views = torch.zeros(3, dtype=torch.long, device=self.device)
        latents = self._scale(self.bank.mean[views])
        noise = torch.randn(latents.shape, generator=gen).to(self.device)
        return self.noise_scheduler.add_noise(latents, noise, timesteps), timesteps, views

    def prompt(self, view: int, subset: int) -> str:
        text = training_prompt(self.subsets[subset], self.names, self.class_word, self.bank.words[view],
                               self.template, self.bank.backdrop_words[view] or self.background_words)
        swap = self.bank.swaps[view]
        return (replace_phrase(text, *swap) or text) if swap else text

    def base_prompt(self, view: int, subset: int) -> str:
        """The training prompt with the learned tokens replaced by plain words (the base model's view)."""
        text = self.prompt(view, subset).replace(self.names.identity_string, "")
        if self.names.context:  # it stands beside the background words (split_merge.training_prompt)
            text = text.replace(self.names.context, "")
        return re.sub(r"\s+", " ", text).replace(" ,", ",").strip()

    def _scale(self, latents: Any) -> Any:
        vae_cfg = self.pipe.vae.config
        shift = getattr(vae_cfg, "shift_factor", None) or 0.0
        return (latents - shift) * vae_cfg.scaling_factor

    # ------------------------------------------------------------------ setup
    def setup(self, reference: Any, mask: Any) -> None:
        import torch
        from diffusers import DDPMScheduler

        from ..generation import native_size
        from .bank import encode_bank

        cfg, pipe = self.cfg, self.pipe
        self.reference, self.mask = reference, mask
        self.size = cfg.resolution or native_size(self.model)
        self.progress(ProgressEvent("prepare", 0, 3, message="Preparing the reference"))
        for module in self._modules():
            module.requires_grad_(False)
        self.noise_scheduler = DDPMScheduler.from_config(pipe.scheduler.config)
        for comp in self.components:
            comp.configure(self)
        _check_cancel(self.cancel)
        if cfg.augment is not None:
            self.augment, self.augment_why = cfg.augment, "set"
        elif self.caption_names_framing:
            self.augment, self.augment_why = False, "off: the caption names the framing"
        else:
            self.augment, self.augment_why = True, "on: nothing else keeps the framing out of the tokens"
        self.views_cfg = dataclasses.replace(cfg, augment=self.augment)
        self.bank = encode_bank(pipe, reference, mask, self.size, self.views_cfg, self.np_rng, self.device, self.cancel,
                                self.backdrops, self.backdrop_share)
        self.latent_side = int(self.bank.mean.shape[-1])
        self.subject_lat = self.bank.subject_lat(cfg.subject_margin)
        if self.xl:
            s = self.size
            self.time_ids = torch.tensor([[s, s, 0, 0, s, s]], device=self.device, dtype=self.dtype)
        _check_cancel(self.cancel)
        self.progress(ProgressEvent("prepare", 1, 3, message="Adding the identity tokens"))
        self._add_tokens()
        self._build_tables()
        if cfg.probe_attention:
            self.maps.request()
        for comp in self.components:
            _check_cancel(self.cancel)
            comp.setup(self)
        if self.maps.wanted:
            self.maps.choose(self)
            if cfg.probe_attention:
                self.probe_before = probe(self)
            if any(c.name in ("attention_loss", "split_merge") for c in self.components):
                self.maps.install(pipe.unet)
        if cfg.gradient_checkpointing:
            pipe.unet.enable_gradient_checkpointing()
        if self.device.type == "cuda" and self.dtype == torch.float16:
            self.scaler = torch.amp.GradScaler("cuda")
        layers = (f"attention maps on {len(self.maps.layers)} layers" if self.maps.installed
                  else "no attention capture")
        self.progress(ProgressEvent("prepare", 3, 3, message=f"{self.n_views} views, {layers}"))

    def _modules(self) -> list[Any]:
        pipe = self.pipe
        mods = [pipe.unet, pipe.vae, pipe.text_encoder]
        if self.xl:
            mods.append(pipe.text_encoder_2)
        return mods

    def _add_tokens(self) -> None:
        import torch

        cfg, pipe = self.cfg, self.pipe
        tokenizers = [pipe.tokenizer] + ([pipe.tokenizer_2] if self.xl else [])
        ident = unique_token(cfg.identity_token, tokenizers)
        ctx = unique_token(self.context_token, tokenizers) if self.context_token else None
        self.names = TokenNames.make(ident, cfg.num_vectors, ctx)
        self.identity_init = self.class_word if cfg.base.trains_embeddings else RARE_WORD
        pairs = [(pipe.text_encoder, pipe.tokenizer)] + ([(pipe.text_encoder_2, pipe.tokenizer_2)] if self.xl else [])
        for encoder, tokenizer in pairs:
            self.encoders.append(add_tokens(encoder, tokenizer, self.names, self.identity_init, cfg.context_init))
        for enc in self.encoders:
            enc.install()
        self.id_ids = torch.tensor(pipe.tokenizer.convert_tokens_to_ids(list(self.names.identity)),
                                   device=self.device)
        self.ctx_ids = (torch.tensor(pipe.tokenizer.convert_tokens_to_ids([ctx]), device=self.device)
                        if ctx else None)

    def _build_tables(self) -> None:
        """Every per-sample choice as a tensor indexed [view, subset], so a step only gathers."""
        import torch

        n, k = self.n_views, len(self.subsets)
        self.prompts = [[self.prompt(v, s) for s in range(k)] for v in range(n)]
        ids, ids2 = self.tokenize([p for row in self.prompts for p in row])
        self.prompt_ids = ids.view(n, k, -1)
        self.prompt_ids2 = ids2.view(n, k, -1) if ids2 is not None else None
        self.id_sel = torch.isin(self.prompt_ids, self.id_ids).float()
        self.ctx_sel = torch.isin(self.prompt_ids, self.ctx_ids).float() if self.ctx_ids is not None else None
        self.regions = torch.stack([torch.stack([self.region_rule(s, self.subject_lat[v], self.bank.valid_lat[v])
                                                 for s in self.subsets]) for v in range(n)])
        self.subset_p = torch.tensor(self.subset_probs, dtype=torch.float32, device=self.device)

    # ------------------------------------------------------------------ training
    def train(self) -> None:
        cfg = self.cfg
        emb_steps, lora_steps = cfg.embedding_steps, cfg.lora_steps
        self.clock = EtaClock(emb_steps + lora_steps)
        if emb_steps:
            groups = [{"params": [e.identity_rows for e in self.encoders], "lr": cfg.embedding_lr}]
            self.train_phase("embeddings", emb_steps, groups)
        if lora_steps:
            params = self.attach_lora()
            self.train_phase("lora", lora_steps, [{"params": params, "lr": cfg.lora_lr}])

    def _phase_groups(self, phase: str, groups: list[dict]) -> list[dict]:
        for comp in self.components:
            groups = groups + comp.trainables(self, phase)
        return [g for g in groups if g["params"] and all(p is not None for p in g["params"])]

    def _cache_embeddings(self) -> None:
        """LoRA phase: the text side is frozen, so every (view, subset) prompt is encoded once."""
        n, k = self.prompt_ids.shape[:2]
        tokens = (self.prompt_ids.view(n * k, -1),
                  self.prompt_ids2.view(n * k, -1) if self.prompt_ids2 is not None else None)
        embeds, pooled = self.encode(tokens, grad=False)
        self.embed_table = embeds.view(n, k, *embeds.shape[1:])
        self.pooled_table = pooled.view(n, k, *pooled.shape[1:]) if pooled is not None else None

    def step(self, phase: str, index: int, views: Any = None, subsets: Any = None
             ) -> tuple[Any, Step, dict[str, Term]]:
        """One step's (diffusion term, Step, component terms); nothing is read back to the host."""
        import torch

        bank, b, g, dev = self.bank, self.cfg.batch_size, self.gen, self.device
        if views is None:
            views = torch.randint(0, self.n_views, (b,), generator=g, device=dev)
            subsets = torch.multinomial(self.subset_p, b, replacement=True, generator=g)
        b = views.shape[0]
        ids = self.prompt_ids[views, subsets]
        if phase == "embeddings":
            tokens = (ids, self.prompt_ids2[views, subsets] if self.xl else None)
            embeds, pooled = self.encode(tokens, grad=True)
        else:
            embeds = self.embed_table[views, subsets]
            pooled = self.pooled_table[views, subsets] if self.pooled_table is not None else None
        mean = bank.mean[views]
        eps = torch.randn(mean.shape, generator=g, device=dev)
        latents = self._scale(mean + bank.std[views] * eps)
        noise = torch.randn(latents.shape, generator=g, device=dev)
        n_t = self.noise_scheduler.config.num_train_timesteps
        timesteps = torch.randint(0, n_t, (b,), generator=g, device=dev)
        noisy = self.noise_scheduler.add_noise(latents, noise, timesteps)
        self.maps.store.clear()
        pred = self.unet_forward(noisy, timesteps, embeds, pooled)
        if self.noise_scheduler.config.prediction_type == "v_prediction":
            target = self.noise_scheduler.get_velocity(latents, noise, timesteps)
        else:
            target = noise
        diffusion = masked_mse(pred, target, self.regions[views, subsets]).mean()
        st = Step(phase, index, views, subsets, ids, noisy, timesteps, embeds, pooled, pred, target)
        terms: dict[str, Term] = {}
        for comp in self.components:
            terms.update({k: v for k, v in comp.loss(self, st).items() if self.wants(k)})
        self.maps.store.clear()
        return diffusion, st, terms

    def _balance(self, phase: str, steps: int, params: list[Any]) -> dict[str, float]:
        """Before a phase's first step: which terms can act on what this phase trains, and their weights.

        Measured on one sample of every token subset (so a term that needs the context token sees
        it), at the phase's starting point; costs one forward pass and a few backward passes."""
        import torch

        if not self.components:
            return {}
        k = len(self.subsets)
        state = self.gen.get_state()  # the training stream does not depend on this measurement
        views = torch.zeros(k, dtype=torch.long, device=self.device)
        subsets = torch.arange(k, device=self.device)
        diffusion, _st, terms = self.step(phase, 0, views, subsets)
        self.gen.set_state(state)

        def norm(value: Any) -> float:
            if not value.requires_grad:  # nothing trained in this phase is upstream of it
                return 0.0
            grads = torch.autograd.grad(value, params, retain_graph=True, allow_unused=True)
            sq = [g.float().pow(2).sum() for g in grads if g is not None]
            return float(torch.stack(sq).sum().sqrt()) if sq else 0.0

        g_diff = norm(diffusion)
        weights, info = {}, {"diffusion_grad_norm": round(g_diff, 8)}
        for name, term in terms.items():
            g = norm(term.value)
            if not g > 0:
                self.skip.add(name)
                self.report(f"The {name.replace('_', ' ')} term cannot act in the {phase} phase: no trained "
                            f"parameter feeds it, so it is not computed there.", phase, steps)
                info[name] = {"can_act": False}
                continue
            weight = term.weight if term.weight is not None else term.ratio * g_diff / g
            weights[name] = weight
            info[name] = {"can_act": True, "grad_norm": round(g, 8), "weight": weight,
                          "weight_source": "set" if term.weight is not None else f"gradient ratio {term.ratio}",
                          "weighted_grad_ratio": round(weight * g / g_diff, 4) if g_diff else None}
        self.balance[phase] = info
        return weights

    def train_phase(self, phase: str, steps: int, groups: list[dict]) -> None:
        import torch

        cfg = self.cfg
        for enc in self.encoders:
            enc.identity_rows.requires_grad_(phase == "embeddings")
            if enc.context_rows is not None:
                enc.context_rows.requires_grad_(phase == "embeddings")
        groups = self._phase_groups(phase, groups)
        params = [p for g in groups for p in g["params"]]
        for p in params:
            p.requires_grad_(True)
        if phase != "embeddings":
            self._cache_embeddings()
        for comp in self.components:
            comp.phase_start(self, phase)
        self.skip = set()  # whether a term can act is checked again in every phase
        opt = torch.optim.AdamW(groups, weight_decay=cfg.weight_decay,
                                **({"fused": True} if self.device.type == "cuda" else {}))
        weights = self._balance(phase, steps, params)
        self._maybe_compile()
        times = self.step_times.setdefault(phase, [])
        acc: dict[str, Any] = {}
        count = 0
        values: dict[str, float] = {}
        began = time.perf_counter()
        for index in range(1, steps + 1):
            _check_cancel(self.cancel)
            t0 = time.perf_counter()
            diffusion, _st, terms = self.step(phase, index)
            total = diffusion
            for name, term in terms.items():
                if name in weights:
                    total = total + weights[name] * term.value
            if self.scaler is not None:
                self.scaler.scale(total).backward()
                self.scaler.step(opt)
                self.scaler.update()
            else:
                total.backward()
                opt.step()
            opt.zero_grad(set_to_none=True)
            for name, value in [("diffusion", diffusion), *((k, v.value) for k, v in terms.items()),
                                ("total", total)]:
                acc[name] = acc.get(name, 0.0) + value.detach().float()
            count += 1
            if index == 1 or index % cfg.log_every == 0 or index == steps:
                values = {k: float(v) / count for k, v in acc.items()}  # the only host read-back
                acc, count = {}, 0
                if not all(math.isfinite(v) for v in values.values()):
                    raise TrainingDiverged(
                        f"Training diverged: the loss became {values.get('total')} by step {index} of the "
                        f"{phase} phase, so nothing was saved; lower the learning rate or the loss weights.")
            times.append(time.perf_counter() - t0)
            self.done += 1
            preview = None
            if cfg.preview_every and (index % cfg.preview_every == 0 or index == steps):
                preview = self.preview()
            self.progress(ProgressEvent(phase, index, steps, losses=values,
                                        eta_s=self.clock.eta(self.done) if self.clock else None, preview=preview))
        self.timings[f"{phase}_s"] = round(time.perf_counter() - began, 3)

    def _maybe_compile(self) -> None:
        """Optional torch.compile of the U-Net (CUDA): any failure falls back to eager, recorded."""
        if not self.cfg.compile or self._unet_call is not None:
            return
        if self.device.type != "cuda":
            self.compiled = "not compiled: torch.compile is used on CUDA only"
            return
        import torch

        try:
            self._unet_call = torch.compile(self.pipe.unet, dynamic=False)
            self.compiled = "torch.compile (dynamic=False)"
        except Exception as err:  # noqa: BLE001 - any compiler failure means eager
            self._unet_call = None
            self.compiled = f"eager (torch.compile failed: {type(err).__name__})"

    def attach_lora(self) -> list[Any]:
        return lora_adapter.attach(self)

    def finish(self) -> None:
        for enc in self.encoders:
            if not enc.finite():
                raise TrainingDiverged("Training diverged: the learned token rows are not finite, so nothing "
                                       "was saved; lower the learning rate or the loss weights.")
        if self.cfg.probe_attention and self.maps.layers:
            self.probe_after = probe(self)
        for comp in self.components:
            comp.finish(self)
        for enc in self.encoders:
            enc.commit()
            enc.remove()
        self.maps.close()
        for comp in self.components:
            comp.teardown(self)
        for module in self._modules():
            module.requires_grad_(False)

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            for enc in self.encoders:
                enc.remove()
        with contextlib.suppress(Exception):
            self.maps.close()
        for comp in self.components:
            with contextlib.suppress(Exception):
                comp.teardown(self)
        if self.adapter:
            with contextlib.suppress(Exception):
                self.pipe.unet.delete_adapters(self.adapter)
        with contextlib.suppress(Exception):
            for module in self._modules():
                module.requires_grad_(False)

    # ------------------------------------------------------------------ previews and outputs
    def preview(self) -> Any:
        import torch

        from ..attributes import expand_placeholder

        self.maps.store.active = False
        try:
            prompt = expand_placeholder(self.cfg.preview_prompt, self.names.identity[0], self.class_word)
            with torch.no_grad():
                out = self.pipe(prompt=prompt, num_inference_steps=self.cfg.preview_steps, width=self.size,
                                height=self.size, generator=torch.Generator("cpu").manual_seed(self.cfg.seed))
            return out.images[0]
        finally:
            self.maps.store.active = True
            self.maps.store.clear()

    def embeddings(self, role: str) -> Optional[dict]:
        return concept_record.embeddings(self, role)

    def lora_writer(self) -> Any:
        return lora_adapter.lora_writer(self)

    def metadata(self, choice: Any) -> dict:
        return concept_record.metadata(self, choice)


__all__ = ["personalize", "Trainer", "build_components", "RNG_STREAM", "loss_region"]
