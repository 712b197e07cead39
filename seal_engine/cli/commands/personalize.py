"""`seal personalize`: learn a character from one reference image into a concept folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from ...errors import InputError
from ..options import TerminalProgress, add_model_arguments, runtime_from_args

NAME = "personalize"
HELP = "learn a character from ONE reference image (writes a concept folder)"
DESCRIPTION = """Learn a character from one reference image (test-time fine-tuning + SEAL).

The subject mask comes from --mask, else from the image's transparency, else from
the automatic masking module. The concept folder it writes loads into
`seal generate --concept DIR` (write <char> in the prompt) and into plain diffusers
(load_textual_inversion / load_lora_weights). See docs/personalization.md.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ...personalize.layer_restriction import PRESET_HELP

    parser.add_argument("image", metavar="IMAGE", help="the reference image (PNG with transparency is best)")
    parser.add_argument("-o", "--out", required=True, metavar="CONCEPT_DIR", help="concept folder to write")
    add_model_arguments(parser)
    parser.add_argument("--mask", metavar="FILE", help="subject mask (white = character)")
    parser.add_argument("--class-word", metavar="WORD", help="what the character is (cat, robot...); "
                        "chosen automatically when omitted")
    parser.add_argument("--base", choices=("ti", "lora", "ti+lora"), default="ti+lora",
                        help="base fine-tuning method (default: ti+lora)")
    parser.add_argument("--schedule", choices=("paper", "fast", "quality"), default="quality",
                        help="paper: the SEAL paper's 10-20 steps; fast: ~1/4 of quality; quality (default)")
    parser.add_argument("--steps", type=int, metavar="N", help="total training steps (overrides the schedule)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--vectors", type=int, default=2, metavar="N", help="identity vectors (default 2)")
    seal = parser.add_argument_group("SEAL components (each on by default)")
    seal.add_argument("--no-attention-loss", action="store_true", help="turn off the spatial attention loss")
    seal.add_argument("--attention-weight", type=float, default=None, metavar="W",
                      help="fixed weight (default: set from the gradient ratio at each phase's start)")
    seal.add_argument("--no-background-loss", action="store_true",
                      help="turn off the background term (stay with the base model outside the mask)")
    seal.add_argument("--merge", choices=("identity", "identity+context"), default="identity",
                      help="what generation names after split-merge (default: identity tokens only)")
    seal.add_argument("--no-split-merge", action="store_true", help="no context token (identity tokens only)")
    seal.add_argument("--no-layer-restriction", action="store_true", help="LoRA on every attention layer")
    seal.add_argument("--layers", metavar="PRESET", choices=sorted(PRESET_HELP),
                      help="layer preset: " + "; ".join(f"{k}: {v}" for k, v in PRESET_HELP.items()))
    seal.add_argument("--layer-pattern", action="append", metavar="GLOB",
                      help="custom module-name pattern, repeatable (e.g. 'up_blocks.1.*attn2.to_k')")
    seal.add_argument("--edit-consistency", action="store_true",
                      help="also keep the caption's emotion words acting on the character (off by default: on the "
                           "toy world it traded identity for emotion accuracy; docs/personalization.md, round 13)")
    seal.add_argument("--edited-views", action=argparse.BooleanOptionalAction, default=None,
                      help="also train on the reference redrawn with each other emotion, each edit checked by the "
                           "captioner, or not (default: on the paper schedule, where it halved the copied face; "
                           "docs/personalization.md, round 21)")
    # on, off, or None: as the schedule has it (CONTEXT_HOLD_BY_SCHEDULE, IMAGE_START_BY_SCHEDULE)
    seal.add_argument("--context-hold", action=argparse.BooleanOptionalAction, default=None,
                      help="hold the caption's words as they read after the class word while the tokens train, or "
                           "not (default: on the paper and quality schedules, off on fast, where it cost identity)")
    start = parser.add_argument_group("start and caption")
    start.add_argument("--image-start", action=argparse.BooleanOptionalAction, default=None,
                       help="start the identity tokens from the reference's image embedding, or from the class "
                            "word (default: on the paper schedule only, where it was measured to help)")
    start.add_argument("--no-caption", action="store_true",
                       help="do not caption the reference automatically (train with 'a sticker of <id>')")
    start.add_argument("--caption", metavar="TEMPLATE",
                       help="your own training caption with {subject}, e.g. 'a sticker of {subject}, waving, "
                            "on a beach'")
    start.add_argument("--image-tower", metavar="DIR", help="a CLIP model folder for the image start and caption")
    t = parser.add_argument_group("training")
    t.add_argument("--lora-rank", type=int, metavar="R")
    t.add_argument("--resolution", type=int, metavar="PX", help="default: the model's native size")
    t.add_argument("--batch", type=int, default=1)
    t.add_argument("--flip", action="store_true", help="allow horizontal flips (off: characters are asymmetric)")
    t.add_argument("--random-backgrounds", action="store_true", help="composite the subject on random flat colours")
    t.add_argument("--no-augment", action="store_true")
    t.add_argument("--gradient-checkpointing", action="store_true", help="less GPU memory, slower")
    t.add_argument("--compile", action="store_true",
                   help="torch.compile the U-Net for training (CUDA only; any failure falls back to eager, recorded)")
    t.add_argument("--preview-every", type=int, default=0, metavar="K", help="save a preview every K steps")
    t.add_argument("--preview-dir", metavar="DIR", help="where previews go (default: beside the concept)")
    parser.add_argument("--overwrite", action="store_true", help="replace CONCEPT_DIR if it exists")


def _read_image(path: str):
    try:
        from ...intake import load_image
    except ImportError:  # intake not installed: plain Pillow
        from PIL import Image

        p = Path(path)
        if not p.is_file():
            raise InputError(f"{path} does not exist.") from None
        try:
            return Image.open(p).convert("RGBA")
        except Exception as err:
            raise InputError(f"{path} is not an image this app can read ({type(err).__name__}).") from None
    return load_image(path)


def resolve_mask(image, mask_path: str | None):
    """--mask, else meaningful alpha, else the masking module; returns (mask L, how)."""
    from ...augment import has_transparency

    if mask_path:
        m = _read_image(mask_path)
        lo, _ = m.getchannel("A").getextrema()
        mask = m.getchannel("A") if lo < 250 else m.convert("L")
        if mask.size != image.size:
            mask = mask.resize(image.size)
        return mask.point(lambda v: 255 if v >= 128 else 0), f"file {mask_path}"
    if has_transparency(image):
        return image.getchannel("A").point(lambda v: 255 if v >= 128 else 0), "alpha"
    try:
        from ...masks import compute_mask
    except ImportError:
        raise InputError("The image has no transparency and no mask was given; pass --mask FILE "
                         "(white = character).") from None
    result = compute_mask(image, method="auto")
    return result.mask.convert("L"), f"auto ({result.method})"


def run(args: argparse.Namespace) -> int:
    from ...personalize.config import PersonalizeConfig

    from ...atomic import check_replaceable

    out = Path(args.out)
    check_replaceable(out, overwrite=args.overwrite, markers=("concept.json",))  # never a user's own folder
    if args.steps is not None and args.steps < 1:
        raise InputError(f"Steps must be at least 1, not {args.steps}.")
    if args.preview_every < 0:
        raise InputError("--preview-every must be 0 or more.")
    config = PersonalizeConfig(
        base=args.base, schedule=args.schedule, seed=args.seed, num_vectors=args.vectors,
        class_word=args.class_word, attention_loss=not args.no_attention_loss,
        attention_weight=args.attention_weight, split_merge=not args.no_split_merge,
        background_loss=not args.no_background_loss, merge=args.merge, edit_consistency=args.edit_consistency,
        edited_views=args.edited_views, context_hold=args.context_hold, image_start=args.image_start,
        auto_caption=not args.no_caption, prompt_template=args.caption, image_tower=args.image_tower,
        layer_restriction=not args.no_layer_restriction, layer_preset=args.layers,
        layer_patterns=args.layer_pattern, lora_rank=args.lora_rank, resolution=args.resolution,
        batch_size=args.batch, flip=args.flip, random_backgrounds=args.random_backgrounds,
        augment=False if args.no_augment else None, gradient_checkpointing=args.gradient_checkpointing,
        compile=args.compile,
        preview_every=args.preview_every,
    )
    if args.steps is not None:
        config = config.with_total_steps(args.steps)
    config.validate()
    image = _read_image(args.image)
    mask, how = resolve_mask(image, args.mask)

    from ...loading import load_pipeline
    from ...personalize import personalize

    preview_dir = Path(args.preview_dir) if args.preview_dir else out.parent / f"{out.name}-previews"
    bar = TerminalProgress()

    def progress(event):
        if event.preview is not None:
            from ...atomic import atomic_save_image

            atomic_save_image(event.preview, preview_dir / f"{event.phase}-{event.step:05d}.png")
        bar(event)

    from ...locks import output_lock

    try:
        with output_lock(out, progress=bar):  # a second run on the same folder waits for the first
            check_replaceable(out, overwrite=args.overwrite, markers=("concept.json",))
            model = load_pipeline(args.model, runtime_from_args(args), config=args.config, progress=bar)
            concept = personalize(model, image, mask, config, out, progress=progress, overwrite=args.overwrite)
    finally:
        bar.close()
    meta = concept.meta
    print(f"concept written to {out} (mask: {how}; class word: {meta['class_word']} [{meta['class_word_source']}]; "
          f"{meta['steps']['total']} steps in {meta['timings']['total_s']:.1f}s)")
    print(f"use it with: seal generate --model {args.model} --concept {out} --prompt \"a sticker of <char>, happy\"")
    return 0
