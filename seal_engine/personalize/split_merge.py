"""SEAL component 2: the split-merge token strategy.

Split: the character is learned by identity tokens (n vectors) while a context token
(initialised from "background") is learned beside them to absorb the reference's
background and incidental detail. Each training sample names a random subset of the two
(Break-A-Scene's union sampling); the diffusion loss covers only the union of the named
regions (subject mask, 1 - mask, or all), normalised by that area so a small subject
still gets a full-strength gradient (Break-A-Scene's masked loss is not); the context
token's cross-attention is pushed onto 1 - mask (this term belongs here, not to the
attention loss: `--no-attention-loss` leaves it, `--no-split-merge` removes it).
Identity and context rows are separate optimiser groups: they are updated separately.
Union sampling runs while the token rows learn (the embeddings phase). In the LoRA phase the
rows are frozen and every sample names the identity only, with the loss on the subject: a
LoRA trained on context-token samples learns the reference's background itself, in weights
every prompt uses (measured: the reference's background in 100% of samples whose prompt left
the background unnamed, against 33% without it). The background there is the background
term's job (`background_loss.py`). `lora_loss_region="image"` counts those samples over the
whole image instead (their prompts name the caption's background): measured on the toy world's
`paper` schedule it moved identity by +0.006 and attribute accuracy by −0.002, the rest
unchanged: within the noise, so the subject stays the default (docs/personalization.md, round 7).
Merge: generation names the identity tokens only (default) or identity + context
(`merge`), recorded in the concept.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Any, Optional

from .component import Component, Step, Term
from .tokens import TokenNames

if TYPE_CHECKING:  # pragma: no cover
    from .trainer import Trainer


class Subset(str, enum.Enum):
    BOTH = "identity+context"
    IDENTITY = "identity"
    CONTEXT = "context"

    @property
    def has_identity(self) -> bool:
        return self is not Subset.CONTEXT

    @property
    def has_context(self) -> bool:
        return self is not Subset.IDENTITY


def training_prompt(subset: Subset, names: TokenNames, class_word: str, words: str = "",
                    template: Optional[str] = None, background_words: str = "") -> str:
    """The prompt of one training sample.

    `template` (optional, with `{subject}` and optionally `{background}`) is a caption of
    the reference: words that explain what is NOT the character (pose, framing, style,
    background), so the identity tokens need not absorb them. Where the subset names the
    context token it stands beside the caption's background words, absorbing what they do
    not say: replacing them left the background to be re-learned by the tokens in the first
    steps, and the identity tokens took part of it (measured on the toy world: the reference's
    background in 58% of stickers asking for another one).
    """
    subject = f"{names.identity_string} {class_word}".strip()
    extra = f", {words}" if words else ""
    with_context = f"{background_words} {names.context}".strip() if names.context else background_words
    if subset is Subset.CONTEXT:
        return f"a {with_context} background"
    if template:
        bg = with_context if subset is Subset.BOTH else background_words
        return template.format(subject=subject, background=bg) + extra
    if subset is Subset.BOTH:
        return f"a sticker of {subject} on a {with_context} background{extra}"
    return f"a sticker of {subject}{extra}"


def loss_region(subset: Subset, mask: Any, valid: Any) -> Any:
    """Where the diffusion loss counts: the union of the named regions, within the valid pixels."""
    if subset is Subset.IDENTITY:
        return mask * valid
    if subset is Subset.CONTEXT:
        return (1 - mask) * valid
    return valid


def masked_mse(pred: Any, target: Any, region: Any, eps: float = 1e-6) -> Any:
    """Per-sample MSE over `region` (batch, 1, h, w), normalised by the region's area."""
    se = (pred.float() - target.float()) ** 2 * region
    area = region.sum(dim=(1, 2, 3)) * pred.shape[1]
    return se.sum(dim=(1, 2, 3)) / (area + eps)


class SplitMerge(Component):
    name = "split_merge"

    def configure(self, t: "Trainer") -> None:
        cfg = t.cfg
        t.context_token = cfg.context_token
        t.subsets = [Subset.BOTH, Subset.IDENTITY, Subset.CONTEXT]
        t.subset_probs = list(cfg.union_probs)
        t.region_rule = loss_region
        t.maps.request()

    def phase_start(self, t: "Trainer", phase: str) -> None:
        import torch

        probs = list(t.cfg.union_probs) if phase == "embeddings" else [0.0, 1.0, 0.0]
        t.subset_p = torch.tensor(probs, dtype=torch.float32, device=t.device)
        if phase == "lora" and t.cfg.lora_loss_region == "image":
            regions = t.regions.clone()
            regions[:, t.subsets.index(Subset.IDENTITY)] = regions[:, t.subsets.index(Subset.BOTH)]
            t.regions = regions

    def trainables(self, t: "Trainer", phase: str) -> list[dict]:
        if phase != "embeddings":
            return []
        return [{"params": [e.context_rows for e in t.encoders], "lr": t.cfg.embedding_lr}]

    def loss(self, t: "Trainer", step: Step) -> dict[str, Term]:
        from .attention_loss import attention_loss

        sel = t.ctx_sel[step.views, step.subsets]
        include = sel.sum(1) > 0
        term = t.maps.loss(sel, step.views, include, lambda m, tg, inc: attention_loss(
            m, tg, inc, t.cfg.attention_outside_weight), invert=True)
        if term is None:
            return {}
        return {"context_attention": Term(term, t.cfg.attention_weight, t.cfg.attention_grad_ratio)}

    def record(self, t: "Trainer") -> dict:
        return {"subsets": [s.value for s in t.subsets], "probabilities": list(t.cfg.union_probs),
                "lora_phase": f"identity only, loss on the {t.cfg.lora_loss_region}",
                "optimiser_groups": "identity rows and context row separately",
                "merge": t.cfg.merge.value}
