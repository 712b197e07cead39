"""The reference captioned on the six-attribute schema, so the identity tokens need not explain it.

The training prompt names what is NOT identity (emotion, action, framing, style,
background), read off the reference zero-shot with the CLIP pair (real models: the
vocabulary the presets use; the toy world: its own tower and words). Without it, "a
sticker of <id> creature" leaves the tokens to absorb the reference's pose, emotion and
background, which then leak into every sticker. A caption the user wrote or edited
(`caption`, in the schema's words, e.g. from the app's edit box) replaces it; no tower, no
automatic caption, and the concept says so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .component import Component

if TYPE_CHECKING:  # pragma: no cover
    from .trainer import Trainer


class AutoCaption(Component):
    name = "auto_caption"

    def __init__(self) -> None:
        self.info: dict[str, Any] = {}

    def configure(self, t: "Trainer") -> None:
        from ..caption import caption_from_text, caption_reference, preset_vocabulary

        if t.cfg.caption:
            pair, _reason = t.clip_pair() if t.cfg.auto_caption else (None, "")
            vocabulary = (pair.vocabulary if pair is not None else None) or preset_vocabulary()
            caption = caption_from_text(t.cfg.caption, vocabulary)
        else:
            pair, reason = t.clip_pair()
            if pair is None:
                self.info = {"caption": None, "reason": reason}
                t.report(f"No automatic caption: {reason}")
                return
            caption = caption_reference(pair, t.reference, t.mask)
        t.template = caption.template
        t.caption_values = dict(caption.values)
        t.background_words = caption.background_words
        t.caption_names_framing = any(k in caption.values for k in ("camera", "scale", "position"))
        self.info = {"caption": caption.text(), **caption.record()}
        t.report(f"Caption: {caption.text()}")

    def record(self, t: "Trainer") -> dict:
        return self.info
