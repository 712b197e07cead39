"""The paper's image-embedding start: identity tokens begin where the reference's CLIP image embedding is.

SEAL "extracts the reference's CLIP image embedding to start the adaptation". The image
tower that matches the model's text encoder (SD1.x: CLIP ViT-L/14; SD2.x: OpenCLIP ViT-H;
SDXL: ViT-L/14 for the first encoder) embeds the reference's subject alone, cut out by the
mask and set on several flat backdrops (the caption vocabulary's background swatches); the
identity rows are then fitted so that, for each backdrop, the text encoder's projected, pooled
embedding of the training prompt naming that backdrop matches the image's (mean cosine). The
backdrop words explain the backdrop, so the rows take only what is the same on all of them:
the character. Fitted to the whole reference, the tokens carried its background (back in 30%
of the toy world's stickers asking for another one); fitted to the subject on white alone,
they carried "white", which the diffusion phases then confirmed on white references (every
sticker of a white reference came back on white, 3 of 18 references). Only the text encoder
runs, so each step costs milliseconds; the diffusion phases then start from a token that
already names the character's look instead of the class word. Without a cached tower the
start stays the class word, and the concept records which start was used and why.
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
        backdrops = self._backdrops(pair, cfg.image_start_backdrops)
        images = [_subject_on(t.reference, t.mask, rgb) for _word, rgb in backdrops]
        target = pair.image_embeds(images).to(t.device).float()
        prompts = self._prompts(t, pair, [word for word, _rgb in backdrops])
        ids, _ = t.tokenize(prompts)
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
        self.info = {"start": f"CLIP image embedding ({pair.source})", "tower": pair.source, "prompt": prompts[0],
                     "backdrops": [word for word, _rgb in backdrops], "steps": cfg.image_start_steps,
                     "cosine_before": round(first, 4),
                     "cosine_after": round(float(final), 4),
                     "row_shift": round(float((enc.identity_rows.detach() - init).norm() / init.norm()), 4),
                     "seconds": round(time.perf_counter() - began, 3),
                     "encoders_fitted": 1 if t.xl else len(t.encoders)}
        t.report(f"Identity tokens start from the reference's image embedding (cosine "
                 f"{self.info['cosine_before']:.2f} -> {self.info['cosine_after']:.2f})")

    @staticmethod
    def _backdrops(pair: Any, count: int) -> list[tuple[str, tuple[int, int, int]]]:
        """(background word, RGB) of up to `count` flat backdrops, white first; white alone without swatches."""
        swatches = dict(pair.vocabulary.swatches) if pair.vocabulary is not None else {}
        white = next((w for w in swatches if w.lower() == "white"), None)
        order = ([white] if white else []) + [w for w in swatches if w != white]
        chosen = [(w, swatches[w]) for w in order[:max(1, count)]]
        return chosen or [("white", (255, 255, 255))]

    @staticmethod
    def _prompts(t: "Trainer", pair: Any, words: list[str]) -> list[str]:
        """The training prompt for each backdrop: the caption's words with its background slot naming that
        backdrop; without a caption with a background slot, the generic training prompt for every image
        (the mean over the backdrops then cancels them)."""
        template = t.template
        if not template or "{background}" not in template:
            return [t.prompt(0, t.subset_index("identity"))] * len(words)
        subject_words = f"{t.names.identity_string} {t.class_word}".strip()
        phrases = pair.vocabulary.attributes.get("background", {}) if pair.vocabulary is not None else {}
        return [template.format(subject=subject_words, background=phrases.get(w, w)) for w in words]

    def record(self, t: "Trainer") -> dict:
        return self.info


def _subject_on(image: Any, mask: Any, rgb: tuple[int, int, int]) -> Any:
    """The reference's subject alone: outside the mask becomes the flat colour `rgb`."""
    from PIL import Image

    rgba = image.convert("RGBA")
    alpha = mask.convert("L").resize(rgba.size)
    backdrop = Image.new("RGB", rgba.size, tuple(rgb))
    flat = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba).convert("RGB")
    return Image.composite(flat, backdrop, alpha)
