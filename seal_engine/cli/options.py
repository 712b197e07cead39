"""Argument groups shared by several subcommands (model source and runtime)."""

from __future__ import annotations

import argparse

from ..devices import DEVICE_CHOICES, DTYPE_CHOICES, RuntimeOptions
from ..model_source import DEFAULT_MODEL


def add_model_arguments(parser: argparse.ArgumentParser, *, default_model: str | None = DEFAULT_MODEL) -> None:
    g = parser.add_argument_group("model")
    g.add_argument("--model", default=default_model, metavar="M",
                   help=f"hub id, diffusers folder or .safetensors checkpoint (default: {DEFAULT_MODEL})")
    g.add_argument("--config", default=None, metavar="DIR",
                   help="for a single-file checkpoint: a diffusers folder of the same architecture")
    g.add_argument("--device", choices=DEVICE_CHOICES, default="auto")
    g.add_argument("--precision", choices=DTYPE_CHOICES, default="auto")
    g.add_argument("--low-vram", action="store_true",
                   help="attention slicing, VAE slicing and tiling, and model CPU offload")
    g.add_argument("--attention-slicing", action="store_true")
    g.add_argument("--vae-tiling", action="store_true")
    g.add_argument("--cpu-offload", action="store_true")
    g.add_argument("--allow-pickle", action="store_true",
                   help="allow .ckpt/.bin/.pt checkpoints (read with torch's weights-only mode)")
    g.add_argument("--offline", action="store_true", help="never contact the model hub")


def runtime_from_args(args: argparse.Namespace) -> RuntimeOptions:
    opts = RuntimeOptions.low_vram() if args.low_vram else RuntimeOptions()
    opts.device = args.device
    opts.dtype = args.precision
    opts.attention_slicing |= args.attention_slicing
    opts.vae_tiling |= args.vae_tiling
    opts.vae_slicing |= args.vae_tiling
    opts.cpu_offload |= args.cpu_offload
    opts.allow_pickle = args.allow_pickle
    opts.offline = args.offline
    return opts


class TerminalProgress:
    """A one-line progress bar on a terminal (stderr); one line per phase on stdout otherwise,
    so that stderr carries nothing but the one-line error when something goes wrong."""

    def __init__(self, stream=None) -> None:
        import sys

        self.stream = stream or (sys.stderr if sys.stderr.isatty() else sys.stdout)
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.phase = None

    def __call__(self, event) -> None:
        if event.phase != self.phase:
            if self.tty and self.phase is not None:
                self.stream.write("\n")
            self.phase = event.phase
            if not self.tty:
                self.stream.write(f"[{event.phase}] {event.message}".rstrip() + "\n")
                self.stream.flush()
        if not self.tty:
            return
        width = 30
        filled = int(width * event.fraction)
        eta = f" ETA {event.eta_s:4.0f}s" if event.eta_s is not None else ""
        losses = " ".join(f"{k}={v:.4f}" for k, v in event.losses.items())
        total = f"{event.step}/{event.total}" if event.total else ""
        self.stream.write(f"\r{event.phase:<12} [{'#' * filled}{'.' * (width - filled)}] {total}{eta} {losses}"
                          f" {event.message}"[:160])
        self.stream.flush()

    def close(self) -> None:
        if self.tty and self.phase is not None:
            self.stream.write("\n")
            self.stream.flush()
