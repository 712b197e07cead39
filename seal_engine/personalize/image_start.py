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

The image embedding also holds the reference's face, and fitted to it alone the rows took it
(a sticker asking for another emotion came back with the reference's in 5% of the toy world's
samples, against 1% for plain TTF). So the fit also has *edited* targets: for each other value
of the caption's `image_start_edits` attributes (the emotion by default), the prompt naming it
must match the image moved along the text direction that change makes for the class word, so
the emotion words keep acting after the rows (measured in docs/personalization.md, round 7). The
edited targets weigh `image_start_edit_share` of the fit (0.5; more made no measurable difference
on the protocol, round 10).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from .component import Component
from .edit_consistency import replace_phrase

if TYPE_CHECKING:  # pragma: no cover
    from .trainer import Trainer


class ImageStart(Component):
    name = "image_start"

    def __init__(self) -> None:
        self.info: dict[str, Any] = {}
        self.edited: list[str] = []

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
        edit_prompts, edit_targets = self._edits(t, pair, prompts, [word for word, _rgb in backdrops], target)
        ids, _ = t.tokenize(prompts + edit_prompts)
        n_plain = len(prompts)
        if edit_targets is not None:
            target = torch.cat([target, edit_targets])
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
            sims = torch.nn.functional.cosine_similarity(emb, target)
            cos = sims[:n_plain].mean()
            if len(sims) > n_plain:  # the edited targets together weigh `image_start_edit_share` of the fit
                share = cfg.image_start_edit_share
                cos = (1 - share) * cos + share * sims[n_plain:].mean()
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
            final = torch.nn.functional.cosine_similarity(pair.project_text(pooled()), target)[:n_plain].mean()
        self.info = {"start": f"CLIP image embedding ({pair.source})", "tower": pair.source, "prompt": prompts[0],
                     "backdrops": [word for word, _rgb in backdrops], "steps": cfg.image_start_steps,
                     "edited_attributes": list(self.edited), "edited_targets": len(edit_prompts),
                     "cosine_before": round(first, 4),
                     "cosine_after": round(float(final), 4),
                     "row_shift": round(float((enc.identity_rows.detach() - init).norm() / init.norm()), 4),
                     "seconds": round(time.perf_counter() - began, 3),
                     "encoders_fitted": 1 if t.xl else len(t.encoders)}
        t.report(f"Identity tokens start from the reference's image embedding (cosine "
                 f"{self.info['cosine_before']:.2f} -> {self.info['cosine_after']:.2f})")

    def _edits(self, t: "Trainer", pair: Any, prompts: list[str], words: list[str], target: Any) -> tuple[list[str], Any]:
        """Prompts naming another value of each edited attribute, and their targets: the image
        embedding moved along the text direction that change makes for the class word
        (normalize(image + T(class word, new value) - T(class word, caption's value))).

        Fitted to the plain targets alone, the rows also explain the reference's face, and a
        sticker asking for another emotion still shows it; fitted to these too, changing the
        emotion word must move the prompt as it moves it for the class word. Only the caption's
        own vocabulary is used, nothing the user does not have."""
        import torch

        self.edited = []
        values = t.caption_values
        vocab = pair.vocabulary
        if vocab is None or not values or not t.template or "{background}" not in t.template:
            return [], None
        subject_words = f"{t.names.identity_string} {t.class_word}".strip()
        id_prompts, cls_from, cls_to, rows = [], [], [], []
        phrases_bg = vocab.attributes.get("background", {})
        backgrounds = [phrases_bg.get(w, w) for w in words]
        for attr in t.cfg.image_start_edits:
            phrases = vocab.attributes.get(attr)
            current = values.get(attr)
            if not phrases or current not in phrases:
                continue
            old = phrases[current]
            if replace_phrase(t.template, old, old) is None:
                continue
            self.edited.append(attr)
            for value, phrase in phrases.items():
                if value == current:
                    continue
                edited = replace_phrase(t.template, old, phrase)
                for i in range(len(prompts)):
                    background = backgrounds[i]
                    id_prompts.append(edited.format(subject=subject_words, background=background))
                    cls_to.append(edited.format(subject=t.class_word, background=background))
                    cls_from.append(t.template.format(subject=t.class_word, background=background))
                    rows.append(i)
        if not id_prompts:
            return [], None
        shift = (pair.text_embeds(cls_to) - pair.text_embeds(cls_from)).to(target.device)
        moved = target[torch.tensor(rows, device=target.device)] + shift
        return id_prompts, torch.nn.functional.normalize(moved, dim=-1)

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
