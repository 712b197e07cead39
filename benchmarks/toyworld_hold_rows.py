"""How far the identity rows travel from the class word in the embeddings phase, with the context
hold at its ratio and (nearly) without it, and where the held words' cosine ends.

    python benchmarks/toyworld_hold_rows.py --schedule fast --seed 9 --references triangle-yellow-crown-sad-up
    python benchmarks/toyworld_hold_rows.py --schedule quality --seed 9 --references triangle-yellow-crown-sad-up

A diagnostic for docs/personalization.md round 16 (why the hold costs identity on `fast` and not
on `quality`). "Without" runs the hold at a gradient ratio of 1e-9, so the same cosine is recorded.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> int:
    import torch
    from safetensors.torch import load_file

    from seal_engine.personalize import personalize
    from seal_engine.toyworld.bench import (CLASS_WORD, ToyBenchConfig, _load_model, draw_references,
                                            personalize_config, ref_id, reference_images)

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--schedule", default="fast")
    ap.add_argument("--seed", type=int, default=9, help="the toy draw the references come from")
    ap.add_argument("--references", required=True, help="comma-separated reference-name prefixes of that draw")
    ap.add_argument("--ratio", type=float, default=0.2)
    args = ap.parse_args()
    torch.set_num_threads(1)
    cfg = ToyBenchConfig(out_dir=Path(tempfile.gettempdir()), seed=args.seed, schedules=[args.schedule])
    prefixes = [p.strip() for p in args.references.split(",") if p.strip()]
    refs = [r for r in draw_references(cfg) if any(ref_id(r).startswith(p) for p in prefixes)]
    if not refs:
        print(f"error: no reference of draw {args.seed} starts with {', '.join(prefixes)}.", file=sys.stderr)
        return 2
    print("| schedule | reference | hold ratio | rows moved (/ class word's norm) | held words' cosine |")
    print("|---|---|---|---|---|")
    for ref in refs:
        image, mask, _truth = reference_images(ref)
        for ratio in (1e-9, args.ratio):
            model = _load_model(cfg)
            tok, enc = model.pipe.tokenizer, model.pipe.text_encoder
            weight = enc.get_input_embeddings().weight
            init = weight[tok(CLASS_WORD, add_special_tokens=False).input_ids].detach().float().mean(0)
            pc = personalize_config(cfg, "seal", args.schedule, ref)
            pc.context_hold, pc.context_hold_grad_ratio = True, ratio
            with tempfile.TemporaryDirectory() as tmp:
                concept = personalize(model, image, mask, pc, Path(tmp) / "concept", overwrite=True)
                rows = load_file(str(Path(tmp) / "concept" / "learned_embeds.safetensors"))[pc.identity_token]
            rec = concept.meta["component_records"].get("context_hold", {})
            moved = ", ".join(f"{float(x):.2f}" for x in (rows.float() - init).norm(dim=-1) / init.norm())
            print(f"| {args.schedule} | {ref_id(ref)} | {'~0' if ratio < 1e-6 else ratio} | {moved} | "
                  f"{rec.get('cosine_before')} -> {rec.get('cosine_after')} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
