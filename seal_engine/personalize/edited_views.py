"""Edited views: the reference redrawn with each other emotion joins the bank, so one face is not the character.

Measured on the toy world's protocol (docs/personalization.md, rounds 18-21): with one reference
the identity tokens see one face, and on `paper` SEAL draws that face in stickers that ask for
another emotion (5.6% of the samples on two draws, against 2.8% for plain TTF). Every lever
inside the loss (edit consistency, context hold, taking the face out of the tokens' loss) either
did not move it or took the identity gain with it: the loss cannot tell the tokens that the face
is not theirs while every view they fit shows it.

This component gives them views where it is not. After the image start (so the learned rows
already draw the character's look), the model redraws the unaugmented reference with the
caption's emotion replaced by each other value of the vocabulary (at most `edited_views_max_edits`,
spread over it: the presets hold 46 emotions), SDEdit-style: the reference's
latent noised to `edited_views_strength` of the schedule and denoised with diffusers' DDIM
scheduler under classifier-free guidance and its guidance rescale. Redrawn alone, an edit also
drifts shape and colour towards the base model's default character. So each edit is a
*difference*: the redraw naming the new emotion minus the redraw naming the caption's own, from
the same noise, added to the reference's latent inside the subject mask; what both redraws change
alike cancels, what the emotion word changes stays. The result is decoded and put back into the
reference's frame over its own background. Then two checks, both with what a user has: the
captioner must read the asked emotion, and the subject's mean colour must stay within
`edited_views_max_shift` levels of the reference's (a redraw whose body turned orange would teach
the tokens orange). Each kept edit goes through the same augmentation draws as the reference and
joins the bank, its prompts naming the new emotion; `concept.json` records what was kept and why
the rest was dropped.

It needs a caption that names the attribute and an image tower to check the edits, and says so
when either is missing. Cost: one batched DDIM loop at setup and more views to encode (on the toy
world, a `paper` personalization takes 1.6x as long on a CPU: 4.2 s -> 6.7 s).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from .component import Component
from .edit_consistency import caption_swaps, replace_phrase

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image

    from .trainer import Trainer

NOISE_SEED = 4099  # the redraws' noise (one draw, shared by every edit of a run)


class EditedViews(Component):
    name = "edited_views"

    def __init__(self) -> None:
        self.edits: list[tuple[str, str, str, str]] = []  # (attribute, value, caption's phrase, new phrase)
        self.kept: list[str] = []
        self.dropped: dict[str, str] = {}  # edit -> why
        self.shifts: dict[str, float] = {}  # edit -> the subject's mean colour shift
        self.why_not = ""
        self.images: list["Image.Image"] = []  # the kept edits, in the reference's frame
        self.views_added = 0
        self.seconds = 0.0

    def setup(self, t: "Trainer") -> None:
        began = time.perf_counter()
        try:
            self._make(t)
        finally:
            self.seconds = round(time.perf_counter() - began, 3)

    def _make(self, t: "Trainer") -> None:
        from ..caption import caption_images

        cfg = t.cfg
        pair, reason = t.clip_pair()
        if pair is None:
            self._off(t, f"no image tower to check the edits ({reason.rstrip('.')})")
            return
        self.edits = caption_swaps(t, cfg.edited_views_attributes, pair.vocabulary)
        if len(self.edits) > cfg.edited_views_max_edits:
            self.edits = spread_edits(pair, t.caption_values, self.edits, cfg.edited_views_max_edits)
        source = t.prompt(0, t.subset_index("identity"))
        targets = [replace_phrase(source, old, new) for _a, _v, old, new in self.edits]
        if not self.edits or any(x is None for x in targets):
            self._off(t, "the caption names none of " + ", ".join(cfg.edited_views_attributes) if not self.edits
                      else "the training prompt does not hold the caption's words")
            return
        images = [self._to_reference(t, lat) for lat in self._edited_latents(t, source, targets)]
        reads = [c.values for c in caption_images(pair, images)]
        kept = []
        for (attr, value, old, new), image, read in zip(self.edits, images, reads):
            label = f"{old} -> {new}"
            shift = self.shifts[label] = round(colour_shift(t.reference, t.mask, image), 2)
            if read.get(attr) != value:
                self.dropped[label] = f"read as {read.get(attr)}"
            elif cfg.edited_views_max_shift and shift > cfg.edited_views_max_shift:
                self.dropped[label] = f"colour moved {shift:.1f} levels"
            else:
                kept.append((image, (old, new)))
                self.kept.append(label)
                self.images.append(image)
        if kept:
            before = t.n_views
            t.add_views(kept)
            self.views_added = t.n_views - before
        if self.kept:
            t.report(f"Edited views: {len(self.kept)} of {len(self.edits)} edits joined the views "
                     f"({', '.join(self.kept)}).")
        else:
            t.report(f"Edited views: none of the {len(self.edits)} edits passed the checks "
                     f"({'; '.join(f'{k}: {v}' for k, v in self.dropped.items())}), so none joined the views.")

    def _off(self, t: "Trainer", why: str) -> None:
        self.why_not = why
        t.report(f"Edited views are off: {why}.")

    def _edited_latents(self, t: "Trainer", source: str, targets: list[str]) -> list[Any]:
        """Scaled latents of the reference, each with one target's redraw minus the source's added inside the subject."""
        import torch
        from diffusers import DDIMScheduler
        from diffusers.pipelines.stable_diffusion.pipeline_stable_diffusion import rescale_noise_cfg

        cfg = t.cfg
        sched = DDIMScheduler.from_config(t.pipe.scheduler.config)
        sched.set_timesteps(cfg.edited_views_steps, device=t.device)
        first = min(int(round(cfg.edited_views_steps * (1.0 - cfg.edited_views_strength))),
                    cfg.edited_views_steps - 1)
        timesteps = sched.timesteps[first:]
        x0 = t._scale(t.bank.mean[:1])
        gen = torch.Generator(device="cpu").manual_seed(NOISE_SEED + int(cfg.seed))
        noise = torch.randn(x0.shape, generator=gen).to(t.device)
        m = 1 + len(targets)
        x = sched.add_noise(x0, noise, timesteps[:1]).expand(m, -1, -1, -1).clone()
        cond, cond_pooled = t.encode(t.tokenize([source] + targets), grad=False)
        uncond, uncond_pooled = t.encode(t.tokenize([""]), grad=False)
        embeds = torch.cat([uncond.expand(m, -1, -1), cond])
        pooled = torch.cat([uncond_pooled.expand(m, -1), cond_pooled]) if cond_pooled is not None else None
        g = cfg.edited_views_guidance
        with torch.no_grad(), t.base_model():
            for step in timesteps:
                t.check_cancel()
                pred_u, pred_c = t.unet_forward(torch.cat([x, x]), step.expand(2 * m), embeds, pooled).float().chunk(2)
                guided = pred_u + g * (pred_c - pred_u)
                if cfg.edited_views_rescale > 0:
                    guided = rescale_noise_cfg(guided, pred_c, guidance_rescale=cfg.edited_views_rescale)
                x = sched.step(guided, step, x).prev_sample
        subject = t.bank.mask_lat[:1]
        return [x0 + subject * (x[j:j + 1] - x[:1]) for j in range(1, m)]

    def _to_reference(self, t: "Trainer", latent: Any) -> "Image.Image":
        """Decode a view-0 latent and put it back into the reference's frame over its own background."""
        import torch
        from PIL import Image, ImageFilter

        from .bank import vae_precision

        vae = t.pipe.vae
        shift = getattr(vae.config, "shift_factor", None) or 0.0
        with vae_precision(vae) as dtype, torch.no_grad():
            px = vae.decode((latent / vae.config.scaling_factor + shift).to(dtype)).sample[0]
        arr = ((px.float().clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).cpu().numpy()
        ref = t.reference.convert("RGBA")
        w, h = ref.size
        scale = t.size / max(w, h)  # augment.fit_square's letterbox, undone
        nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
        left, top = (t.size - nw) // 2, (t.size - nh) // 2
        redrawn = Image.fromarray(arr, "RGB").crop((left, top, left + nw, top + nh)).resize((w, h), Image.Resampling.LANCZOS)
        # the subject (a little grown, softened) is the redraw's; the background stays the reference's pixels
        grow = max(3, (2 * round(0.02 * max(w, h))) | 1)
        mask = t.mask.convert("L").resize((w, h), Image.Resampling.BILINEAR)
        soft = mask.filter(ImageFilter.MaxFilter(grow)).filter(ImageFilter.GaussianBlur(grow / 4))
        out = Image.composite(redrawn.convert("RGBA"), ref, soft)
        out.putalpha(ref.getchannel("A"))
        return out

    def record(self, t: "Trainer") -> dict:
        if self.why_not:
            return {"active": False, "why_not": self.why_not}
        cfg = t.cfg
        return {"active": True, "attributes": sorted({a for a, *_rest in self.edits}),
                "kept": list(self.kept), "dropped": dict(self.dropped), "colour_shift": dict(self.shifts),
                "views_added": self.views_added, "strength": cfg.edited_views_strength,
                "steps": cfg.edited_views_steps, "guidance": cfg.edited_views_guidance,
                "rescale": cfg.edited_views_rescale, "max_shift": cfg.edited_views_max_shift,
                "max_edits": cfg.edited_views_max_edits, "seconds": self.seconds}


def colour_shift(reference: Any, mask: Any, image: Any) -> float:
    """The largest per-channel change of the subject's mean colour, in 0-255 levels."""
    import numpy as np

    inside = np.asarray(mask.convert("L").resize(reference.size)) > 127
    if not inside.any():
        return 0.0
    a = np.asarray(reference.convert("RGB"), dtype=np.float32)[inside].mean(axis=0)
    b = np.asarray(image.convert("RGB"), dtype=np.float32)[inside].mean(axis=0)
    return float(np.abs(a - b).max())


def spread_edits(pair: Any, values: dict[str, str], edits: list[tuple[str, str, str, str]], k: int
                 ) -> list[tuple[str, str, str, str]]:
    """`k` of `edits`, spread over the vocabulary: each next one the farthest, in the pair's text space,
    from the caption and the ones already chosen (the presets hold 46 emotions; redrawing them all
    would cost 45 views' worth of setup and bury the reference's own views)."""
    import torch

    from ..caption import preset_vocabulary

    vocab = pair.vocabulary or preset_vocabulary()
    known = {**vocab.defaults(), **values}  # a user's caption may name only some attributes
    prompts = [vocab.prompt(known)] + [vocab.prompt({**known, attr: value}) for attr, value, _o, _n in edits]
    emb = torch.nn.functional.normalize(pair.text_embeds(prompts).float(), dim=-1)
    chosen: list[int] = []
    nearest = emb[1:] @ emb[0]  # similarity to the closest of the caption and the chosen edits
    for _ in range(k):
        order = nearest.clone()
        order[chosen] = float("inf")
        pick = int(order.argmin())
        chosen.append(pick)
        nearest = torch.maximum(nearest, emb[1:] @ emb[1 + pick])
    return [edits[i] for i in sorted(chosen)]
