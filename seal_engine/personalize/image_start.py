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

The text encoder is causal: the rows also change how every word after them reads, and fitted
to the image they moved the caption's own tokens (emotion, pose, background) away from what they
are after the class word (cosine 0.93 -> 0.82..0.91 on the toy world), where the U-Net reads the
asked emotion. `image_start_context_weight` (1.0) holds those tokens there: over 54 toy
references on `paper` the asked emotion came back in 0.035 more samples and identity in 0.017
more, both CIs above 0. The start records their cosine before and after in every concept
(docs/personalization.md, round 14).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from .component import Component
from .edit_consistency import replace_phrase
from .tokens import context_alignment

if TYPE_CHECKING:  # pragma: no cover
    from .trainer import Trainer


class ImageStart(Component):
    name = "image_start"

    def __init__(self) -> None:
        self.info: dict[str, Any] = {}
        self.edited: list[str] = []

    def setup(self, t: "Trainer") -> None:
        import torch

        from ..clip_pair import pooled_at_eos

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
        all_prompts = prompts + edit_prompts
        cls_ids, _ = t.tokenize([_class_prompt(t, p) for p in all_prompts])
        rows_at, id_at, cls_at = _context_positions(ids, cls_ids, set(int(i) for i in t.id_ids.tolist()), eos)
        with torch.no_grad():
            cls_context = t.pipe.text_encoder(input_ids=cls_ids).last_hidden_state[rows_at, cls_at].float()

        def encoded() -> tuple[Any, Any]:
            """(pooled at EOS, the context tokens' cosine to the class-word prompt's)."""
            hidden = t.pipe.text_encoder(input_ids=ids).last_hidden_state
            context = torch.nn.functional.cosine_similarity(hidden[rows_at, id_at].float(), cls_context, dim=-1)
            return pooled_at_eos(hidden, ids, eos).float(), context.mean()

        def pooled() -> Any:
            return encoded()[0]


        init = enc.identity_rows.detach().clone()
        init_norm = init.norm(dim=-1).mean()
        opt = torch.optim.Adam([enc.identity_rows], lr=cfg.image_start_lr * float(init_norm))
        enc.identity_rows.requires_grad_(True)
        first = context_first = None
        weight = cfg.image_start_context_weight
        for _ in range(cfg.image_start_steps):
            pooled_now, context_cos = encoded()
            emb = pair.project_text(pooled_now)
            sims = torch.nn.functional.cosine_similarity(emb, target)
            cos = sims[:n_plain].mean()
            if len(sims) > n_plain:  # the edited targets together weigh `image_start_edit_share` of the fit
                share = cfg.image_start_edit_share
                cos = (1 - share) * cos + share * sims[n_plain:].mean()
            # keep the rows at the scale the U-Net knows (CLIP inversion alone can leave it)
            scale = (enc.identity_rows.norm(dim=-1) / init_norm - 1).pow(2).mean()
            loss = (1 - cos) + 0.1 * scale
            if weight:  # the words after the subject keep reading as they do after the class word
                loss = loss + weight * (1 - context_cos)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if first is None:
                first, context_first = float(cos.detach()), float(context_cos.detach())
        enc.identity_rows.requires_grad_(False)
        with torch.no_grad():
            pooled_now, context_final = encoded()
            final = torch.nn.functional.cosine_similarity(pair.project_text(pooled_now), target)[:n_plain].mean()
        self.info = {"start": f"CLIP image embedding ({pair.source})", "tower": pair.source, "prompt": prompts[0],
                     "backdrops": [word for word, _rgb in backdrops], "steps": cfg.image_start_steps,
                     "edited_attributes": list(self.edited), "edited_targets": len(edit_prompts),
                     "cosine_before": round(first, 4),
                     "cosine_after": round(float(final), 4),
                     "context_weight": weight, "context_tokens": len(rows_at),
                     "context_cosine_before": round(context_first, 4),
                     "context_cosine_after": round(float(context_final), 4),
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


def _class_prompt(t: "Trainer", prompt: str) -> str:
    """The same prompt with the class word where the identity tokens and class word stand."""
    subject_words = f"{t.names.identity_string} {t.class_word}".strip()
    if subject_words in prompt:
        return prompt.replace(subject_words, t.class_word, 1)
    return " ".join(prompt.replace(t.names.identity_string, "").split())


def _context_positions(ids: Any, cls_ids: Any, identity: set[int], eos: int) -> tuple[Any, Any, Any]:
    """(row, position in ids, position in cls_ids) of the words after the subject in both prompts
    (tokens.context_alignment, which the context hold uses too); where no prompt has any, EOS (the
    term then only keeps the scale)."""
    import torch

    rows, at_id, at_cls = [], [], []
    for r, (a, b) in enumerate(zip(ids.tolist(), cls_ids.tolist())):
        for p, q in context_alignment(a, b, identity, identity, eos):
            rows.append(r)
            at_id.append(p)
            at_cls.append(q)
    if not rows:
        rows = list(range(len(ids)))
        at_id = [a.index(eos) if eos in a else len(a) - 1 for a in ids.tolist()]
        at_cls = [b.index(eos) if eos in b else len(b) - 1 for b in cls_ids.tolist()]
    as_t = lambda v: torch.tensor(v, device=ids.device, dtype=torch.long)  # noqa: E731
    return as_t(rows), as_t(at_id), as_t(at_cls)


def _subject_on(image: Any, mask: Any, rgb: tuple[int, int, int]) -> Any:
    """The reference's subject alone: outside the mask becomes the flat colour `rgb`."""
    from PIL import Image

    rgba = image.convert("RGBA")
    alpha = mask.convert("L").resize(rgba.size)
    backdrop = Image.new("RGB", rgba.size, tuple(rgb))
    flat = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba).convert("RGB")
    return Image.composite(flat, backdrop, alpha)
