"""Context hold: while the identity tokens train, the caption's words after them keep reading as
they do after the class word.

The text encoder is causal, so every identity row also changes how each later word of the prompt
reads: the emotion, pose and background words the U-Net is asked for at generation. The image
start holds those words where it fits the rows (image_start.py, `image_start_context_weight`,
docs/personalization.md round 14: the asked emotion back in 0.035 more samples on `paper`), but
the diffusion phase that follows trains the same rows on the reference alone, where the words
are free to drift toward the reference's own emotion and pose. This term carries the same hold
through the embeddings phase: for each training sample whose prompt holds the identity tokens,
the mean (1 - cosine) between the text encoder's output at the words after the subject and the
same words' output in the class-word prompt (no gradient). It costs one no-grad text-encoder
pass at setup; the outputs it reads are the ones the step computed anyway.

It acts only in the embeddings phase: in the LoRA phase the text side is frozen and cached, so
no trained parameter feeds it and it is not computed there (recorded).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

from .component import Component, Step, Term
from .tokens import context_alignment

if TYPE_CHECKING:  # pragma: no cover
    from .trainer import Trainer


class ContextHold(Component):
    name = "context_hold"

    def __init__(self) -> None:
        self.why_not = ""
        self.tokens = 0
        self.before: Optional[float] = None
        self.after: Optional[float] = None

    def setup(self, t: "Trainer") -> None:
        import torch

        n, k = t.n_views, len(t.subsets)
        identity = set(int(i) for i in t.id_ids.tolist())
        learned = identity | (set(int(i) for i in t.ctx_ids.tolist()) if t.ctx_ids is not None else set())
        eos = int(t.pipe.tokenizer.eos_token_id)
        base = [t.base_prompt(v, s) for v in range(n) for s in range(k)]
        cls_ids, cls_ids2 = t.tokenize(base)
        ids = t.prompt_ids.view(n * k, -1)
        mask = torch.zeros(ids.shape, dtype=torch.float32, device=t.device)
        gather = torch.zeros(ids.shape, dtype=torch.long, device=t.device)
        for f, (a, b) in enumerate(zip(ids.tolist(), cls_ids.tolist())):
            if not t.subsets[f % k].has_identity:
                continue
            for p, q in context_alignment(a, b, identity, learned, eos):
                mask[f, p], gather[f, p] = 1.0, q
        self.tokens = int(mask.sum())
        if not self.tokens:
            self.why_not = "no training prompt has words after the identity tokens that line up with the class-word prompt"
            t.report(f"Context hold is off: {self.why_not}.")
            return
        cls_embeds, _pooled = t.encode((cls_ids, cls_ids2), grad=False)
        aligned = torch.gather(cls_embeds.float(), 1, gather.unsqueeze(-1).expand(-1, -1, cls_embeds.shape[-1]))
        self.mask = mask.view(n, k, -1)
        self.target = aligned.view(n, k, *aligned.shape[1:])
        self.before = self.cosine(t)

    def _value(self, embeds: Any, views: Any, subsets: Any) -> Any:
        import torch

        m = self.mask[views, subsets]
        cos = torch.nn.functional.cosine_similarity(embeds.float(), self.target[views, subsets], dim=-1)
        return ((1 - cos) * m).sum() / m.sum().clamp(min=1.0)

    def cosine(self, t: "Trainer") -> float:
        """Mean cosine of the held words on the unaugmented view's identity prompt (no gradient)."""
        import torch

        s = t.subset_index("identity")
        views = torch.zeros(1, dtype=torch.long, device=t.device)
        subsets = torch.full((1,), s, dtype=torch.long, device=t.device)
        ids = t.prompt_ids[views, subsets]
        ids2 = t.prompt_ids2[views, subsets] if t.xl else None
        embeds, _pooled = t.encode((ids, ids2), grad=False)
        return round(1.0 - float(self._value(embeds, views, subsets)), 4)

    def loss(self, t: "Trainer", step: Step) -> dict[str, Term]:
        if self.why_not or step.phase != "embeddings":  # the LoRA phase's text side is frozen
            return {}
        return {"context_hold": Term(self._value(step.embeds, step.views, step.subsets), None,
                                     t.cfg.context_hold_grad_ratio)}

    def finish(self, t: "Trainer") -> None:
        if not self.why_not:
            self.after = self.cosine(t)

    def record(self, t: "Trainer") -> dict:
        if self.why_not:
            return {"active": False, "reason": self.why_not}
        return {"active": True, "acts_in": ["embeddings"], "grad_ratio": t.cfg.context_hold_grad_ratio,
                "held_tokens": self.tokens, "cosine_before": self.before, "cosine_after": self.after}
