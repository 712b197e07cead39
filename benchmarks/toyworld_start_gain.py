"""How much the image start explains each toy reference in the U-Net's own terms, beside what the
archived draw measured for it: could a per-reference gate keep the start where it helps and drop
it where it copies the face?

    python benchmarks/toyworld_start_gain.py --seeds 4,7,10

Per reference of a `paper` draw: the subject's denoising loss (the identity prompt, 24 fixed
noisy views of the reference, no gradient) with the rows the start fitted and with the
class-word rows it starts from; `gain` = 1 - fitted / class word. Printed beside the archived
cells' SEAL emotion copying and identity and plain TTF's identity
(docs/benchmarks/toyworld_cells/paper_seed{S}.jsonl). Used for docs/personalization.md round 17.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _trainer(model, pc, image, mask):
    from seal_engine.class_word import choose_class_word
    from seal_engine.personalize.trainer import Trainer

    cfg = pc.resolve(model.arch)
    t = Trainer(model, cfg, choose_class_word(image, mask, given=cfg.class_word).word, lambda e: None, None)
    t.setup(image, mask)
    return t


def _subject_loss(t, n: int = 24) -> float:
    import torch

    t.gen.manual_seed(1234)  # the same views, noise and timesteps for both rows
    views = torch.randint(0, t.n_views, (n,), generator=t.gen, device=t.device)
    subsets = torch.full((n,), t.subset_index("identity"), dtype=torch.long, device=t.device)
    with torch.no_grad():
        parts = [float(t.step("embeddings", 0, views[i:i + 8], subsets[i:i + 8])[0]) for i in range(0, n, 8)]
    return sum(parts) / len(parts)


def _archived(seed: int) -> dict:
    out = {}
    path = ROOT / "docs" / "benchmarks" / "toyworld_cells" / f"paper_seed{seed}.jsonl"
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines()[1:]:
            c = json.loads(line)
            m = c["metrics"]
            out[(c["variant"], c["reference"])] = {"copy": sum(x or 0 for x in m["emotion_copy"]) / len(m["emotion_copy"]),
                                                   "identity": sum(m["identity"]) / len(m["identity"])}
    return out


def main() -> int:
    import torch

    from seal_engine.toyworld.bench import (ToyBenchConfig, _load_model, draw_references, personalize_config,
                                            ref_id, reference_images)

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", default="4,7,10")
    args = ap.parse_args()
    torch.set_num_threads(1)
    print("| seed | reference | loss, class word | loss, start | gain | SEAL copy | SEAL identity | TTF identity |")
    print("|---|---|---|---|---|---|---|---|")
    for seed in [int(s) for s in args.seeds.split(",")]:
        cfg = ToyBenchConfig(out_dir=Path(tempfile.gettempdir()), seed=seed, schedules=["paper"])
        cells = _archived(seed)
        model = _load_model(cfg)
        for ref in draw_references(cfg):
            image, mask, _truth = reference_images(ref)
            plain = personalize_config(cfg, "seal", "paper", ref)
            plain.image_start = False
            t = _trainer(model, plain, image, mask)
            try:
                l_class = _subject_loss(t)
            finally:
                t.abort()
            t = _trainer(model, personalize_config(cfg, "seal", "paper", ref), image, mask)
            try:
                l_start = _subject_loss(t)
            finally:
                t.abort()
            rid = ref_id(ref)
            seal, ttf = cells.get(("seal", rid), {}), cells.get(("baseline", rid), {})
            fmt = lambda v: "-" if v is None else f"{v:.2f}"  # noqa: E731
            print(f"| {seed} | {rid} | {l_class:.3f} | {l_start:.3f} | {1 - l_start / l_class:.2f} | "
                  f"{fmt(seal.get('copy'))} | {fmt(seal.get('identity'))} | {fmt(ttf.get('identity'))} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
