"""`seal bench --world sd`: turn the parsed command line into a `BenchConfig` and print where the table went."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import InputError


def run(args: argparse.Namespace) -> int:
    from ..cli.options import TerminalProgress, runtime_from_args
    from .bench import BenchConfig, parse_variants, run_bench

    if not args.dataset:
        raise InputError("The sd bench needs --dataset DIR (see docs/evaluation.md).")
    if args.steps is not None and args.steps < 0:
        raise InputError("--steps must be 0 or more.")
    if args.gen_steps < 1:
        raise InputError("--gen-steps must be at least 1.")
    from ..model_source import DEFAULT_MODEL

    config = BenchConfig(model=args.model or DEFAULT_MODEL, dataset=Path(args.dataset), out_dir=Path(args.out),
                         variants=parse_variants(args.variants), clip_model=args.clip_model, base=args.base,
                         schedule=args.schedule, steps=args.steps, seed=args.seed, generation_steps=args.gen_steps,
                         guidance_scale=args.guidance, model_config=args.config, runtime=runtime_from_args(args),
                         n_resamples=args.resamples)
    bar = TerminalProgress()
    try:
        result = run_bench(config, progress=bar)
    finally:
        bar.close()
    print(result.markdown.read_text(encoding="utf-8"))
    print(f"Wrote {result.markdown} and {result.json} ({len(result.personalized)} concept(s) learned, "
          f"{result.generated} sample(s) generated in this run, {result.seconds:.1f} s).", file=sys.stderr)
    return 0
