"""The learned token rows: identity vectors (and split-merge's context vector) of each text encoder.

Textual inversion here trains only the new rows: they are small fp32 parameters spliced
into the token-embedding output by a forward hook, and the embedding matrix itself is
never given to the optimiser. The diffusers example optimises the whole matrix and must
restore the other rows after every step (AdamW's weight decay moves them even with zero
gradients); here they cannot move at all, AdamW keeps state for n rows instead of 49k,
and half-precision models still get fp32 master weights. At the end the rows are written
into the matrix, exactly what `load_textual_inversion` does, so the in-memory model and a
reloaded concept are the same.

Identity and context rows are separate parameters, so split-merge can update them as
separate optimiser groups (the paper's "identity and context sub-vectors updated separately").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from ..errors import InputError

RARE_WORD = "sks"
"""DreamBooth's rare identifier: initialises frozen identity tokens for `lora` alone."""


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


def context_alignment(ids: list[int], cls_ids: list[int], identity: set[int], learned: set[int],
                      eos: int) -> list[tuple[int, int]]:
    """(position in `ids`, position in `cls_ids`) of the words after the subject, both prompts alike.

    The class-word prompt is the training prompt without the learned tokens, so dropping them from
    `ids` must give `cls_ids` token for token; the class word right after the identity tokens (it
    should read the identity) and EOS and padding (the pooled side, which should carry the image)
    are left out. Prompts that do not line up so (a tokenizer merging across a removed word) give
    no pairs rather than wrong ones."""
    end = ids.index(eos) if eos in ids else len(ids)
    cls_end = cls_ids.index(eos) if eos in cls_ids else len(cls_ids)
    kept = [p for p in range(end) if ids[p] not in learned]
    if len(kept) != cls_end or any(ids[p] != cls_ids[q] for q, p in enumerate(kept)):
        return []
    identity_at = [p for p in range(end) if ids[p] in identity]
    if not identity_at:
        return []
    class_word = identity_at[-1] + 1
    return [(p, q) for q, p in enumerate(kept) if p > identity_at[0] and p != class_word]


def unique_token(base: str, tokenizers: list[Any]) -> str:
    """`base`, or `base-2`, ... when a loaded concept already uses the name (diffusers expands by prefix)."""
    vocab: set[str] = set()
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


@dataclass
class EncoderTokens:
    """The new token rows of one text encoder (two on SDXL)."""

    text_encoder: Any
    tokenizer: Any
    ids: list[int]
    identity_rows: Any  # nn.Parameter (n_identity, dim), fp32
    context_rows: Any  # nn.Parameter (1, dim) or None
    hook: Any = None

    @property
    def rows(self) -> Any:
        import torch

        return self.identity_rows if self.context_rows is None else torch.cat([self.identity_rows, self.context_rows])

    def install(self) -> None:
        import torch

        emb = self.text_encoder.get_input_embeddings()
        lut = torch.full((emb.num_embeddings,), -1, dtype=torch.long, device=emb.weight.device)
        lut[torch.tensor(self.ids, device=lut.device)] = torch.arange(len(self.ids), device=lut.device)

        def splice(_module: Any, inputs: Any, output: Any) -> Any:
            idx = lut[inputs[0]]
            new = self.rows[idx.clamp(min=0)].to(output.dtype)
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

    def finite(self) -> bool:
        import torch

        return bool(torch.isfinite(self.rows.detach()).all())


def add_tokens(encoder: Any, tokenizer: Any, names: TokenNames, identity_init: str,
               context_init: Optional[str]) -> EncoderTokens:
    """Add the token strings to one tokenizer/encoder pair, rows initialised from words."""
    import torch

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

    ident = torch.stack([vec(identity_init)] * len(names.identity)).clone()
    ctx = torch.stack([vec(context_init or "background")]).clone() if names.context else None
    with torch.no_grad():
        weight[ids] = torch.cat([ident] + ([ctx] if ctx is not None else [])).to(weight.dtype)
    device = weight.device
    return EncoderTokens(encoder, tokenizer, ids, torch.nn.Parameter(ident.to(device)),
                         torch.nn.Parameter(ctx.to(device)) if ctx is not None else None)
