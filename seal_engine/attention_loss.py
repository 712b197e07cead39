"""SEAL component 1: the semantic-guided spatial attention loss.

The identity token's cross-attention map is pushed onto the subject's mask, so
the learned token describes the character and not the reference's background.
Following Break-A-Scene: attn2 probabilities are captured at one resolution,
averaged over heads and layers, summed over the token's vectors, divided by
their max and compared (MSE) with the mask resized to the map; we add the
fraction of attention mass that falls outside the mask.

Why a processor of our own: SDPA returns no probabilities, and Break-A-Scene's
code forces the explicit-softmax processor on every layer (no SDPA anywhere,
gigabytes of self-attention maps). We install a storing processor only on the
chosen attn2 layers (77 keys: cheap) and keep every other processor as it was.
peft's LoRA wraps the Linear modules, so it composes with this processor.
"""

from __future__ import annotations

import contextlib
import math
import re
from dataclasses import dataclass, field
from typing import Any, Iterator, Optional, Sequence

_NAME = re.compile(r"^(down_blocks|up_blocks|mid_block)\.?(\d*)\..*attn2\.processor$")


@dataclass(frozen=True)
class AttnLayer:
    name: str  # processor name, e.g. up_blocks.1.attentions.0.transformer_blocks.0.attn2.processor
    side: int  # the map is side x side at the given latent size


def cross_attention_layers(unet: Any, latent_side: int) -> list[AttnLayer]:
    """Every attn2 layer with the side of the map it produces for a `latent_side` latent.

    down_blocks.i runs at latent / 2^i, up_blocks.i at latent / 2^(n_up-1-i) and the
    mid block at the coarsest size (standard diffusers U-Nets).
    """
    n_down, n_up = len(unet.down_blocks), len(unet.up_blocks)
    layers = []
    for name in unet.attn_processors:
        m = _NAME.match(name)
        if not m:
            continue
        block, idx = m.group(1), m.group(2)
        if block == "down_blocks":
            level = int(idx)
        elif block == "up_blocks":
            level = n_up - 1 - int(idx)
        else:
            level = n_down - 1
        layers.append(AttnLayer(name, max(1, latent_side >> level)))
    return layers


def choose_layers(unet: Any, image_side: int, vae_scale: int = 8, resolution: Optional[int] = None,
                  explicit: Optional[Sequence[str]] = None) -> tuple[list[str], int]:
    """The attn2 layers whose maps the loss uses, and their map side.

    Rule: maps of side image/32 (SD1.x at 512 -> the 16x16 layers, Break-A-Scene's
    choice; SDXL at 1024 -> the 32x32 layers), or the nearest side available.
    Down/up-block layers are preferred; the mid block is used only when it is the
    sole match (it carries the least spatial detail).
    """
    latent = image_side // vae_scale
    layers = cross_attention_layers(unet, latent)
    if explicit:
        known = {layer.name: layer for layer in layers}
        missing = [n for n in explicit if n not in known]
        if missing:
            from .errors import InputError

            raise InputError(f"No cross-attention layer named {missing[0]}.")
        sides = {known[n].side for n in explicit}
        if len(sides) != 1:
            from .errors import InputError

            raise InputError("The attention layers must all have the same map size.")
        return list(explicit), sides.pop()
    target = resolution or max(1, image_side // 32)
    sides = sorted({layer.side for layer in layers})
    if not sides:
        from .errors import ModelError

        raise ModelError("This U-Net has no cross-attention layers to guide.")
    side = min(sides, key=lambda s: (abs(math.log2(s) - math.log2(target)), -s))
    chosen = [l for l in layers if l.side == side]
    outer = [l for l in chosen if not l.name.startswith("mid_block")]
    return [l.name for l in (outer or chosen)], side


@dataclass
class AttentionStore:
    """Head-averaged cross-attention probabilities of the current forward pass."""

    active: bool = True
    maps: list[Any] = field(default_factory=list)  # each (batch, queries, keys)

    def clear(self) -> None:
        self.maps.clear()

    def mean_map(self) -> Any:
        """(batch, queries, keys), averaged over the captured layers."""
        import torch

        if not self.maps:
            raise RuntimeError("No attention maps were captured in this forward pass.")
        return torch.stack([m.float() for m in self.maps]).mean(0)


class StoringAttnProcessor:
    """diffusers' explicit `AttnProcessor`, which also records softmax(QK^T) averaged over heads."""

    def __init__(self, store: AttentionStore) -> None:
        self.store = store

    def __call__(self, attn: Any, hidden_states: Any, encoder_hidden_states: Any = None,
                 attention_mask: Any = None, temb: Any = None, *args: Any, **kwargs: Any) -> Any:
        import torch

        residual = hidden_states
        if attn.spatial_norm is not None:
            hidden_states = attn.spatial_norm(hidden_states, temb)
        input_ndim = hidden_states.ndim
        if input_ndim == 4:
            batch_size, channel, height, width = hidden_states.shape
            hidden_states = hidden_states.view(batch_size, channel, height * width).transpose(1, 2)
        batch_size, sequence_length, _ = (
            hidden_states.shape if encoder_hidden_states is None else encoder_hidden_states.shape)
        attention_mask = attn.prepare_attention_mask(attention_mask, sequence_length, batch_size)
        if attn.group_norm is not None:
            hidden_states = attn.group_norm(hidden_states.transpose(1, 2)).transpose(1, 2)
        query = attn.to_q(hidden_states)
        if encoder_hidden_states is None:
            encoder_hidden_states = hidden_states
        elif attn.norm_cross:
            encoder_hidden_states = attn.norm_encoder_hidden_states(encoder_hidden_states)
        key = attn.to_k(encoder_hidden_states)
        value = attn.to_v(encoder_hidden_states)
        query = attn.head_to_batch_dim(query)
        key = attn.head_to_batch_dim(key)
        value = attn.head_to_batch_dim(value)
        probs = attn.get_attention_scores(query, key, attention_mask)
        if self.store.active:
            b = probs.shape[0] // attn.heads
            self.store.maps.append(probs.view(b, attn.heads, *probs.shape[1:]).mean(1))
        hidden_states = torch.bmm(probs, value)
        hidden_states = attn.batch_to_head_dim(hidden_states)
        hidden_states = attn.to_out[0](hidden_states)
        hidden_states = attn.to_out[1](hidden_states)
        if input_ndim == 4:
            hidden_states = hidden_states.transpose(-1, -2).reshape(batch_size, channel, height, width)
        if attn.residual_connection:
            hidden_states = hidden_states + residual
        return hidden_states / attn.rescale_output_factor


@contextlib.contextmanager
def capture(unet: Any, layer_names: Sequence[str], store: AttentionStore) -> Iterator[AttentionStore]:
    """Install the storing processor on `layer_names` only; restore every processor on exit."""
    original = dict(unet.attn_processors)
    procs = dict(original)
    proc = StoringAttnProcessor(store)
    for name in layer_names:
        procs[name] = proc
    unet.set_attn_processor(procs)
    try:
        yield store
    finally:
        unet.set_attn_processor(original)
        store.clear()


def token_maps(mean_map: Any, selection: Any, side: int) -> Any:
    """(batch, side, side): each sample's attention summed over its selected token positions.

    `selection` is a (batch, keys) 0/1 tensor marking the token positions of each sample.
    """
    b = mean_map.shape[0]
    maps = torch_einsum("bqk,bk->bq", mean_map, selection.to(mean_map.dtype))
    return maps.view(b, side, side)


def torch_einsum(spec: str, *ops: Any) -> Any:
    import torch

    return torch.einsum(spec, *ops)


def resize_mask(mask: Any, side: int) -> Any:
    """(batch, 1, H, W) float mask -> (batch, side, side) by area averaging (soft at the edges)."""
    import torch.nn.functional as F

    return F.interpolate(mask, size=(side, side), mode="area")[:, 0]


def attention_terms(maps: Any, target: Any, eps: float = 1e-8) -> tuple[Any, Any]:
    """Per-sample (MSE of the max-normalised map against the target, mass outside the target)."""
    peak = maps.amax(dim=(1, 2), keepdim=True)
    mse = ((maps / (peak + eps) - target) ** 2).mean(dim=(1, 2))
    outside = (maps * (1 - target)).sum(dim=(1, 2)) / (maps.sum(dim=(1, 2)) + eps)
    return mse, outside


def attention_loss(maps: Any, target: Any, include: Any, outside_weight: float = 1.0) -> Any:
    """Mean over the samples in `include` (bool, batch) of mse + outside_weight * outside."""
    import torch

    if not bool(include.any()):
        return maps.sum() * 0.0
    mse, outside = attention_terms(maps, target)
    per = mse + outside_weight * outside
    return per[include].mean() if include.dtype == torch.bool else (per * include).sum() / include.sum()


def mass_inside(maps: Any, target: Any, eps: float = 1e-8) -> Any:
    """Fraction of each sample's map that falls inside `target` (the diagnostic the tests check)."""
    return (maps * target).sum(dim=(1, 2)) / (maps.sum(dim=(1, 2)) + eps)
