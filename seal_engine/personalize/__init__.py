"""Personalization: one trainer, SEAL's components as plug-ins, one file each.

- `trainer.py`: the loop and `personalize()`, the one entry point;
- `config.py`: every knob, recorded in the concept;
- `attention_loss.py`, `split_merge.py`, `layer_restriction.py`: SEAL's three components;
- `background_loss.py`: the paper's background-preservation term;
- `image_start.py`, `auto_caption.py`: the image-embedding start and the reference's caption;
- `context_hold.py`, `edited_views.py`, `edit_consistency.py`: ours, for the caption's words and the
  reference's face (the first two on by default on some schedules, the last opt-in);
- `attention_maps.py`, `tokens.py`, `bank.py`, `component.py`: what they share.
"""

from .config import SCHEDULE_LR, SCHEDULE_STEPS, BaseMethod, Merge, PersonalizeConfig, Schedule, baseline_config
from .trainer import personalize

__all__ = ["personalize", "PersonalizeConfig", "BaseMethod", "Merge", "Schedule", "SCHEDULE_LR",
           "SCHEDULE_STEPS", "baseline_config"]
