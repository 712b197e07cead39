"""The small interface through which each SEAL component plugs into the one trainer.

The trainer owns the loop (views, noise, optimiser, progress, cancel, saving). A component
owns its whole behaviour in its own file: what it sets up and measures, what it changes
in the training prompts and loss regions, the loss terms it adds, the parameters it
trains and what it records in `concept.json`. The baseline is the loop with no component;
an ablation is a component left out, nothing else.

Order of the hooks in a run:
  configure(t)  before the tokens exist: declare tokens, subsets, prompt templates
  setup(t)      tokens exist, views are encoded: fit, measure, hook
  trainables(t, phase) / phase_start(t, phase)
  loss(t, step) every step: named terms with a weight (None = balanced by gradient ratio)
  finish(t)     after the last step, before the hooks come off (diagnostics)
  teardown(t)   always, also on failure or cancel
  record(t)     what goes into concept.json under "components"
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:  # pragma: no cover
    from .trainer import Trainer


@dataclass
class Term:
    """One loss term: its value and weight. `weight=None` asks the trainer to set the weight
    at each phase's first step so that this term's gradient norm is `ratio` times the
    diffusion term's (on the parameters that phase trains)."""

    value: Any
    weight: Optional[float] = None
    ratio: float = 1.0


@dataclass
class Step:
    """What one training step computed, for components to read."""

    phase: str
    index: int  # 1-based within the phase
    views: Any  # (b,) long: which augmented view
    subsets: Any  # (b,) long: index into trainer.subsets
    ids: Any  # (b, 77) token ids of the first tokenizer
    noisy: Any
    timesteps: Any
    embeds: Any
    pooled: Any
    pred: Any
    target: Any
    extra: dict = field(default_factory=dict)


class Component:
    """Base class: every hook does nothing."""

    name = "component"

    def configure(self, t: "Trainer") -> None:
        pass

    def setup(self, t: "Trainer") -> None:
        pass

    def trainables(self, t: "Trainer", phase: str) -> list[dict]:
        """Extra optimiser parameter groups for `phase` ({"params": [...], "lr": ...})."""
        return []

    def phase_start(self, t: "Trainer", phase: str) -> None:
        pass

    def before_unet(self, t: "Trainer") -> None:
        pass

    def loss(self, t: "Trainer", step: Step) -> dict[str, Term]:
        return {}

    def finish(self, t: "Trainer") -> None:
        pass

    def teardown(self, t: "Trainer") -> None:
        pass

    def record(self, t: "Trainer") -> dict:
        return {}
