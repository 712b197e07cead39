"""The augmented views of the one reference, VAE-encoded once, with their masks at every size used."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, Iterator, Optional

from ..progress import CancelToken


@dataclass
class Bank:
    mean: Any  # (N, C, h, w) latent mean
    std: Any
    mask_lat: Any  # (N, 1, h, w) subject mask at latent size (area-averaged)
    valid_lat: Any  # (N, 1, h, w) 1 where real pixels are
    mask_full: Any  # (N, 1, H, W) at image size, for attention maps of any side
    words: list[str]
    scales: list[float]
    backdrop_words: list[Optional[str]]  # per view: a named backdrop's words, None for the reference's background
    # per view: (caption's phrase, phrase its prompt names instead) for an edited reference (edited_views.py)
    swaps: Optional[list[Optional[tuple[str, str]]]] = None

    def __post_init__(self) -> None:
        if self.swaps is None:
            self.swaps = [None] * len(self.words)

    def __len__(self) -> int:
        return len(self.words)

    def extend(self, other: "Bank", swap: Optional[tuple[str, str]]) -> None:
        """Append `other`'s views (an edited reference's), their prompts naming `swap`'s new phrase."""
        import torch

        for name in ("mean", "std", "mask_lat", "valid_lat", "mask_full"):
            setattr(self, name, torch.cat([getattr(self, name), getattr(other, name)]))
        self.words += other.words
        self.scales += other.scales
        self.backdrop_words += other.backdrop_words
        self.swaps += [swap] * len(other)

    def subject_lat(self, margin: float) -> Any:
        """The subject mask at latent size, grown by `margin` x the latent side.

        The band just outside the silhouette is where a wrong shape shows (a round body
        drawn over a triangular one spills out there); a loss that stops at the mask edge
        cannot see it, and a background term that starts there pulls the base model's
        default silhouette in.
        """
        import torch.nn.functional as F

        radius = int(round(margin * self.mask_lat.shape[-1]))
        if radius <= 0:
            return self.mask_lat
        return F.max_pool2d(self.mask_lat, 2 * radius + 1, stride=1, padding=radius)


@contextlib.contextmanager
def vae_precision(vae: Any) -> Iterator[Any]:
    """The dtype to run `vae` in: an fp16 VAE that asks for it (SDXL's, `force_upcast`) runs in fp32,
    as diffusers' pipelines do, and goes back to fp16 after."""
    import torch

    upcast = vae.dtype == torch.float16 and getattr(vae.config, "force_upcast", False)
    if upcast:
        vae.to(torch.float32)
    try:
        yield torch.float32 if upcast else vae.dtype
    finally:
        if upcast:
            vae.to(torch.float16)


def encode_bank(pipe: Any, reference: Any, mask: Any, size: int, config: Any, rng: Any, device: Any,
                cancel: Optional[CancelToken] = None, backdrops: Any = (), backdrop_share: float = 0.0) -> Bank:
    import numpy as np
    import torch
    import torch.nn.functional as F

    from ..augment import make_views

    views = make_views(reference, mask, size, config, rng, backdrops, backdrop_share)
    vae = pipe.vae
    means, stds = [], []
    with vae_precision(vae) as vae_dtype, torch.no_grad():
        for start in range(0, len(views), 4):
            if cancel is not None:
                cancel.raise_if_cancelled()
            chunk = views[start:start + 4]
            px = torch.stack([torch.from_numpy(np.asarray(v.image, dtype=np.float32) / 127.5 - 1.0)
                              .permute(2, 0, 1) for v in chunk]).to(device, vae_dtype)
            dist = vae.encode(px).latent_dist
            means.append(dist.mean.float())
            stds.append(dist.std.float())

    def stack(images: list[Any]) -> Any:
        return torch.stack([torch.from_numpy(np.asarray(im, dtype=np.float32) / 255.0) for im in images]
                           ).unsqueeze(1).to(device)

    mean = torch.cat(means)
    lat = mean.shape[-1]
    mask_full = stack([v.mask for v in views])
    valid_full = stack([v.valid for v in views])
    return Bank(mean=mean, std=torch.cat(stds),
                mask_lat=F.interpolate(mask_full, size=(lat, lat), mode="area"),
                valid_lat=(F.interpolate(valid_full, size=(lat, lat), mode="area") > 0.5).float(),
                mask_full=mask_full, words=[v.words for v in views], scales=[v.scale for v in views],
                backdrop_words=[v.background_words for v in views])
