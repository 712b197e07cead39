"""Which "worlds" `seal bench` can benchmark, so another bench plugs in without touching the CLI.

A world is a runner `run(args) -> int` (and optionally `add_arguments(group)` for
its own options), named as "module:function" strings so nothing is imported until
that world is chosen. The Stable Diffusion world (real models, a dataset of
characters) is built in; the toy world (seal_engine/toyworld) is one more entry
here, and formats its table with `evaluation.report.write_report`. A world whose
module cannot be imported stays listed but its options are left out and running it
fails with one sentence, so a broken plug-in never breaks the rest of `seal`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable, Optional

from ..errors import InputError


@dataclass(frozen=True)
class World:
    name: str
    help: str
    run: str  # "package.module:function" taking the parsed args, returning the exit code
    add_arguments: Optional[str] = None  # "package.module:function" taking an argparse group


WORLDS: dict[str, World] = {
    "sd": World("sd", "a Stable Diffusion model personalized on a dataset of characters (--model, --dataset)",
                "seal_engine.evaluation.bench_cli:run", None),
    "toy": World("toy", "the toy sticker world's tiny model, read back by its detectors (seal_engine/toyworld)",
                 "seal_engine.toyworld.bench:run", "seal_engine.toyworld.bench:add_arguments"),
}


def register_world(world: World) -> None:
    WORLDS[world.name] = world


def resolve(target: str) -> Callable[..., Any]:
    module, _, func = target.partition(":")
    try:
        return getattr(importlib.import_module(module), func)
    except (ImportError, AttributeError) as err:
        raise InputError(f"The bench runner {target} is not available in this installation ({err}).") from None
