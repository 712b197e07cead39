"""What a finished run records: `concept.json` and the learned token rows.

Kept apart from the training loop so that what a concept folder holds can be read in one place.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any, Optional

from ..concept import CONCEPT_FORMAT_VERSION
from .split_merge import Subset

if TYPE_CHECKING:  # pragma: no cover
    from .trainer import Trainer

RNG_STREAM = "device-generator-v2"
"""Noise, timesteps and per-sample choices come from one torch generator on the training
device (v1 drew them from a CPU generator and numpy): same seed, same run on one device,
but not the same numbers as concepts made by v1."""


def embeddings(t: "Trainer", role: str) -> Optional[dict]:
    """The learned rows of one token role as the concept's embedding file holds them (SDXL: both encoders)."""
    names = t.names
    if role == "context" and not names.context:
        return None
    rows = [(enc.identity_rows if role == "identity" else enc.context_rows).detach().float().cpu().clone()
            for enc in t.encoders]
    if t.xl:
        return {"clip_l": rows[0], "clip_g": rows[1]}
    return {names.identity[0] if role == "identity" else names.context: rows[0]}


def metadata(t: "Trainer", choice: Any) -> dict:
    """`concept.json`: what was learned, from what, with which settings, and what each component recorded."""
    import statistics

    from .. import __version__

    cfg, names, model = t.cfg, t.names, t.model
    step_means = {}
    for phase, times in t.step_times.items():
        tail = times[2:] if len(times) > 4 else times
        if tail:
            step_means[phase] = round(statistics.fmean(tail), 5)
    timings = dict(t.timings)
    timings["mean_step_s"] = step_means
    records = {c.name: c.record(t) for c in t.components}
    start = records.get("image_start", {}).get("start") or f"class word '{t.identity_init}'"
    if cfg.image_start is None and not cfg.uses_image_start:
        start += f" (the image start is off on the {cfg.schedule.value} schedule, where it costs identity)"
    return {
        "format_version": CONCEPT_FORMAT_VERSION,
        "kind": "seal-concept",
        "seal_version": __version__,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "base_model": {"id": model.model_id, "architecture": model.arch.value, "dtype": model.dtype_label,
                       "device": str(t.device)},
        "tokens": {
            "identity": {"token": names.identity[0], "strings": list(names.identity),
                         "vectors": len(names.identity), "role": "identity", "init": t.identity_init,
                         "start": start, "trained": cfg.base.trains_embeddings},
            "context": ({"token": names.context, "strings": [names.context], "vectors": 1, "role": "context",
                         "init": cfg.context_init, "trained": cfg.base.trains_embeddings,
                         "file": "context_embeds.safetensors"} if names.context else None),
        },
        "identity_string": " ".join(
            [names.identity[0]] + ([names.context] if names.context and cfg.merge.value == "identity+context"
                                   else []) + ([t.class_word] if t.class_word else [])),
        "class_word": t.class_word,
        "class_word_source": choice.source,
        "generation": {"merge": cfg.merge.value if names.context else "identity"},
        "training_prompt": {"template": t.template, "background_words": t.background_words,
                            "example": t.prompts[0][t.subset_index(Subset.IDENTITY)]},
        "settings": cfg.to_dict(),
        "components": {"attention_loss": cfg.attention_loss, "background_loss": cfg.background_loss,
                       "split_merge": cfg.split_merge, "layer_restriction": cfg.layer_restriction,
                       "image_start": "image_start" in records, "auto_caption": "auto_caption" in records,
                       "context_hold": "context_hold" in records},
        "component_records": records,
        "loss_balance": t.balance,
        "notes": t.notes,
        "seed": cfg.seed,
        "rng": RNG_STREAM,
        "compiled": t.compiled,
        "steps": {"embeddings": cfg.embedding_steps, "lora": cfg.lora_steps,
                  "total": cfg.embedding_steps + cfg.lora_steps},
        "training_size": t.size,
        "timings": timings,
        "attention": {**t.maps.record(), "probe_before": t.probe_before, "probe_after": t.probe_after},
        "lora": ({"adapter_name": t.adapter, "rank": cfg.lora_rank, "alpha": cfg.lora_rank,
                  "preset": t.lora_preset or "all", "patterns": t.lora_patterns,
                  "target_modules": t.lora_targets, **t.lora_counts}
                 if t.adapter else None),
        "augmentation": {"on": t.augment, "why": t.augment_why, "views": t.n_views,
                         "scales": [round(s, 3) for s in t.bank.scales]},
    }
