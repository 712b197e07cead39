"""Cross-attention maps of chosen layers, and the choice of layers by what their maps carry.

Shared by the attention loss (identity token onto the mask) and split-merge (context token
onto the background): one capture per forward, however many terms read it.

Why a processor of our own: SDPA returns no probabilities, and Break-A-Scene's code
forces the explicit-softmax processor on every layer (no SDPA anywhere, gigabytes of
self-attention maps). We install a storing processor only on the chosen attn2 layers
(77 keys: cheap) and keep every other processor as it was. peft's LoRA wraps the Linear
modules, so it composes with this processor.

Why layers are chosen by measurement: a fixed "image side / 32" rule picked the 4x4 mid
block of the toy world (VAE factor 4), whose maps hardly follow the subject (map/mask
correlation ~0.25), while its 16x16 decoder maps follow it at ~0.9. At setup one no-grad
pass on the reference scores every attn2 layer's identity-token map against the mask
(Pearson correlation); the informative layers are kept and recorded with their scores.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field
from typing import Any, Iterator, Optional, Sequence

_NAME = re.compile(r"^(down_blocks|up_blocks|mid_block)\.?(\d*)\..*attn2\.processor$")
_ANY_ATTN = re.compile(r"^(down_blocks|up_blocks|mid_block)\.?(\d*)\..*\.attn[12]\.")


@dataclass(frozen=True)
class AttnLayer:
    name: str  # processor name, e.g. up_blocks.1.attentions.0.transformer_blocks.0.attn2.processor
    side: int  # the map is side x side at the given latent size


def block_side(unet: Any, module_name: str, latent_side: int) -> Optional[int]:
    """Feature-map side at which a down/mid/up block module runs (standard diffusers U-Nets):
    down_blocks.i at latent / 2^i, up_blocks.i at latent / 2^(n_up-1-i), mid at the coarsest."""
    m = _ANY_ATTN.match(module_name) or _NAME.match(module_name)
    if not m:
        return None
    block, idx = m.group(1), m.group(2)
    n_down, n_up = len(unet.down_blocks), len(unet.up_blocks)
    if block == "down_blocks":
        level = int(idx)
    elif block == "up_blocks":
        level = n_up - 1 - int(idx)
    else:
        level = n_down - 1
    return max(1, latent_side >> level)


def cross_attention_layers(unet: Any, latent_side: int) -> list[AttnLayer]:
    """Every attn2 layer with the side of the map it produces for a `latent_side` latent."""
    return [AttnLayer(name, block_side(unet, name, latent_side)) for name in unet.attn_processors
            if _NAME.match(name)]


@dataclass
class AttentionStore:
    """Head-averaged cross-attention probabilities of the current forward pass, per layer."""

    active: bool = True
    maps: dict[str, Any] = field(default_factory=dict)  # layer -> (batch, queries, keys)

    def clear(self) -> None:
        self.maps.clear()


class StoringAttnProcessor:
    """diffusers' explicit `AttnProcessor` that also records softmax(QK^T) averaged over heads."""

    def __init__(self, store: AttentionStore, name: str) -> None:
        self.store = store
        self.name = name

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
            self.store.maps[self.name] = probs.view(b, attn.heads, *probs.shape[1:]).mean(1)
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
    for name in layer_names:
        procs[name] = StoringAttnProcessor(store, name)
    unet.set_attn_processor(procs)
    try:
        yield store
    finally:
        unet.set_attn_processor(original)
        store.clear()


def token_map(layer_map: Any, selection: Any) -> Any:
    """(batch, side, side): one layer's attention summed over each sample's selected token positions.

    `selection` is a (batch, keys) 0/1 tensor marking the token positions of each sample.
    """
    import torch

    b, q = layer_map.shape[:2]
    side = int(round(q ** 0.5))
    return torch.einsum("bqk,bk->bq", layer_map, selection.to(layer_map.dtype)).view(b, side, side)


def resize_mask(mask: Any, side: int) -> Any:
    """(batch, 1, H, W) float mask -> (batch, side, side) by area averaging (soft at the edges)."""
    import torch.nn.functional as F

    return F.interpolate(mask, size=(side, side), mode="area")[:, 0]


def correlation(maps: Any, target: Any, eps: float = 1e-8) -> Any:
    """Per-sample Pearson correlation of two (batch, side, side) tensors."""
    a = maps.flatten(1) - maps.flatten(1).mean(1, keepdim=True)
    b = target.flatten(1) - target.flatten(1).mean(1, keepdim=True)
    return (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1) + eps)


def select_layers(scores: dict[str, float], min_score: float, keep_fraction: float) -> list[str]:
    """The informative layers: score >= min_score and >= keep_fraction x the best; at least the best one."""
    if not scores:
        return []
    best = max(scores.values())
    chosen = [n for n, s in scores.items() if s >= min_score and s >= keep_fraction * best]
    return chosen or [max(scores, key=scores.get)]


def mass_inside(maps: Any, target: Any, eps: float = 1e-8) -> Any:
    """Fraction of each sample's map that falls inside `target` (the diagnostic the tests check)."""
    return (maps * target).sum(dim=(1, 2)) / (maps.sum(dim=(1, 2)) + eps)


class MapCapture:
    """The trainer's one capture of cross-attention maps, shared by every term that reads them.

    Layers are chosen once at setup by `score_layers` (or named by hand), the storing
    processor goes on those layers only, and each term asks for its token's maps against a
    target at each layer's own size.
    """

    def __init__(self) -> None:
        self.wanted = False
        self.layers: list[str] = []
        self.sides: dict[str, int] = {}
        self.scores: dict[str, float] = {}
        self.how = ""
        self.store = AttentionStore()
        self.masks: dict[int, Any] = {}  # side -> (views, side, side)
        self._stack = contextlib.ExitStack()
        self.installed = False

    def request(self) -> None:
        self.wanted = True

    def choose(self, t: Any) -> None:
        """Score every attn2 layer (or take the named ones) and prepare the masks per map size."""
        cfg = t.cfg
        layers = cross_attention_layers(t.pipe.unet, t.latent_side)
        if not layers:
            from ..errors import ModelError

            raise ModelError("This U-Net has no cross-attention layers to guide.")
        known = {layer.name: layer for layer in layers}
        if cfg.attention_layers:
            names = [n if n.endswith(".processor") else n + ".processor" for n in cfg.attention_layers]
            missing = [n for n in names if n not in known]
            if missing:
                from ..errors import InputError

                raise InputError(f"No cross-attention layer named {missing[0].removesuffix('.processor')}.")
            self.layers, self.how = names, "named by hand"
        else:
            pool = [l for l in layers if cfg.attention_resolution in (None, l.side)]
            if not pool:
                from ..errors import InputError

                sides = sorted({l.side for l in layers})
                raise InputError(f"No cross-attention maps of side {cfg.attention_resolution}; this model has "
                                 f"{', '.join(map(str, sides))}.")
            self.scores = score_layers(t, [l.name for l in pool])
            self.layers = select_layers(self.scores, cfg.attention_min_score, cfg.attention_keep_fraction)
            self.how = (f"map/mask correlation >= {cfg.attention_min_score} and >= "
                        f"{cfg.attention_keep_fraction} x the best, on the reference before training")
        self.sides = {n: known[n].side for n in self.layers}
        for side in set(self.sides.values()):
            self.masks[side] = resize_mask(t.bank.mask_full, side)

    def install(self, unet: Any) -> None:
        if not self.installed:
            self._stack.enter_context(capture(unet, self.layers, self.store))
            self.installed = True

    @contextlib.contextmanager
    def capturing(self, unet: Any) -> Iterator[AttentionStore]:
        """Capture for the duration of a diagnostic pass (no-op when the training capture is on)."""
        if self.installed:
            yield self.store
            return
        with capture(unet, self.layers, self.store) as store:
            yield store

    def close(self) -> None:
        self._stack.close()
        self.installed = False
        self.store.clear()

    def target(self, views: Any, side: int) -> Any:
        return self.masks[side][views]

    def maps_for(self, selection: Any) -> dict[str, Any]:
        """layer -> (batch, side, side) maps of the selected tokens in the last forward pass."""
        return {n: token_map(self.store.maps[n], selection) for n in self.layers}

    def loss(self, selection: Any, views: Any, include: Any, fn: Any, invert: bool = False) -> Any:
        """Mean over the captured layers of fn(maps, target, include); None when nothing was captured."""
        if not self.store.maps:
            return None
        terms = []
        for name, maps in self.maps_for(selection).items():
            target = self.target(views, self.sides[name])
            terms.append(fn(maps, 1 - target if invert else target, include))
        return sum(terms) / len(terms)

    def record(self) -> dict:
        return {"layers": [n.removesuffix(".processor") for n in self.layers],
                "map_sides": sorted(set(self.sides.values())),
                "chosen_by": self.how,
                "layer_scores": {n.removesuffix(".processor"): round(s, 4) for n, s in self.scores.items()}}


def score_layers(t: Any, names: list[str]) -> dict[str, float]:
    """Pearson correlation of each layer's identity-token map with the mask, on the unaugmented
    reference at three timesteps (fixed noise), before any training."""
    import torch

    store = AttentionStore()
    noisy, timesteps, views = t.probe_inputs()
    sel = t.identity_selection(views)
    with torch.no_grad(), capture(t.pipe.unet, names, store):
        embeds, pooled = t.encode(t.identity_ids(views), grad=False)
        t.unet_forward(noisy, timesteps, embeds, pooled)
        scores = {}
        for name in names:
            maps = token_map(store.maps[name], sel)
            target = resize_mask(t.bank.mask_full[views], maps.shape[-1])
            scores[name] = float(correlation(maps, target).mean())
    return scores


def probe(t: Any) -> dict[str, float]:
    """Attention mass of the identity tokens inside the mask (and of the context token outside it),
    on the unaugmented view at three fixed timesteps and fixed noise, averaged over the layers."""
    import torch

    noisy, timesteps, views = t.probe_inputs()
    cap: MapCapture = t.maps
    result: dict[str, float] = {}
    cases = [("identity_inside", t.identity_ids(views), t.identity_selection(views), False)]
    if t.ctx_sel is not None:
        both = t.subset_index("identity+context")
        ids = (t.prompt_ids[views, both], t.prompt_ids2[views, both] if t.xl else None)
        cases.append(("context_outside", ids, t.ctx_sel[views, both], True))
    with torch.no_grad(), cap.capturing(t.pipe.unet):
        for key, ids, sel, invert in cases:
            cap.store.clear()
            embeds, pooled = t.encode(ids, grad=False)
            t.unet_forward(noisy, timesteps, embeds, pooled)
            values = []
            for name, maps in cap.maps_for(sel).items():
                target = cap.target(views, cap.sides[name])
                values.append(mass_inside(maps, 1 - target if invert else target).mean())
            result[key] = round(float(sum(values) / len(values)), 5)
        cap.store.clear()
    side = max(cap.sides.values())
    result["mask_fraction"] = round(float(cap.target(views[:1], side).mean()), 5)
    return result
