"""Headless end-to-end check of an installed build (`seal self-test`, `seal-desktop --self-test`).

Why it exists: a PyInstaller bundle can import fine and still fail at the first
real job (missing package metadata, a lazily imported diffusers module left out,
a resource folder not collected). This walks the whole engine once, offline and
Qt-free, on a tiny random model: build and save it, load it through the real
loader, generate one image, mask it, finish it, export a small pack and validate
it. Each step is timed and printed; the return value is a process exit code.
"""

from __future__ import annotations

import platform
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, TextIO

PACK_PLATFORM = "signal"
PACK_SIZE = 3


@dataclass
class StepResult:
    name: str
    ok: bool
    seconds: float
    detail: str = ""


@dataclass
class SelfTestReport:
    steps: list[StepResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.steps) and all(s.ok for s in self.steps)


def _frozen_note() -> str:
    if getattr(sys, "frozen", False):
        return f"bundle at {getattr(sys, '_MEIPASS', Path(sys.executable).parent)}"
    return f"python {platform.python_version()} at {sys.prefix}"


def run_self_test(work_dir: Optional[Path] = None, out: TextIO = sys.stdout) -> SelfTestReport:
    """Run every step in order; stop at the first failure (later steps need earlier results)."""
    report = SelfTestReport()
    state: dict = {}

    def step(name: str, fn: Callable[[], str]) -> bool:
        began = time.perf_counter()
        try:
            detail = fn() or ""
            ok = True
        except Exception as err:  # report any failure as a line, with the traceback for the bug report
            detail = f"{type(err).__name__}: {err}"
            ok = False
            traceback.print_exc(file=sys.stderr)
        result = StepResult(name, ok, time.perf_counter() - began, detail)
        report.steps.append(result)
        print(f"  [{'ok' if ok else 'FAIL'}] {name:<10} {result.seconds:6.2f} s  {detail}", file=out, flush=True)
        return ok

    def imports() -> str:
        import diffusers
        import torch
        import transformers

        from . import __version__

        return (f"seal_engine {__version__}, torch {torch.__version__}, diffusers {diffusers.__version__}, "
                f"transformers {transformers.__version__}")

    def resources() -> str:
        from .attributes import builtin_presets, resources_dir

        presets = builtin_presets()
        if not presets:
            raise RuntimeError(f"no built-in presets under {resources_dir()}")
        return f"{len(presets)} presets in {resources_dir()}"

    def tiny_model() -> str:
        from .testing import save_tiny_model

        state["model_dir"] = save_tiny_model(root / "tiny-sd15", "sd15", seed=0)
        size = sum(p.stat().st_size for p in state["model_dir"].rglob("*") if p.is_file())
        return f"{size / 1e6:.1f} MB at {state['model_dir']}"

    def generate() -> str:
        from .devices import RuntimeOptions
        from .generation import GenerationSettings, generate
        from .loading import load_pipeline

        model = load_pipeline(state["model_dir"], RuntimeOptions(device="cpu", offline=True))
        images = generate(model, GenerationSettings(prompt="a sticker of a happy cat", seeds=[0], steps=2,
                                                    guidance_scale=1.0))
        state["image"] = images[0].image
        return f"{model.arch.label}, {state['image'].size[0]}x{state['image'].size[1]} on {model.device}"

    def mask() -> str:
        from PIL import Image

        from .masks import compute_mask

        result = compute_mask(state["image"])
        if (result.mask.getextrema()[1] or 0) < 128:
            # a random model's image may show no subject at all: cut out the whole frame instead
            state["mask"] = Image.new("L", state["image"].size, 255)
            return f"{result.method}: no subject found, using a full-frame mask"
        state["mask"] = result.mask
        return f"{result.method}: {result.note}"

    def finish() -> str:
        from .finishing import FinishSettings, finish_sticker

        state["sticker"] = finish_sticker(state["image"], FinishSettings(outline_px=4, margin=8), mask=state["mask"])
        return f"RGBA {state['sticker'].size[0]}x{state['sticker'].size[1]}"

    def export() -> str:
        from .export import StickerInput, export_pack

        labels = ("happy", "sad", "waving")[:PACK_SIZE]
        stickers = [StickerInput(state["sticker"], label=label) for label in labels]
        state["pack_dir"] = root / "pack"
        result = export_pack(stickers, PACK_PLATFORM, title="Self test", author="SEAL", out_dir=state["pack_dir"])
        return f"{PACK_PLATFORM} pack of {len(stickers)} stickers, {len(result.files)} files"

    def validate() -> str:
        from .export import validate_pack

        problems = validate_pack(state["pack_dir"], PACK_PLATFORM)
        if problems:
            raise RuntimeError(f"{len(problems)} problem(s), first: {problems[0]}")
        return "no rule broken"

    print(f"SEAL self-test ({_frozen_note()}, {platform.system()} {platform.machine()})", file=out, flush=True)
    with tempfile.TemporaryDirectory(prefix="seal-self-test-", dir=work_dir) as tmp:
        root = Path(tmp)
        for name, fn in (("imports", imports), ("resources", resources), ("tiny-model", tiny_model),
                         ("generate", generate), ("mask", mask), ("finish", finish), ("export", export),
                         ("validate", validate)):
            if not step(name, fn):
                break
    total = sum(s.seconds for s in report.steps)
    verdict = "PASSED" if report.ok else "FAILED"
    print(f"self-test {verdict}: {sum(s.ok for s in report.steps)}/8 steps in {total:.1f} s", file=out, flush=True)
    return report


def main(work_dir: Optional[Path] = None) -> int:
    """Exit code: 0 when every step passed, 1 otherwise."""
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the self-test never needs the network
    return 0 if run_self_test(work_dir).ok else 1


if __name__ == "__main__":
    sys.exit(main())
