"""`seal generate`: prompt to images, one PNG and one JSON sidecar per seed."""

from __future__ import annotations

import argparse
from pathlib import Path

from ...errors import InputError
from ...schedulers import SAMPLING_PRESETS, SCHEDULERS, sampling_preset
from ..options import TerminalProgress, add_model_arguments, runtime_from_args

NAME = "generate"
HELP = "generate images from a prompt (one PNG + JSON sidecar per seed)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)
    parser.add_argument("--prompt", required=True)
    parser.add_argument("--negative", default="")
    parser.add_argument("--seed", type=int, nargs="+", default=[0], metavar="N")
    parser.add_argument("--steps", type=int, default=None, help="default: the sampling preset's (30; fast: 12)")
    parser.add_argument("--guidance", type=float, default=7.5)
    parser.add_argument("--size", default=None, metavar="WxH", help="default: the model's native size")
    parser.add_argument("--scheduler", choices=list(SCHEDULERS), default=None,
                        help="default: the sampling preset's (the model's own; fast: unipc)")
    parser.add_argument("--sampling", choices=list(SAMPLING_PRESETS), default="standard",
                        help="fast: UniPC at 12 steps (see docs/speed.md); --scheduler/--steps override it")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("-o", "--out", required=True, metavar="OUT_DIR")
    parser.add_argument("--concept", metavar="CONCEPT_DIR",
                        help="a learned character (from `seal personalize`); write <char> in the prompt where it "
                             "goes, e.g. \"a sticker of <char>, waving\"")


def run(args: argparse.Namespace) -> int:
    from ...generation import GenerationSettings, generate, parse_size, write_outputs
    from ...loading import load_pipeline

    width = height = None
    if args.size:
        width, height = parse_size(args.size)
    preset_scheduler, preset_steps = sampling_preset(getattr(args, "sampling", "standard"))
    settings = GenerationSettings(prompt=args.prompt, negative_prompt=args.negative, seeds=args.seed,
                                  steps=args.steps if args.steps is not None else preset_steps,
                                  guidance_scale=args.guidance, width=width, height=height,
                                  scheduler=args.scheduler or preset_scheduler, batch_size=args.batch)
    settings.validate()
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out} exists and is not a folder.")
    concept = None
    if getattr(args, "concept", None):
        from ...attributes import CHARACTER_PLACEHOLDER
        from ...concept import load_concept

        concept = load_concept(args.concept)
        if CHARACTER_PLACEHOLDER not in settings.prompt:
            raise InputError(f"The prompt does not name the character; write {CHARACTER_PLACEHOLDER} where it goes.")
    bar = TerminalProgress()
    try:
        model = load_pipeline(args.model, runtime_from_args(args), config=args.config, progress=bar)
        if concept is not None:
            from ...attributes import expand_placeholder
            from ...concept import apply_concept

            identity = apply_concept(model, concept)
            settings.prompt = expand_placeholder(settings.prompt, identity)
            settings.negative_prompt = expand_placeholder(settings.negative_prompt, identity)
        results = generate(model, settings, progress=bar)
    finally:
        bar.close()
    for path in write_outputs(results, out):
        print(path)
    return 0
