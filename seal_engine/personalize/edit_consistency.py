"""Edit consistency: changing the caption's emotion word must change the learned character as it
changes the class word.

Measured on the toy world's protocol (docs/personalization.md, round 13): SEAL's identity tokens
win identity but the emotion words act less with them (the asked emotion read back 0.88 against
plain TTF's 0.94 on `paper`, mostly "asked sad, drawn happy", the world's default face), and
neither the start's edited targets (image_start.py, which work in the CLIP embedding space) nor
a weaker coverage term removed it. This term works where the sticker is drawn, in the U-Net's
prediction: for a training sample, the prompt with the caption's emotion replaced by another
value of the vocabulary must move the fine-tuned prediction as the same change moves the base
model's for the class word,

    (eps(x_t, id prompt, new) - eps(x_t, id prompt, old)) ~ (eps0(x_t, class prompt, new) - eps0(x_t, class prompt, old)),

an MSE over the view's valid region. Only the caption's own vocabulary is used, nothing a user
does not have; it needs a caption that names the attribute. Cost per step: one U-Net pass with
gradient and one no-grad pass of two samples on the base model (adapters off).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Optional

from .component import Component, Step, Term

if TYPE_CHECKING:  # pragma: no cover
    from .trainer import Trainer


def replace_phrase(text: str, old: str, new: str) -> Optional[str]:
    """`text` with the first whole-word `old` replaced by `new`; None where `old` is not in it."""
    hit = re.search(r"(?<!\w)" + re.escape(old) + r"(?!\w)", text)
    return None if hit is None else text[:hit.start()] + new + text[hit.end():]


def caption_swaps(t: "Trainer", attributes: tuple[str, ...], vocab: Any = None) -> list[tuple[str, str, str, str]]:
    """(attribute, other value, the caption's phrase, the other value's phrase) for every other value
    of each attribute the caption names, in the vocabulary's order (the CLIP pair's, else the presets')."""
    from ..caption import preset_vocabulary

    if vocab is None:
        pair, _reason = t.clip_pair()
        vocab = pair.vocabulary if pair is not None else None
    vocab = vocab or preset_vocabulary()
    swaps = []
    for attr in attributes:
        phrases = vocab.attributes.get(attr) or {}
        current = t.caption_values.get(attr)
        if current in phrases:
            swaps += [(attr, v, phrases[current], p) for v, p in phrases.items() if v != current]
    return swaps


class EditConsistency(Component):
    name = "edit_consistency"

    def __init__(self) -> None:
        self.edits: list[tuple[str, str, str]] = []  # (attribute, caption's phrase, other phrase)
        self.why_not = ""
        self.before: Optional[float] = None
        self.after: Optional[float] = None

    def setup(self, t: "Trainer") -> None:
        import torch

        self.edits = [(attr, old, new) for attr, _v, old, new in caption_swaps(t, t.cfg.edit_consistency_attributes)]
        n, k = t.n_views, len(t.subsets)
        id_to, base_from, base_to, ok = [], [], [], []
        for v in range(n):
            for s in range(k):
                prompt, base = t.prompts[v][s], t.base_prompt(v, s)
                for _attr, old, new in self.edits or [("", "", "")]:
                    edited = replace_phrase(prompt, old, new) if old else None
                    edited_base = replace_phrase(base, old, new) if old else None
                    good = edited is not None and edited_base is not None and t.subsets[s].has_identity
                    id_to.append(edited if good else prompt)
                    base_from.append(base)
                    base_to.append(edited_base if good else base)
                    ok.append(good)
        m = max(1, len(self.edits))
        self.ok = torch.tensor(ok, dtype=torch.float32, device=t.device).view(n, k, m)
        if not self.edits or not bool(self.ok.any()):
            self.why_not = ("the caption names none of " + ", ".join(t.cfg.edit_consistency_attributes)
                            if not self.edits else "no training prompt holds the caption's words")
            t.report(f"Edit consistency is off: {self.why_not}.")
            return
        ids, ids2 = t.tokenize(id_to)
        self.ids = ids.view(n, k, m, -1)
        self.ids2 = ids2.view(n, k, m, -1) if ids2 is not None else None
        with torch.no_grad():
            emb_f, pool_f = t.encode(t.tokenize(base_from), grad=False)
            emb_t, pool_t = t.encode(t.tokenize(base_to), grad=False)
        self.base_from = emb_f.view(n, k, m, *emb_f.shape[1:])
        self.base_to = emb_t.view(n, k, m, *emb_t.shape[1:])
        self.pool_from = pool_f.view(n, k, m, *pool_f.shape[1:]) if pool_f is not None else None
        self.pool_to = pool_t.view(n, k, m, *pool_t.shape[1:]) if pool_t is not None else None
        first = int(torch.nonzero(self.ok.flatten())[0])
        self.example = (id_to[first], base_to[first])
        self.before = self.mismatch(t)

    def mismatch(self, t: "Trainer") -> float:
        """Mean edit mismatch (the loss) over every edit on the probe's fixed noisy latents of the
        unaugmented reference, identity prompt, no gradient: what training should lower."""
        import torch

        from .split_merge import masked_mse

        noisy, timesteps, views = t.probe_inputs()
        s = t.subset_index("identity")
        values = []
        with torch.no_grad():
            t.maps.store.active = False
            try:
                ids, ids2 = t.prompt_ids[views, s], (t.prompt_ids2[views, s] if t.xl else None)
                own_e, own_p = t.encode((ids, ids2), grad=False)
                own = t.unet_forward(noisy, timesteps, own_e, own_p)
            finally:
                t.maps.store.active = True
            for j in range(self.ok.shape[-1]):
                if not bool(self.ok[0, s, j]):
                    continue
                e, p = t.encode((self.ids[views, s, j], self.ids2[views, s, j] if self.ids2 is not None else None),
                                grad=False)
                t.maps.store.active = False
                try:
                    edited = t.unet_forward(noisy, timesteps, e, p)
                finally:
                    t.maps.store.active = True
                with t.base_model():
                    pf = self.pool_from[views, s, j] if self.pool_from is not None else None
                    pt = self.pool_to[views, s, j] if self.pool_to is not None else None
                    delta = (t.unet_forward(noisy, timesteps, self.base_to[views, s, j], pt)
                             - t.unet_forward(noisy, timesteps, self.base_from[views, s, j], pf))
                values.append(masked_mse(edited - own, delta, t.bank.valid_lat[views]).mean())
        return round(float(torch.stack(values).mean()), 6) if values else float("nan")

    def finish(self, t: "Trainer") -> None:
        self.after = self.mismatch(t) if not self.why_not else None

    def loss(self, t: "Trainer", step: Step) -> dict[str, Term]:
        import torch

        from .split_merge import masked_mse

        if self.why_not:
            return {}
        v, s = step.views, step.subsets
        m = self.ok.shape[-1]
        j = torch.randint(0, m, (v.shape[0],), generator=t.gen, device=t.device)
        ok = self.ok[v, s, j]
        tokens = (self.ids[v, s, j], self.ids2[v, s, j] if self.ids2 is not None else None)
        embeds, pooled = t.encode(tokens, grad=step.phase == "embeddings")
        t.maps.store.active = False  # the attention terms read the training prompt's maps only
        try:
            edited = t.unet_forward(step.noisy, step.timesteps, embeds, pooled)
        finally:
            t.maps.store.active = True
        both = torch.cat([self.base_from[v, s, j], self.base_to[v, s, j]])
        both_pooled = (torch.cat([self.pool_from[v, s, j], self.pool_to[v, s, j]])
                       if self.pool_from is not None else None)
        with torch.no_grad(), t.base_model():
            base = t.unet_forward(torch.cat([step.noisy] * 2), torch.cat([step.timesteps] * 2), both, both_pooled)
        base_from, base_to = base.chunk(2)
        region = t.bank.valid_lat[v] * ok.view(-1, 1, 1, 1)
        per = masked_mse(edited - step.pred, (base_to - base_from).to(edited.dtype), region)
        value = (per * ok).sum() / ok.sum().clamp(min=1.0)
        return {"edit_consistency": Term(value, None, t.cfg.edit_consistency_grad_ratio)}

    def record(self, t: "Trainer") -> dict:
        if self.why_not:
            return {"active": False, "why_not": self.why_not}
        return {"active": True, "attributes": sorted({a for a, _o, _n in self.edits}),
                "edits": [f"{o} -> {n}" for _a, o, n in self.edits], "grad_ratio": t.cfg.edit_consistency_grad_ratio,
                "mismatch_before": self.before, "mismatch_after": self.after,
                "example": {"fine_tuned_prompt": self.example[0], "base_prompt": self.example[1]}}
