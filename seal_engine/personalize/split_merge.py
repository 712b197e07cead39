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
    background), so the identity tokens need not absorb them. `{background}` becomes the
    context token when the subset names it, else `background_words`.
    """
    subject = f"{names.identity_string} {class_word}".strip()
    extra = f", {words}" if words else ""
    if subset is Subset.CONTEXT:
        return f"a {names.context} background"
    if template:
        bg = names.context if subset is Subset.BOTH else background_words
        return template.format(subject=subject, background=bg) + extra
    if subset is Subset.BOTH:
        return f"a sticker of {subject} on a {names.context} background{extra}"
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
                "optimiser_groups": "identity rows and context row separately",
                "merge": t.cfg.merge.value}
