"""The paper's image-embedding start: identity tokens begin where the reference's CLIP image embedding is.

SEAL "extracts the reference's CLIP image embedding to start the adaptation". The image
tower that matches the model's text encoder (SD1.x: CLIP ViT-L/14; SD2.x: OpenCLIP ViT-H;
SDXL: ViT-L/14 for the first encoder) embeds the reference's subject alone (cut out by the
mask, on white: fitted to the whole reference, the tokens carried its background, which came
back in 30% of the toy world's stickers asking for another one); the identity rows are then
fitted so that the text encoder's projected, pooled embedding of a prompt describing that
image (the caption read off it, when the tower can caption) matches it (cosine). Only the text encoder runs, so each step costs milliseconds; the
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
        subject = _subject_on_white(t.reference, t.mask)
        target = pair.image_embeds([subject]).to(t.device).float()
        prompt = self._prompt(t, pair, subject)
        ids, _ = t.tokenize([prompt])
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
        self.info = {"start": f"CLIP image embedding ({pair.source})", "tower": pair.source, "prompt": prompt,
                     "steps": cfg.image_start_steps, "cosine_before": round(first, 4),
                     "cosine_after": round(float(final), 4),
                     "row_shift": round(float((enc.identity_rows.detach() - init).norm() / init.norm()), 4),
                     "seconds": round(time.perf_counter() - began, 3),
                     "encoders_fitted": 1 if t.xl else len(t.encoders)}
        t.report(f"Identity tokens start from the reference's image embedding (cosine "
                 f"{self.info['cosine_before']:.2f} -> {self.info['cosine_after']:.2f})")

    @staticmethod
    def _prompt(t: "Trainer", pair: Any, subject: Any) -> str:
        """The training prompt's form, describing the subject-on-white image the rows are fitted to."""
        subject_words = f"{t.names.identity_string} {t.class_word}".strip()
        if pair.vocabulary is not None and t.template:
            from ..caption import caption_reference

            caption = caption_reference(pair, subject)
            return caption.template.format(subject=subject_words, background=caption.background_words)
        return t.prompt(0, t.subset_index("identity"))

    def record(self, t: "Trainer") -> dict:
        return self.info


def _subject_on_white(image: Any, mask: Any) -> Any:
    """The reference's subject alone: outside the mask becomes white."""
    from PIL import Image

    rgba = image.convert("RGBA")
    alpha = mask.convert("L").resize(rgba.size)
    white = Image.new("RGB", rgba.size, (255, 255, 255))
    flat = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba).convert("RGB")
    return Image.composite(flat, white, alpha)
