"""SEAL component 2: the split-merge token strategy.

Split: the character is learned by identity tokens (n vectors, initialised from
the class word) while a context token (initialised from "background") is
learned beside them to absorb the reference's background and incidental
detail. Each training sample names a random subset of the two (Break-A-Scene's
union sampling); the diffusion loss covers only the union of the named
regions (subject mask, 1 - mask, or all) and is normalised by that area so a
small subject still gets a full-strength gradient (Break-A-Scene's masked loss
is not normalised); the context token's attention is pushed onto 1 - mask.
Merge: generation names the identity tokens only, and only they are exported in
`learned_embeds.safetensors`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Optional, Sequence


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


@dataclass(frozen=True)
class TokenNames:
    """Identity token strings (`tok`, `tok_1`, ... as diffusers' textual inversion names them) and the context's."""

    identity: tuple[str, ...]
    context: Optional[str]

    @classmethod
    def make(cls, identity_token: str, num_vectors: int, context_token: Optional[str]) -> "TokenNames":
        ident = (identity_token,) + tuple(f"{identity_token}_{i}" for i in range(1, num_vectors))
        return cls(ident, context_token)

    @property
    def identity_string(self) -> str:
        return " ".join(self.identity)

    @property
    def all(self) -> tuple[str, ...]:
        return self.identity + ((self.context,) if self.context else ())


def sample_subset(rng: Any, probs: Sequence[float], split_merge: bool) -> Subset:
    """Union sampling; without split-merge every sample is the plain identity prompt."""
    if not split_merge:
        return Subset.IDENTITY
    p = [float(x) for x in probs]
    total = sum(p)
    return list(Subset)[int(rng.choice(3, p=[x / total for x in p]))]


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
    if template:
        if subset is Subset.CONTEXT:
            return f"a {names.context} background"
        bg = names.context if subset is Subset.BOTH else background_words
        return template.format(subject=subject, background=bg) + extra
    if subset is Subset.BOTH:
        return f"a sticker of {subject} on a {names.context} background{extra}"
    if subset is Subset.CONTEXT:
        return f"a {names.context} background"
    return f"a sticker of {subject}{extra}"


def loss_region(subset: Subset, mask: Any, valid: Any, split_merge: bool) -> Any:
    """Where the diffusion loss counts: the union of the named regions, within the valid pixels."""
    if not split_merge:
        return valid
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
