"""`seal pack`: one reference image to finished, validated sticker packs, headless."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..options import TerminalProgress, add_model_arguments, runtime_from_args

NAME = "pack"
HELP = "reference image + preset -> learned character -> finished, validated packs"
DESCRIPTION = """\
Learn the character in IMAGE (SEAL test-time fine-tuning), generate every sticker
of the preset (--variants per sticker, the best kept), finish them (cut-out,
outline, margins) and export a validated pack per --platform into OUT_DIR:

  OUT_DIR/generated/   every variant, with its seed and settings (.json)
  OUT_DIR/stickers/    the finished stickers (RGBA PNG)
  OUT_DIR/packs/P/     one folder per platform, with pack.json
  OUT_DIR/job.json     what ran, what was chosen and why, time per phase

Re-running the same command resumes: the learned concept (cached under the
user data dir) and the generated images are reused.
Dry run without downloads: seal tiny-model /tmp/tiny && seal pack IMAGE --model /tmp/tiny ...
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ...export import PLATFORMS

    parser.add_argument("image", metavar="IMAGE", help="the reference image of the character")
    parser.add_argument("--preset", required=True, metavar="NAME_OR_FILE",
                        help="a built-in preset name (e.g. daily-emotions) or a preset JSON file")
    parser.add_argument("--platform", action="append", default=[], choices=list(PLATFORMS), metavar="P",
                        help=f"repeat for several: {', '.join(PLATFORMS)}")
    parser.add_argument("--title", default="My stickers")
    parser.add_argument("--author", default="SEAL Sticker Studio")
    parser.add_argument("-o", "--out", required=True, metavar="OUT_DIR")
    add_model_arguments(parser)
    parser.add_argument("--mask", default=None, metavar="FILE", help="subject mask (white = character)")
    parser.add_argument("--class-word", default=None, metavar="WORD")
    parser.add_argument("--concept", default=None, metavar="DIR", help="reuse a learned concept folder")
    parser.add_argument("--variants", type=int, default=2, metavar="N")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--schedule", choices=("paper", "fast", "quality"), default="quality")
    parser.add_argument("--train-steps", type=int, default=None, metavar="N",
                        help="override the schedule's total personalization steps")
    parser.add_argument("--steps", type=int, default=30, help="denoising steps per image")
    parser.add_argument("--size", type=int, default=None, metavar="PX", help="generation side (default: native)")
    parser.add_argument("--clip-model", default=None, metavar="M",
                        help="CLIP model (hub id or folder) to pick the variant most like the reference")
    parser.add_argument("--outline", type=int, default=8, metavar="PX")


def run(args: argparse.Namespace) -> int:
    import sys

    from ...attributes import load_preset
    from ...finishing import FinishSettings
    from ...pack_job import STICKER_CANVAS, PackJob, run_pack_job
    from ...personalize.config import PersonalizeConfig

    from ...errors import InputError

    if args.train_steps is not None and args.train_steps < 1:
        raise InputError(f"--train-steps must be at least 1, not {args.train_steps}.")
    if args.steps < 1:
        raise InputError(f"--steps must be at least 1, not {args.steps}.")
    from ...fs_errors import refuse_special_file

    refuse_special_file(args.preset, what="The preset")
    refuse_special_file(args.image, what="The reference image")
    preset = load_preset(args.preset)
    config = PersonalizeConfig(schedule=args.schedule, class_word=args.class_word, seed=args.seed)
    if args.train_steps is not None:
        config = config.with_total_steps(args.train_steps)
    job = PackJob(reference=Path(args.image), preset=preset, out_dir=Path(args.out), platforms=args.platform,
                  title=args.title, author=args.author, model=args.model, runtime=runtime_from_args(args),
                  model_config=args.config, mask=Path(args.mask) if args.mask else None, personalize=config,
                  schedule=args.schedule, concept_dir=Path(args.concept) if args.concept else None,
                  variants=args.variants, seed=args.seed, steps=args.steps, size=args.size,
                  clip_model=args.clip_model, finish=FinishSettings(outline_px=args.outline, size=STICKER_CANVAS))
    bar = TerminalProgress()
    try:
        result = run_pack_job(job, progress=bar)
    finally:
        bar.close()
    print_summary(result, sys.stdout)
    return 0 if not any(result.violations.values()) else 1


def print_summary(result, stream) -> None:
    reused = "reused from cache" if result.concept_reused else "learned"
    stream.write(f"\nConcept: {result.concept_dir} ({reused}); "
                 f"{len(result.items)} stickers, {result.generated_reused} generated images reused\n\n")
    rows = result.summary_rows()
    if rows:
        stream.write("| platform | stickers | smallest | largest | total | valid | folder |\n")
        stream.write("|---|---:|---:|---:|---:|---|---|\n")
        for r in rows:
            stream.write(f"| {r['platform']} | {r['stickers']} | {r['min_bytes']:,} B | {r['max_bytes']:,} B | "
                         f"{r['total_bytes']:,} B | {'yes' if r['valid'] else 'NO'} | {r['folder']} |\n")
        stream.write("\n")
    stream.write("| phase | seconds |\n|---|---:|\n")
    for phase, seconds in result.phase_seconds.items():
        stream.write(f"| {phase} | {seconds:.2f} |\n")
    stream.write(f"| total | {sum(result.phase_seconds.values()):.2f} |\n")
    for platform, problems in result.violations.items():
        for problem in problems:
            stream.write(f"{platform}: {problem}\n")
