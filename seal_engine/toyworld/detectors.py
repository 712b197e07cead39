"""Read every toy-world factor back from a 64x64 image.

Pixel rules where the answer is exact: the background is the median colour of the
image border (the creature never covers most of it), matched to the nearest palette
colour; the position is the horizontal centroid of the pixels that differ from that
background. Everything else (shape, colour, accessory, emotion, arm pose, scale, style)
comes from a small multi-head CNN trained on fresh renders and on VAE round-trips, whose
weights ship in `seal_engine/data/toyworld/detector.safetensors`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from .attributes import FACTORS, Sticker
from .render import BACKGROUND_RGB

PIXEL_RULE_FACTORS: tuple[str, ...] = ("background", "position")
CNN_FACTORS: tuple[str, ...] = tuple(f for f in FACTORS if f not in PIXEL_RULE_FACTORS)

_BG_NAMES = list(BACKGROUND_RGB)
_BG_PALETTE = np.array([BACKGROUND_RGB[n] for n in _BG_NAMES], dtype=np.float32)
POSITION_THRESHOLD_PX = 6.5  # centroid offset from the centre, in 64-px image pixels


def default_detector_path() -> Path:
    return Path(__file__).resolve().parent.parent / "data" / "toyworld" / "detector.safetensors"


def as_uint8_batch(images: Any) -> np.ndarray:
    """PIL image(s) or arrays -> (N, 64, 64, 3) uint8."""
    if isinstance(images, np.ndarray):
        arr = images if images.ndim == 4 else images[None]
    else:
        seq = images if isinstance(images, (list, tuple)) else [images]
        arr = np.stack([np.asarray(im.convert("RGB").resize((64, 64))) for im in seq])
    return arr.astype(np.uint8)


def detect_background(images: np.ndarray) -> list[str]:
    a = images.astype(np.float32)
    border = np.concatenate([a[:, :2].reshape(len(a), -1, 3), a[:, -2:].reshape(len(a), -1, 3),
                             a[:, :, :2].reshape(len(a), -1, 3), a[:, :, -2:].reshape(len(a), -1, 3)], axis=1)
    med = np.median(border, axis=1)  # (N, 3)
    d = ((med[:, None, :] - _BG_PALETTE[None]) ** 2).sum(-1)
    return [_BG_NAMES[i] for i in d.argmin(1)]


def foreground_mask(images: np.ndarray, backgrounds: Optional[list[str]] = None) -> np.ndarray:
    """(N, 64, 64) bool: pixels far from the detected background colour."""
    backgrounds = backgrounds or detect_background(images)
    bg = np.array([BACKGROUND_RGB[b] for b in backgrounds], dtype=np.float32)[:, None, None, :]
    return np.sqrt(((images.astype(np.float32) - bg) ** 2).sum(-1)) > 60.0


def detect_position(images: np.ndarray, backgrounds: Optional[list[str]] = None) -> list[str]:
    fg = foreground_mask(images, backgrounds)
    xs = np.arange(64, dtype=np.float32)[None, None, :]
    out = []
    for m in fg:
        n = m.sum()
        cx = float((m * xs[0]).sum() / n) if n else 31.5
        dx = cx - 31.5
        out.append("left" if dx < -POSITION_THRESHOLD_PX else "right" if dx > POSITION_THRESHOLD_PX else "centre")
    return out


def build_cnn():
    """Small multi-head CNN: 4 stride-2 convs (64 -> 4), flatten (keeps where things are), heads."""
    import torch
    from torch import nn

    class AttributeNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            ch = [3, 32, 64, 96, 128]
            layers: list[nn.Module] = []
            for i in range(4):
                layers += [nn.Conv2d(ch[i], ch[i + 1], 3, padding=1), nn.GroupNorm(8, ch[i + 1]), nn.SiLU(),
                           nn.Conv2d(ch[i + 1], ch[i + 1], 3, stride=2, padding=1), nn.SiLU()]
            self.features = nn.Sequential(*layers)
            self.trunk = nn.Sequential(nn.Flatten(), nn.Dropout(0.1), nn.Linear(128 * 16, 256), nn.SiLU())
            self.heads = nn.ModuleDict({f: nn.Linear(256, len(FACTORS[f])) for f in FACTORS})

        def forward(self, x: "torch.Tensor") -> dict[str, "torch.Tensor"]:
            h = self.trunk(self.features(x))
            return {f: head(h) for f, head in self.heads.items()}

    return AttributeNet()


def to_input(images: np.ndarray, device: Any = "cpu"):
    import torch

    return torch.from_numpy(images).to(device).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


class Detector:
    """All factors of a batch of images; `predict` returns one dict per image."""

    def __init__(self, weights: Optional[Path] = None, device: str = "cpu", net: Any = None) -> None:
        import torch
        from safetensors.torch import load_file

        self.device = device
        if net is None:
            net = build_cnn()
            path = Path(weights or default_detector_path())
            if not path.is_file():
                from ..errors import ModelError

                raise ModelError(f"No toy-world detector weights at {path}; train them with python -m seal_engine.toyworld.train.")
            net.load_state_dict({k: v.float() for k, v in load_file(str(path)).items()})
        self.net = net.to(device).eval()
        self._torch = torch

    def predict(self, images: Any, batch_size: int = 256) -> list[dict[str, str]]:
        arr = as_uint8_batch(images)
        bgs = detect_background(arr)
        pos = detect_position(arr, bgs)
        out: list[dict[str, str]] = []
        with self._torch.no_grad():
            for i in range(0, len(arr), batch_size):
                logits = self.net(to_input(arr[i:i + batch_size], self.device))
                idx = {f: logits[f].argmax(1).cpu().numpy() for f in CNN_FACTORS}
                for k in range(len(idx[CNN_FACTORS[0]])):
                    d = {f: FACTORS[f][int(idx[f][k])] for f in CNN_FACTORS}
                    d["background"] = bgs[i + k]
                    d["position"] = pos[i + k]
                    out.append({f: d[f] for f in FACTORS})
        return out


def accuracy(preds: Sequence[dict[str, str]], truth: Sequence[Sticker]) -> dict[str, float]:
    """Fraction correct per factor, plus 'appearance' (shape, colour and accessory all right)."""
    n = max(1, len(truth))
    acc = {f: sum(p[f] == getattr(t, f) for p, t in zip(preds, truth)) / n for f in FACTORS}
    acc["appearance"] = sum(all(p[f] == getattr(t, f) for f in ("shape", "colour", "accessory"))
                            for p, t in zip(preds, truth)) / n
    return acc


def method_of(factor: str) -> str:
    return "pixel rule" if factor in PIXEL_RULE_FACTORS else "CNN"
