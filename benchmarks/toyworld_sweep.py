"""Quick settings sweep on the toy world: identity per held-out appearance for a few configurations.

    python benchmarks/toyworld_sweep.py --schedule paper --set '{"attention_grad_ratio": 0.1}' \\
        --set '{"attention_grad_ratio": 0.3}' --set '{"attention_grad_ratio": 1.0}'

One reference per held-out appearance (drawn as in the protocol, seed 0, automatic mask), the
engine's defaults plus each `--set` (a JSON object of PersonalizeConfig fields), 8 prompts that
change emotion, pose and background, one generation seed, read back by the detectors. It is the
cheap screen used to choose defaults (docs/personalization.md); the protocol with paired CIs is
benchmarks/toyworld_seal.py.
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def run(settings: dict, schedule: str, prompts: int = 8) -> tuple[float, list[str]]:
    from seal_engine.personalize import PersonalizeConfig, personalize
    from seal_engine.toyworld import bench as B
    from seal_engine.toyworld.detectors import Detector
    from seal_engine.toyworld.evaluate import generate

    cfg = B.ToyBenchConfig(out_dir=Path("."), appearances=6, references=1)
    detector = Detector()
    scores, lines = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for ref in B.draw_references(cfg):
            image, mask, _truth = B.reference_images(ref)
            model = B._load_model(cfg)
            pc = PersonalizeConfig(schedule=schedule, class_word="creature", probe_attention=False, **settings)
            concept = personalize(model, image, mask, pc, Path(tmp) / "c", overwrite=True)
            asks = B.prompt_asks(ref, prompts, seed=3)
            images = generate(model.pipe, [B.prompt_text(a, concept.identity_string) for a in asks], seed=1000, steps=20)
            reads = detector.predict(images)
            sc = [B.score(a, r, ref) for a, r in zip(asks, reads)]
            ident = sum(x["identity"] for x in sc) / len(sc)
            leak = [x["leakage"] for x in sc if x["leakage"] is not None]
            rigid = [x["rigidity"] for x in sc if x["rigidity"] is not None]
            scores.append((ident, sum(leak) / max(1, len(leak)), sum(rigid) / max(1, len(rigid))))
            common = collections.Counter("-".join(r[k] for k in ("shape", "colour", "accessory")) for r in reads)
            lines.append(f"{'-'.join(ref.appearance):24s} {ident:.2f} leak {scores[-1][1]:.2f} {common.most_common(2)}")
    return tuple(sum(x[i] for x in scores) / len(scores) for i in (0, 1, 2)), lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--schedule", default="paper")
    ap.add_argument("--set", action="append", default=[], help="JSON object of PersonalizeConfig fields")
    ap.add_argument("--prompts", type=int, default=8)
    a = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    rows = []
    for text in a.set or ["{}"]:
        mean, lines = run(json.loads(text), a.schedule, a.prompts)
        print(f"\n{text}\n" + "\n".join(lines), flush=True)
        rows.append((text, mean))
    print(f"\n| settings ({a.schedule} schedule; 6 held-out appearances x {a.prompts} prompts) | identity | "
          f"bg leakage | pose rigidity |")
    print("|---|---|---|---|")
    for text, (ident, leak, rigid) in rows:
        print(f"| `{text}` | {ident:.3f} | {leak:.3f} | {rigid:.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
