"""The paper's background term: the learned character must not change the background.

"Penalises changes to background regions", in two parts under one switch:

* Backdrop views. Half of the augmentation bank (`backdrop_share`) shows the subject alone,
  cut out by the mask, on another of the caption vocabulary's flat backdrops, and that view's
  prompt names it. A background the words always explain and that changes from view to view
  cannot be learned into the identity tokens. Measured on the toy world's protocol: after
  SEAL's image start, ten embedding steps put the reference's background into the tokens for
  one reference in four (21% of stickers asking for another background came back on the
  reference's; 0% with these views). Only when the training prompt names the background
  (a caption with a background slot) and the vocabulary has swatches.
* The base-model term. At every step the base model (LoRA adapters off, the learned tokens
  removed from the prompt) predicts the same noisy latent without gradient, and the
  fine-tuned prediction outside the subject is pulled towards it (area-normalised MSE), so the
  tokens can only change what happens on the character. "Outside" starts past a silhouette
  band (`subject_margin`, bank.py): from the mask edge on, it pulled the base model's default
  silhouette in, and crowns and hats went missing (identity -0.14 on the protocol). It applies
  to samples whose prompt names the identity and costs one extra no-grad U-Net pass per step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .component import Component, Step, Term

if TYPE_CHECKING:  # pragma: no cover
    from .trainer import Trainer


class BackgroundLoss(Component):
    name = "background_loss"

    def __init__(self) -> None:
        self.backdrops: list[str] = []
        self.why_no_backdrops = ""

    def configure(self, t: "Trainer") -> None:
        """Backdrop views: some views show the subject on other flat backgrounds, named in their prompt."""
        share = t.cfg.backdrop_share
        if share <= 0:
            self.why_no_backdrops = "backdrop share 0"
            return
        if not t.template or "{background}" not in t.template:
            self.why_no_backdrops = "the training prompt does not name the background"
            return
        pair, _reason = t.clip_pair()
        from ..caption import BACKGROUND, preset_vocabulary

        vocabulary = (pair.vocabulary if pair is not None else None) or preset_vocabulary()
        phrases = vocabulary.attributes.get(BACKGROUND, {})
        own = (t.background_words or "").strip().lower()
        t.backdrops = [(phrases.get(w, w), rgb) for w, rgb in vocabulary.swatches.items()
                       if phrases.get(w, w).strip().lower() != own]
        t.backdrop_share = share if t.backdrops else 0.0
        self.backdrops = [w for w, _rgb in t.backdrops]
        if not t.backdrops:
            self.why_no_backdrops = "the caption vocabulary has no background swatches"

    def setup(self, t: "Trainer") -> None:
        import torch

        # The base prompts: each training prompt with the learned tokens replaced by plain words.
        prompts = [[t.base_prompt(v, s) for s in range(len(t.subsets))] for v in range(t.n_views)]
        flat = [p for row in prompts for p in row]
        with torch.no_grad():
            embeds, pooled = t.encode(t.tokenize(flat), grad=False)
        n, k = t.n_views, len(t.subsets)
        self.embeds = embeds.view(n, k, *embeds.shape[1:])
        self.pooled = pooled.view(n, k, *pooled.shape[1:]) if pooled is not None else None
        has_identity = torch.tensor([s.has_identity for s in t.subsets], device=t.device, dtype=torch.float32)
        outside = (1 - t.subject_lat) * t.bank.valid_lat  # (views, 1, h, w), past the silhouette band
        self.regions = outside[:, None] * has_identity.view(1, k, 1, 1, 1)
        self.example = prompts[0][t.subset_index("identity")]

    def loss(self, t: "Trainer", step: Step) -> dict[str, Term]:
        import torch

        from .split_merge import masked_mse

        embeds = self.embeds[step.views, step.subsets]
        pooled = self.pooled[step.views, step.subsets] if self.pooled is not None else None
        with torch.no_grad(), t.base_model():
            base = t.unet_forward(step.noisy, step.timesteps, embeds, pooled)
        region = self.regions[step.views, step.subsets]
        return {"background": Term(masked_mse(step.pred, base, region).mean(), t.cfg.background_weight)}

    def record(self, t: "Trainer") -> dict:
        views = sum(w is not None for w in t.bank.backdrop_words)
        return {"weight": t.cfg.background_weight, "base_prompt_example": self.example,
                "subject_margin": t.cfg.subject_margin,
                "backdrop_views": {"views": views, "of": t.n_views, "backdrops": self.backdrops,
                                   **({"why_none": self.why_no_backdrops} if not views else {})}}
