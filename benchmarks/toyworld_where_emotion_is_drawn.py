"""Where the toy model draws a sticker's emotion, found two ways, against the renderer's face box.

    python benchmarks/toyworld_where_emotion_is_drawn.py

For references of each emotion, full body and close-up, the base toy model (no learned tokens) is
probed at three timesteps with fixed noise:
- attention: the emotion word's cross-attention map at each 16x16 and 8x8 layer;
- prediction change: the squared change of the predicted noise when the prompt's emotion is
  replaced by each other one (what round 20's attribute-release patch weighs the loss with).
Each row gives each probe's mass inside the face box as a share of its mass on the body (for the
attention, the lowest and highest over the layers), beside the box's share of the body's area: a
probe that finds the face has a share well above the area's.
Used for docs/personalization.md, round 20.
"""

from __future__ import annotations

import argparse
import random
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

_FRACTIONS = (0.3, 0.5, 0.7)


def main() -> int:
    import numpy as np
    import torch
    import torch.nn.functional as F
    from diffusers import DDPMScheduler

    from seal_engine.personalize.attention_maps import AttentionStore, capture, cross_attention_layers
    from seal_engine.toyworld.attributes import FACTORS, Sticker, prompt_for
    from seal_engine.toyworld.model import load_pipeline
    from seal_engine.toyworld.render import face_box, render_with_mask

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    pipe = load_pipeline()
    unet, tok, te, vae = pipe.unet, pipe.tokenizer, pipe.text_encoder, pipe.vae
    sched = DDPMScheduler.from_config(pipe.scheduler.config)
    n_t = sched.config.num_train_timesteps
    latent_side = 16
    layers = [l for l in cross_attention_layers(unet, latent_side) if l.side >= 8]

    def encode(prompt: str):
        ids = tok(prompt, padding="max_length", max_length=tok.model_max_length, return_tensors="pt").input_ids
        return ids, te(ids)[0]

    def at(mask: np.ndarray, side: int) -> np.ndarray:
        return F.interpolate(torch.from_numpy(mask[None, None].astype(np.float32)), size=(side, side),
                             mode="area")[0, 0].numpy() > 0.5

    def share(values: np.ndarray, face: np.ndarray, body: np.ndarray) -> tuple[float, float]:
        f, b = at(face, values.shape[0]), at(body, values.shape[0])
        return float(values[f & b].sum() / max(values[b].sum(), 1e-12)), float((f & b).sum() / max(b.sum(), 1))

    print(f"| reference | face box's share of the body's area | prediction change: share in the box | "
          f"emotion word's attention: share in the box ({len(layers)} layers) |")
    print("|---|---|---|---|")
    for emotion in FACTORS["emotion"]:
        for scale in FACTORS["scale"]:
            s = Sticker(shape="square", colour="red", accessory="hat", emotion=emotion, scale=scale,
                        position="left", background="white")
            rgb, body = render_with_mask(s, random.Random(1))
            x0, y0, x1, y1 = face_box(s)
            face = np.zeros_like(body)
            face[y0:y1, x0:x1] = True
            pixels = torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 127.5 - 1
            attention: dict[str, np.ndarray] = {}
            change = 0.0
            with torch.no_grad():
                latents = vae.encode(pixels).latent_dist.mean * vae.config.scaling_factor
                ids, own = encode(prompt_for(s))
                words = tok.convert_ids_to_tokens(ids[0])
                position = next(i for i, w in enumerate(words) if w.startswith(emotion))
                others = [encode(prompt_for(replace(s, emotion=e)))[1] for e in FACTORS["emotion"] if e != emotion]
                store = AttentionStore()
                for k, frac in enumerate(_FRACTIONS):
                    t = torch.tensor([int(frac * n_t)])
                    noise = torch.randn(latents.shape, generator=torch.Generator().manual_seed(k))
                    noisy = sched.add_noise(latents, noise, t)
                    with capture(unet, [l.name for l in layers], store):
                        eps = unet(noisy, t, encoder_hidden_states=own).sample
                        for l in layers:
                            m = store.maps[l.name][0, :, position].reshape(l.side, l.side).numpy()
                            attention[l.name] = attention.get(l.name, 0) + m
                    for other in others:
                        change = change + (unet(noisy, t, encoder_hidden_states=other).sample - eps).pow(2).mean(1)[0]
            shares = [share(attention[l.name], face, body)[0] for l in layers]
            got, area = share(change.numpy(), face, body)
            print(f"| {emotion}, {scale} | {area:.2f} | {got:.2f} | {min(shares):.2f}-{max(shares):.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
