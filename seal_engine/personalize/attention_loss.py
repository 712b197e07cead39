"""SEAL component 1: the semantic-guided spatial attention loss.

The identity tokens' cross-attention maps are pushed onto the subject's mask, so the
learned tokens describe the character and not the reference's background. Following
Break-A-Scene: each map is divided by its max and compared (MSE) with the mask resized to
the map; we add the fraction of attention mass that falls outside the mask. The maps come
from the layers whose maps follow the subject (`attention_maps.MapCapture`: scored on the
reference at setup, recorded with their scores), each at its own size.

The weight is set per phase from the measured gradients (`Term.weight=None`): at a phase's
first step the trainer makes this term's gradient `attention_grad_ratio` times the
diffusion term's, on exactly the parameters that phase trains. A fixed 1e-2 (Break-A-Scene's
weight) gave the term 0.4-3% of the diffusion gradient here, i.e. no effect. Where the term
has no gradient path to the trained parameters (e.g. LoRA on layers that do not feed the
hooked maps), the trainer reports it at the first step and stops computing it in that phase.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .component import Component, Step, Term

if TYPE_CHECKING:  # pragma: no cover
    from .trainer import Trainer


class AttentionLoss(Component):
    name = "attention_loss"

    def configure(self, t: "Trainer") -> None:
        t.maps.request()

    def loss(self, t: "Trainer", step: Step) -> dict[str, Term]:
        cfg = t.cfg
        sel = t.id_sel[step.views, step.subsets]
        include = sel.sum(1) > 0
        term = t.maps.loss(sel, step.views, include,
                           lambda m, tg, inc: attention_loss(m, tg, inc, cfg.attention_outside_weight,
                                                             cfg.attention_coverage_weight))
        if term is None:
            return {}
        return {"attention": Term(term, cfg.attention_weight, cfg.attention_grad_ratio)}


def attention_terms(maps: Any, target: Any, eps: float = 1e-8) -> tuple[Any, Any]:
    """Per-sample (MSE of the max-normalised map against the target, mass outside the target)."""
    peak = maps.amax(dim=(1, 2), keepdim=True)
    mse = ((maps / (peak + eps) - target) ** 2).mean(dim=(1, 2))
    outside = (maps * (1 - target)).sum(dim=(1, 2)) / (maps.sum(dim=(1, 2)) + eps)
    return mse, outside


def attention_loss(maps: Any, target: Any, include: Any, outside_weight: float = 1.0,
                   coverage_weight: float = 1.0) -> Any:
    """Mean over the samples in `include` (batch; bool or 0/1) of coverage_weight * mse + outside_weight * outside.

    A weighted mean rather than boolean indexing: no host synchronisation inside the step."""
    mse, outside = attention_terms(maps, target)
    per = coverage_weight * mse + outside_weight * outside
    w = include.to(per.dtype)
    return (per * w).sum() / w.sum().clamp(min=1.0)


