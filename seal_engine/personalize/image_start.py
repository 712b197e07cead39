"""The paper's image-embedding start: identity tokens begin where the reference's CLIP image embedding is.

SEAL "extracts the reference's CLIP image embedding to start the adaptation". The image
tower that matches the model's text encoder (SD1.x: CLIP ViT-L/14; SD2.x: OpenCLIP ViT-H;
SDXL: ViT-L/14 for the first encoder) embeds the reference; the identity rows are then
fitted so that the text encoder's projected, pooled embedding of the training prompt
matches it (cosine). Only the text encoder runs, so each step costs milliseconds; the
diffusion phases then start from a token that already names the character's look instead
of the class word. Without a cached tower the start stays the class word, and the concept
records which start was used and why.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from .component import Component

if TYPE_CHECKING:  # pragma: no cover
    from .trainer import Trainer


class ImageStart(Component):
    name = "image_start"

    def __init__(self) -> None:
        self.info: dict[str, Any] = {}

    def setup(self, t: "Trainer") -> None:
        import torch

        from ..clip_pair import encode_pooled

        cfg = t.cfg
        pair, reason = t.clip_pair()
        mismatch = pair.check_text_encoder(t.pipe.text_encoder) if pair is not None else None
        if pair is None or mismatch or not cfg.image_start_steps:
            why = reason if pair is None else (f"the CLIP pair does not match ({mismatch})" if mismatch
                                               else "image-start steps set to 0")
            self.info = {"start": f"class word '{t.identity_init}'", "reason": why}
            t.report(f"Identity tokens start from the class word: {why}")
            return
        began = time.perf_counter()
        enc = t.encoders[0]
        target = pair.image_embeds([_on_white(t.reference)]).to(t.device).float()
        views = torch.zeros(1, dtype=torch.long, device=t.device)
        ids, _ = t.identity_ids(views)
        eos = int(t.pipe.tokenizer.eos_token_id)

        def pooled() -> Any:
            return encode_pooled(t.pipe.text_encoder, ids, eos).float()

        init = enc.identity_rows.detach().clone()
        init_norm = init.norm(dim=-1).mean()
        opt = torch.optim.Adam([enc.identity_rows], lr=cfg.image_start_lr * float(init_norm))
        enc.identity_rows.requires_grad_(True)
        first = None
        for _ in range(cfg.image_start_steps):
            emb = pair.project_text(pooled())
            cos = torch.nn.functional.cosine_similarity(emb, target).mean()
            # keep the rows at the scale the U-Net knows (CLIP inversion alone can leave it)
            scale = (enc.identity_rows.norm(dim=-1) / init_norm - 1).pow(2).mean()
            loss = (1 - cos) + 0.1 * scale
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if first is None:
                first = float(cos.detach())
        enc.identity_rows.requires_grad_(False)
        with torch.no_grad():
            final = torch.nn.functional.cosine_similarity(pair.project_text(pooled()), target).mean()
        self.info = {"start": f"CLIP image embedding ({pair.source})", "tower": pair.source,
                     "steps": cfg.image_start_steps, "cosine_before": round(first, 4),
                     "cosine_after": round(float(final), 4),
                     "row_shift": round(float((enc.identity_rows.detach() - init).norm() / init.norm()), 4),
                     "seconds": round(time.perf_counter() - began, 3),
                     "encoders_fitted": 1 if t.xl else len(t.encoders)}
        t.report(f"Identity tokens start from the reference's image embedding (cosine "
                 f"{self.info['cosine_before']:.2f} -> {self.info['cosine_after']:.2f})")

    def record(self, t: "Trainer") -> dict:
        return self.info


def _on_white(image: Any) -> Any:
    from PIL import Image

    rgba = image.convert("RGBA")
    base = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(base, rgba).convert("RGB")
