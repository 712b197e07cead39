"""Measure a toy image tower through the public API (find_clip_pair + caption_images).

Zero-shot caption accuracy per context factor on fresh renders (held-out appearances by
default), and appearance retrieval among the world's 60 appearances: with the true
context named (the full prompt, as the identity fit sees it) and with the appearance
phrase alone ("a purple round creature with a hat").
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Optional

import numpy as np

from .attributes import HELD_OUT_APPEARANCES, identity_phrase, prompt_for
from .train_tower import APPEARANCES, CONTEXT_FACTORS, CONTEXTS, TRAIN_APPEARANCES, sample_batch, sticker_of


def evaluate_tower(folder: Optional[Path] = None, n: int = 500, seed: int = 4242, held_out: bool = True,
                   pair=None) -> dict[str, float]:
    """Accuracy table (factor -> share correct) of the tower at `folder` (default: the shipped one)."""
    from PIL import Image

    from ..caption import caption_images
    from ..clip_pair import find_clip_pair
    from .model import default_pipeline_dir

    if pair is None:
        pair, _ = find_clip_pair(default_pipeline_dir(), "sd1", explicit=folder)
    appearances = HELD_OUT_APPEARANCES if held_out else TRAIN_APPEARANCES
    arrays, app_idx, ctx_idx = sample_batch(random.Random(seed), n, appearances)
    images = [Image.fromarray(a) for a in arrays]
    captions = caption_images(pair, images)
    table: dict[str, float] = {}
    for f in CONTEXT_FACTORS:
        table[f] = float(np.mean([c.values[f] == CONTEXTS[t][f] for c, t in zip(captions, ctx_idx)]))
    table["all six"] = float(np.mean([all(c.values[f] == CONTEXTS[t][f] for f in CONTEXT_FACTORS)
                                      for c, t in zip(captions, ctx_idx)]))
    emb = pair.image_embeds(images)
    # appearance among 60, true context named: one prompt per (appearance, context) needed
    hits = []
    for i, (a, c) in enumerate(zip(app_idx, ctx_idx)):
        prompts = [prompt_for(sticker_of(app, CONTEXTS[c])) for app in APPEARANCES]
        hits.append(int((emb[i] @ pair.text_embeds(prompts).T).argmax()) == a)
    table["appearance (full prompt, 60)"] = float(np.mean(hits))
    phrases = pair.text_embeds([f"a {identity_phrase(sticker_of(app, CONTEXTS[0]))}" for app in APPEARANCES])
    pred = (emb @ phrases.T).argmax(dim=1).tolist()
    table["appearance (phrase only, 60)"] = float(np.mean([p == a for p, a in zip(pred, app_idx)]))
    return {k: round(v, 4) for k, v in table.items()}
