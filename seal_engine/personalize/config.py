"""Every knob of a personalization run, in one dataclass that is recorded in the concept.

Baseline test-time fine-tuning, TTF+SEAL and each ablation come from the same
code: the three SEAL components are independent switches here (and CLI flags).
`resolve()` turns `None` ("choose for me") into concrete per-architecture
values, so that the concept records exactly what ran.
"""

from __future__ import annotations

import enum
import math
import numbers
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Optional

from ..architecture import Architecture
from ..errors import InputError


MAX_STEPS = 100_000
"""Documented bound on each training phase's step count."""
MAX_LOSS_WEIGHT = 1e4
"""Loss weights above this only make training diverge; the cap also rules out inf."""
LORA_LOSS_REGIONS = ("subject", "image")
"""Where the LoRA phase's identity samples count their diffusion loss (split_merge.py)."""


class BaseMethod(str, enum.Enum):
    TI = "ti"
    LORA = "lora"
    TI_LORA = "ti+lora"

    @property
    def trains_embeddings(self) -> bool:
        return self in (BaseMethod.TI, BaseMethod.TI_LORA)

    @property
    def trains_lora(self) -> bool:
        return self in (BaseMethod.LORA, BaseMethod.TI_LORA)


class Schedule(str, enum.Enum):
    QUALITY = "quality"
    FAST = "fast"
    PAPER = "paper"


class Merge(str, enum.Enum):
    """What generation names after split-merge: the identity tokens alone, or identity and context."""

    IDENTITY = "identity"
    IDENTITY_CONTEXT = "identity+context"


# (embedding steps, lora steps) per schedule and base method.
SCHEDULE_STEPS: dict[Schedule, dict[BaseMethod, tuple[int, int]]] = {
    Schedule.QUALITY: {BaseMethod.TI: (800, 0), BaseMethod.LORA: (0, 500), BaseMethod.TI_LORA: (400, 400)},
    Schedule.FAST: {BaseMethod.TI: (200, 0), BaseMethod.LORA: (0, 150), BaseMethod.TI_LORA: (100, 100)},
    Schedule.PAPER: {BaseMethod.TI: (20, 0), BaseMethod.LORA: (0, 20), BaseMethod.TI_LORA: (10, 10)},
}
"""Step counts, from the reference methods (research/methods.md):

* `ti+lora` quality = Break-A-Scene's two phases, 400 steps of embeddings only
  then 400 steps of weights; also the "pivotal tuning" order of diffusers'
  advanced SDXL script (embeddings first, then LoRA).
* `lora` quality = the DreamBooth-LoRA SD1.5 recipe, 500 steps.
* `ti` quality = 800 steps: Textual Inversion's 3000-step recipe is for 3-5
  images at batch 4 (~12k samples of several views); one reference is fitted
  long before that, so we use Break-A-Scene's total single-image budget (400+400).
* `fast` is about a quarter of each (previews, dry runs); same learning rates.
* `paper` = the SEAL paper's 10-20 gradient steps of test-time fine-tuning after the
  image-embedding start, with the larger learning rates of `SCHEDULE_LR`.
"""

IMAGE_START_BY_SCHEDULE: dict[Schedule, bool] = {
    Schedule.PAPER: True,
    Schedule.FAST: False,
    Schedule.QUALITY: False,
}
"""Whether the image-embedding start runs when `image_start` is not set. Measured on the toy
world's protocol (18 references, docs/toyworld.md): on `paper` the start gave +0.075 identity
over the class word's, the most of any part; on `fast` and `quality` it cost identity (SEAL
with it 0.844 against 0.911 without it on `fast`, 0.881 on `quality` where plain TTF reached
0.947): a CLIP image embedding carries the reference's pose, framing and background, and a
hundred or more steps fit the character from the class word anyway while keeping what the
start brought in. Those numbers are for the 150-step fit; with the 15-step fit (round 6; 8 steps since round 11) SEAL with
the start reached 0.903 on `fast`, still below 0.911 without it, so it stays off there. Measured
again on a fresh `quality` draw at round 16's code (18 references): identity -0.011 [-0.028, +0.000]
against SEAL without it, and 46% more time."""

CONTEXT_HOLD_BY_SCHEDULE: dict[Schedule, bool] = {
    Schedule.PAPER: True,
    Schedule.FAST: False,
    Schedule.QUALITY: True,
}
"""Whether the context hold (context_hold.py) runs when `context_hold` is not set. Measured on the
toy world's protocol (docs/personalization.md, round 15): on `paper`, over four draws (72
references), the asked emotion came back in about 0.04 more samples at the same identity; on
`quality` (two draws, 18 references) +0.044 [+0.014, +0.081] at identity +0.000 [-0.014, +0.011];
on `fast` it cost identity on both draws (-0.025 [-0.044, -0.008], then -0.044 [-0.081, -0.014]), so
it stays off there: in 100 token steps from the class word it shortens the rows' travel, where 400
steps find a direction that draws the character and leaves the words alone; holding only the second
half of the 100 steps cost the same (round 16)."""

EDITED_VIEWS_BY_SCHEDULE: dict[Schedule, bool] = {
    Schedule.PAPER: True,
    Schedule.FAST: False,
    Schedule.QUALITY: False,
}
"""Whether the edited views (edited_views.py) are made when `edited_views` is not set. Measured on
the toy world's protocol (docs/personalization.md, round 21): on `paper`, on two fresh draws (36
references, none used to choose its settings) the reference's face came back in 2.1% of the
stickers asking for another emotion against 4.2%, the asked emotion in +0.039 more, identity
-0.004 [-0.019, +0.011]. On `fast` (two draws) they changed nothing measurable (copying -0.6%
[-1.8, +0.6]) at twice the setup. On `quality` (two draws, round 22) they cost the asked emotion,
-0.024 [-0.039, -0.008] read right, at the same identity and copying."""

ATTENTION_GRAD_RATIO_BY_SCHEDULE: dict[Schedule, float] = {
    Schedule.PAPER: 0.1,
    Schedule.FAST: 0.03,
    Schedule.QUALITY: 0.03,
}
"""The attention terms' share of the diffusion gradient at each phase's first step when
`attention_grad_ratio` is not set. 0.1 from the 6-reference sweep (docs/personalization.md); on
`quality`'s 800 steps that pulls the identity tokens' attention over the whole subject, the face
included, and the emotion words lose to it: 18 references, SEAL at 0.1 reached 0.958 identity
with attribute accuracy -0.019 and emotion copying 6% against plain TTF's 0.947 / 2%; at 0.03
0.964, -0.009 and 3% (docs/toyworld_bench_fast_quality.md, round 8). On `fast` the same: its
ablations put SEAL's emotion cost there on the attention loss, and at 0.03 on four draws (72
references) the asked emotion came back +0.022 [+0.013, +0.032] more often, copying -0.8% [-1.4,
-0.3], identity -0.004 [-0.012, +0.005] (docs/personalization.md, round 22)."""

SCHEDULE_LR: dict[Schedule, tuple[float, float]] = {
    Schedule.QUALITY: (5e-4, 1e-4),
    Schedule.FAST: (5e-4, 1e-4),
    Schedule.PAPER: (5e-3, 1e-3),
}
"""(embedding lr, LoRA lr) per schedule when not set: Textual Inversion / Break-A-Scene's 5e-4 and
DreamBooth-LoRA's 1e-4, ten times larger for the 10-20 steps of `paper` (see docs/personalization.md)."""


def _attribute_names(value: Any, what: str) -> tuple[str, ...]:
    names = (value,) if isinstance(value, str) else value
    if not isinstance(names, (list, tuple)) or not all(isinstance(a, str) and a.strip() for a in names):
        raise InputError(f"{what} are caption attribute names, like 'emotion'.")
    return tuple(a.strip() for a in names)


@dataclass
class PersonalizeConfig:
    """Every setting of one personalization run. A field added later defaults to what runs did
    before it existed: concepts and toy-bench records written earlier lack it and read as its
    default (from_dict; bench_pool.check_same_settings)."""

    base: BaseMethod = BaseMethod.TI_LORA
    # SEAL component 1: semantic-guided spatial attention loss
    attention_loss: bool = True
    attention_weight: Optional[float] = None  # None: set per phase from the gradient ratio below
    # |grad attention term| / |grad diffusion| at a phase's first step; None: by schedule (swept)
    attention_grad_ratio: Optional[float] = None
    attention_outside_weight: float = 1.0  # relative weight of the outside-the-mask mass term
    # relative weight of the identity map's coverage term (max-normalised map = mask, Break-A-Scene's)
    attention_coverage_weight: float = 1.0
    attention_min_score: float = 0.5  # keep layers whose map/mask correlation reaches this...
    attention_keep_fraction: float = 0.75  # ...and this fraction of the best layer's
    attention_resolution: Optional[int] = None  # only consider maps of this side
    attention_layers: Optional[list[str]] = None  # explicit attn2 processor names (skip the scoring)
    # the paper's background term: backdrop views, and outside the subject stay with the base model
    background_loss: bool = True
    background_weight: float = 1.0
    backdrop_share: float = 0.5  # share of the views showing the subject on another named backdrop (background_loss.py)
    subject_margin: float = 0.1  # the subject's loss regions grow by this x the latent side (bank.py; measured)
    # edit consistency (edit_consistency.py): the caption's emotion word keeps acting on the character
    edit_consistency: bool = False
    edit_consistency_attributes: tuple[str, ...] = ("emotion",)
    edit_consistency_grad_ratio: float = 0.5  # its gradient's share of the diffusion term's at a phase's start
    # edited views (edited_views.py): the reference redrawn with each other emotion joins the views
    edited_views: Optional[bool] = None  # None: by schedule (EDITED_VIEWS_BY_SCHEDULE)
    edited_views_attributes: tuple[str, ...] = ("emotion",)
    edited_views_strength: float = 0.6  # share of the schedule the reference is noised to before the redraw
    edited_views_steps: int = 20  # DDIM steps of the full schedule (strength x steps are run)
    edited_views_guidance: float = 4.0
    edited_views_rescale: float = 0.7  # guidance rescale (diffusers' rescale_noise_cfg); 0: off
    edited_views_max_shift: float = 10.0  # an edit whose subject's mean colour moves more (0-255 levels) is dropped; 0: no check
    edited_views_max_edits: int = 3  # at most this many edits, spread over the vocabulary (the toy world has 3; the presets 45)
    # context hold (context_hold.py): the caption's words keep reading as after the class word while the tokens train
    context_hold: Optional[bool] = None  # None: by schedule (CONTEXT_HOLD_BY_SCHEDULE)
    context_hold_grad_ratio: float = 0.2  # its gradient's share of the diffusion term's at the embeddings phase's start (round 15: 0.5 cost identity)
    # SEAL component 2: split-merge tokens
    split_merge: bool = True
    context_init: str = "background"
    union_probs: tuple[float, float, float] = (0.3, 0.7, 0.0)  # P(identity+context), P(identity), P(context)
    merge: Merge = Merge.IDENTITY  # what generation names (recorded in the concept)
    lora_loss_region: str = "subject"  # the LoRA phase's loss: "subject" or the whole "image" (measured: docs/personalization.md)
    # SEAL component 3: structure-aware layer restriction
    layer_restriction: bool = True
    layer_preset: Optional[str] = None  # None: the architecture's default preset
    layer_patterns: Optional[list[str]] = None  # custom module-name patterns (override the preset)
    # the paper's image-embedding start and the automatic caption (both need a CLIP image tower)
    image_start: Optional[bool] = None  # None: by schedule (IMAGE_START_BY_SCHEDULE)
    image_start_steps: int = 8  # measured: 150 cost attributes and pose, 15 a little rigidity (docs/personalization.md, rounds 6, 11)
    image_start_lr: float = 2e-2
    image_start_edits: tuple[str, ...] = ("emotion",)  # caption attributes whose other values the start also fits (measured: docs/personalization.md)
    image_start_edit_share: float = 0.5  # the edited targets' share of the fit (measured: docs/personalization.md, round 10)
    image_start_context_weight: float = 1.0  # the caption's words keep reading as after the class word (image_start.py; measured: docs/personalization.md, round 14)
    image_start_backdrops: int = 6  # flat backdrops the subject is fitted on (the vocabulary's swatches, white first)
    image_tower: Optional[str] = None  # a CLIP model folder; None: look beside the model and in the cache
    auto_caption: bool = True  # caption the reference's emotion/action/framing/style/background
    caption: Optional[str] = None  # the user's caption in the schema's words (replaces the automatic one)
    # tokens
    num_vectors: int = 2  # identity vectors (the advanced SDXL script uses 2 per concept)
    class_word: Optional[str] = None  # None: chosen by class_word.choose_class_word and recorded
    identity_token: str = "<seal-id>"
    context_token: str = "<seal-bg>"
    # Optional caption of the reference, e.g. "a {subject}, smiling, on a {background} background":
    # a model whose text encoder only knows fully described prompts (the toy world) learns
    # nothing from "a sticker of <id>" because the identity tokens must then explain the
    # background and pose too. {subject} = identity tokens + class word; {background} = the
    # context token when named, else `background_words`. None: "a sticker of {subject}".
    prompt_template: Optional[str] = None
    background_words: str = ""
    # schedule and optimisation
    schedule: Schedule = Schedule.QUALITY
    embedding_steps: Optional[int] = None  # None: from the schedule
    lora_steps: Optional[int] = None
    embedding_lr: Optional[float] = None  # None: SCHEDULE_LR (5e-4, Textual Inversion / Break-A-Scene)
    lora_lr: Optional[float] = None  # None: SCHEDULE_LR (1e-4, DreamBooth-LoRA)
    lora_rank: Optional[int] = None  # None: 4 on SD1/SD2 (DreamBooth-LoRA), 64 on SDXL (B-LoRA)
    weight_decay: float = 1e-2  # AdamW default of the diffusers examples
    batch_size: int = 1
    resolution: Optional[int] = None  # None: the model's native size
    gradient_checkpointing: bool = False
    seed: int = 0
    # augmentation (one reference image)
    # None: on, unless the automatic caption names the framing. Both keep the reference's size and
    # position out of the identity tokens; the caption does it without views the model never saw
    # (toy world, fast schedule: identity 0/3 references with both, see docs/personalization.md).
    augment: Optional[bool] = None
    scale_range: tuple[float, float] = (0.65, 1.15)
    max_shift: float = 0.12  # fraction of the image side
    flip: bool = False  # characters are often asymmetric
    random_backgrounds: bool = False  # composite the subject onto random flat colours
    background_color: tuple[int, int, int] = (255, 255, 255)  # what transparent pixels become
    augment_bank: int = 16  # distinct augmented views, VAE-encoded once
    # previews
    preview_every: int = 0  # 0: no previews
    preview_prompt: str = "a sticker of <char>"
    preview_steps: int = 20
    # diagnostics and speed
    probe_attention: bool = True  # measure attention mass inside the mask before/after (recorded)
    log_every: int = 10  # read the losses back from the device every N steps (and at a phase's end)
    compile: bool = False  # torch.compile the U-Net step (CUDA only; falls back to eager on failure)

    def __post_init__(self) -> None:
        self._coerce_enums()

    def _coerce_enums(self) -> None:
        try:
            self.base = BaseMethod(self.base)
            self.schedule = Schedule(self.schedule)
            self.merge = Merge(self.merge)
        except ValueError as err:
            raise InputError(f"{err}; base is ti, lora or ti+lora, schedule is paper, fast or quality, "
                             f"merge is identity or identity+context.") from None

    # ------------------------------------------------------------------
    def _check_numbers(self) -> None:
        """Every number is a real, finite number of the right kind: a NaN weight would train a NaN concept
        and save it as a success."""
        for f in fields(self):
            value = getattr(self, f.name)
            values = value if isinstance(value, (tuple, list)) else (value,)
            for v in values:
                if isinstance(v, numbers.Real) and not isinstance(v, numbers.Integral) and not math.isfinite(v):
                    raise InputError(f"{f.name.replace('_', ' ').capitalize()} must be a finite number, not {v}.")
        for name in ("num_vectors", "batch_size", "seed", "augment_bank", "preview_every", "preview_steps",
                     "embedding_steps", "lora_steps", "lora_rank", "resolution", "attention_resolution",
                     "image_start_steps", "image_start_backdrops", "log_every", "edited_views_steps",
                     "edited_views_max_edits"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, numbers.Integral)):
                raise InputError(f"{name.replace('_', ' ').capitalize()} must be a whole number, not {v!r}.")
        for name in ("attention_weight", "attention_grad_ratio", "attention_outside_weight", "attention_coverage_weight", "attention_min_score",
                     "attention_keep_fraction", "background_weight", "edit_consistency_grad_ratio", "edited_views_strength", "edited_views_guidance",
                     "edited_views_rescale", "edited_views_max_shift", "context_hold_grad_ratio", "image_start_lr", "image_start_edit_share", "image_start_context_weight", "embedding_lr", "lora_lr",
                     "weight_decay", "max_shift", "subject_margin", "backdrop_share"):
            v = getattr(self, name, 0.0)
            if v is not None and (isinstance(v, bool) or not isinstance(v, numbers.Real)):
                raise InputError(f"{name.replace('_', ' ').capitalize()} must be a number, not {v!r}.")

    def validate(self) -> None:
        self._coerce_enums()
        self._check_numbers()
        if self.attention_grad_ratio is not None and not 0 < self.attention_grad_ratio <= 100:
            raise InputError("The attention gradient ratio must be above 0 and at most 100.")
        if not 0 <= self.background_weight <= 100:
            raise InputError("The background loss weight must be 0 to 100.")
        if not 0 <= self.image_start_steps <= 10_000:
            raise InputError("The image-start steps must be 0 to 10000.")
        if not 0 <= self.image_start_edit_share < 1:
            raise InputError("The image start's edited share must be 0 or more and below 1.")
        if not 0 <= self.image_start_context_weight <= 100:
            raise InputError("The image start's context weight must be 0 to 100.")
        if not 1 <= self.image_start_backdrops <= 32:
            raise InputError("The image start needs 1 to 32 backdrops.")
        self.image_start_edits = _attribute_names(self.image_start_edits, "The image start's edited attributes")
        self.edit_consistency_attributes = _attribute_names(self.edit_consistency_attributes,
                                                            "The edit-consistency attributes")
        self.edited_views_attributes = _attribute_names(self.edited_views_attributes, "The edited views' attributes")
        if not 0 < self.edited_views_strength <= 1:
            raise InputError("The edited views' strength must be above 0 and at most 1.")
        if not 1 <= self.edited_views_steps <= 200:
            raise InputError("The edited views' redraw needs 1 to 200 steps.")
        if not 1 <= self.edited_views_guidance <= 30:
            raise InputError("The edited views' guidance must be 1 to 30.")
        if not 0 <= self.edited_views_rescale <= 1:
            raise InputError("The edited views' guidance rescale must be 0 to 1.")
        if not 1 <= self.edited_views_max_edits <= 16:
            raise InputError("The edited views need 1 to 16 edits at most.")
        if not 0 <= self.edited_views_max_shift <= 255:
            raise InputError("The edited views' largest colour shift must be 0 to 255 levels.")
        if not 0 < self.edit_consistency_grad_ratio <= 100:
            raise InputError("The edit-consistency gradient ratio must be above 0 and at most 100.")
        if not 0 < self.context_hold_grad_ratio <= 100:
            raise InputError("The context hold's gradient ratio must be above 0 and at most 100.")
        if self.lora_loss_region not in LORA_LOSS_REGIONS:
            raise InputError(f"The LoRA phase's loss region is one of {', '.join(LORA_LOSS_REGIONS)}, "
                             f"not {self.lora_loss_region!r}.")
        if self.log_every < 1:
            raise InputError("The loss read-back interval must be at least 1 step.")
        if not 1 <= self.num_vectors <= 16:
            raise InputError(f"The number of identity vectors must be 1 to 16, not {self.num_vectors}.")
        for name in ("embedding_steps", "lora_steps"):
            value = getattr(self, name)
            if value is not None and not 0 <= value <= MAX_STEPS:
                raise InputError(f"{name.replace('_', ' ').capitalize()} must be 0 to {MAX_STEPS}, not {value}.")
        emb, lora = self.steps()
        if emb + lora < 1:
            raise InputError("Training needs at least 1 step; give a positive step count.")
        if self.attention_weight is not None and not 0 <= self.attention_weight <= MAX_LOSS_WEIGHT:
            raise InputError(f"The attention loss weight must be 0 to {MAX_LOSS_WEIGHT:g}, not {self.attention_weight}.")
        if not 0 <= self.attention_outside_weight <= MAX_LOSS_WEIGHT:
            raise InputError(f"The outside-the-mask attention weight must be 0 to {MAX_LOSS_WEIGHT:g}, "
                             f"not {self.attention_outside_weight}.")
        if not 0 <= self.attention_coverage_weight <= MAX_LOSS_WEIGHT:
            raise InputError(f"The attention coverage weight must be 0 to {MAX_LOSS_WEIGHT:g}, "
                             f"not {self.attention_coverage_weight}.")
        if self.attention_coverage_weight + self.attention_outside_weight <= 0:
            raise InputError("The attention loss needs its coverage or its outside term; "
                             "turn it off with --no-attention-loss instead.")
        if not 1 <= self.batch_size <= 64:
            raise InputError(f"The batch size must be 1 to 64, not {self.batch_size}.")
        if self.lora_rank is not None and not 1 <= self.lora_rank <= 1024:
            raise InputError(f"The LoRA rank must be 1 to 1024, not {self.lora_rank}.")
        for name in ("embedding_lr", "lora_lr"):
            if getattr(self, name) is not None and not 0 < getattr(self, name) < 1:
                raise InputError(f"{name.replace('_', ' ')} must be between 0 and 1.")
        if not 0 <= self.weight_decay <= 1:
            raise InputError(f"The weight decay must be 0 to 1, not {self.weight_decay}.")
        lo, hi = self.scale_range
        if not 0.1 <= lo <= hi <= 3:
            raise InputError("The augmentation scale range must satisfy 0.1 <= min <= max <= 3.")
        if not 0 <= self.max_shift <= 0.5:
            raise InputError(f"The augmentation shift must be 0 to 0.5 of the image side, not {self.max_shift}.")
        if not 0 <= self.backdrop_share <= 1:
            raise InputError(f"The backdrop share must be 0 to 1, not {self.backdrop_share}.")
        if not 0 <= self.subject_margin <= 0.5:
            raise InputError(f"The subject margin must be 0 to 0.5 of the latent side, not {self.subject_margin}.")
        if len(self.union_probs) != 3 or min(self.union_probs) < 0 or sum(self.union_probs) <= 0:
            raise InputError("Union sampling needs three non-negative probabilities.")
        if not 0 <= self.seed < 2**63:
            raise InputError(f"The seed must be a whole number from 0 to 2^63-1, not {self.seed}.")
        if not 1 <= self.augment_bank <= 1024:
            raise InputError(f"The augmentation bank must hold 1 to 1024 views, not {self.augment_bank}.")
        if self.preview_every < 0:
            raise InputError("Previews every K steps needs K of 0 (none) or more.")
        if not 1 <= self.preview_steps <= 1000:
            raise InputError(f"Preview steps must be 1 to 1000, not {self.preview_steps}.")
        if self.attention_resolution is not None and not 1 <= self.attention_resolution <= 256:
            raise InputError(f"The attention map side must be 1 to 256, not {self.attention_resolution}.")
        if self.resolution is not None and self.resolution > 4096:
            raise InputError(f"The training resolution must be at most 4096, not {self.resolution}.")
        if self.resolution is not None and (self.resolution < 32 or self.resolution % 8):
            raise InputError(f"The training resolution must be a multiple of 8 of at least 32, not {self.resolution}.")
        if self.class_word is not None and not self.class_word.strip():
            self.class_word = None
        if self.caption is not None and not self.caption.strip():
            self.caption = None
        if self.caption is not None and ("{" in self.caption or "}" in self.caption or len(self.caption) > 300):
            raise InputError("A caption is plain words (at most 300 characters), like 'happy, waving, on a beach'.")
        if self.identity_token == self.context_token or not self.identity_token.strip():
            raise InputError("The identity and context tokens must be distinct, non-empty strings.")
        if self.identity_token.startswith(self.context_token) or self.context_token.startswith(self.identity_token):
            raise InputError("Neither token name may be a prefix of the other (diffusers expands tokens by prefix).")
        if self.prompt_template is not None:
            if "{subject}" not in self.prompt_template:
                raise InputError("The prompt template must contain {subject}.")
            if "{background}" in self.prompt_template and not self.background_words.strip():
                raise InputError("A prompt template with {background} needs background words (e.g. 'orange').")
            try:
                self.prompt_template.format(subject="x", background="y")
            except (KeyError, IndexError, ValueError):
                raise InputError("The prompt template may only use {subject} and {background}.") from None
        from .layer_restriction import PRESET_NAMES

        if self.layer_preset is not None and self.layer_preset not in PRESET_NAMES:
            raise InputError(f"Unknown layer preset '{self.layer_preset}'; choose one of {', '.join(PRESET_NAMES)}.")

    @property
    def uses_context_hold(self) -> bool:
        """The context hold as set, else as the schedule has it (CONTEXT_HOLD_BY_SCHEDULE)."""
        if self.context_hold is not None:
            return bool(self.context_hold)
        return CONTEXT_HOLD_BY_SCHEDULE[Schedule(self.schedule)]

    @property
    def uses_edited_views(self) -> bool:
        """The edited views as set, else as the schedule has it (EDITED_VIEWS_BY_SCHEDULE)."""
        if self.edited_views is not None:
            return bool(self.edited_views)
        return EDITED_VIEWS_BY_SCHEDULE[Schedule(self.schedule)]

    @property
    def uses_image_start(self) -> bool:
        """The image start as set, else as the schedule has it (IMAGE_START_BY_SCHEDULE)."""
        if self.image_start is not None:
            return bool(self.image_start)
        return IMAGE_START_BY_SCHEDULE[Schedule(self.schedule)]

    def steps(self) -> tuple[int, int]:
        """(embedding steps, lora steps) after the schedule and the overrides."""
        emb, lora = SCHEDULE_STEPS[Schedule(self.schedule)][BaseMethod(self.base)]
        if self.embedding_steps is not None and self.base.trains_embeddings:
            emb = self.embedding_steps
        if self.lora_steps is not None and self.base.trains_lora:
            lora = self.lora_steps
        return emb, lora

    def with_total_steps(self, total: int) -> "PersonalizeConfig":
        """Split a total step count over the phases in the schedule's proportions (CLI --steps)."""
        emb, lora = SCHEDULE_STEPS[Schedule(self.schedule)][BaseMethod(self.base)]
        if emb and lora:
            first = round(total * emb / (emb + lora))
            return replace(self, embedding_steps=first, lora_steps=total - first)
        return replace(self, embedding_steps=total if emb else 0, lora_steps=total if lora else 0)

    def resolve(self, arch: Architecture) -> "PersonalizeConfig":
        """Concrete per-architecture choices for everything left as None."""
        from .layer_restriction import default_preset

        self.validate()
        emb, lora = self.steps()
        emb_lr, lora_lr = SCHEDULE_LR[Schedule(self.schedule)]
        return replace(
            self,
            embedding_steps=emb,
            lora_steps=lora,
            embedding_lr=self.embedding_lr or emb_lr,
            lora_lr=self.lora_lr or lora_lr,
            attention_grad_ratio=(self.attention_grad_ratio if self.attention_grad_ratio is not None
                                  else ATTENTION_GRAD_RATIO_BY_SCHEDULE[Schedule(self.schedule)]),
            lora_rank=self.lora_rank or (64 if arch.is_xl else 4),
            layer_preset=(self.layer_preset or default_preset(arch)) if self.layer_restriction else "all",
        )

    def run_settings(self, arch: Architecture) -> dict[str, Any]:
        """Every setting as a run on `arch` uses it, the switches left to the schedule included: what
        names a learned concept, so a concept learned before a default changed is not taken for one
        learned after (the concept cache's key)."""
        data = self.resolve(arch).to_dict()
        data.update(image_start=self.uses_image_start, context_hold=self.uses_context_hold,
                    edited_views=self.uses_edited_views)
        return data

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["base"] = BaseMethod(self.base).value
        data["schedule"] = Schedule(self.schedule).value
        data["merge"] = Merge(self.merge).value
        for key, value in data.items():
            if isinstance(value, tuple):
                data[key] = list(value)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "PersonalizeConfig":
        known = {f.name: f for f in fields(cls)}
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            if key not in known:
                continue  # written by a newer version; ignore
            if isinstance(value, list) and isinstance(getattr(cls(), key, None), tuple):
                value = tuple(value)
            kwargs[key] = value
        return cls(**kwargs)


SEAL_SWITCHES = ("image_start", "attention_loss", "background_loss", "split_merge", "layer_restriction", "context_hold",
                 "edited_views")
"""The switches of SEAL's parts (the paper's method section, the context hold that keeps its tokens
from rewriting the caption's words, and the edited views that show them the character with other
faces): the baseline turns them all off, an ablation one of them."""


def baseline_config(**overrides: Any) -> PersonalizeConfig:
    """Plain test-time fine-tuning: every SEAL part off (the ablation baseline).

    The identity tokens start from the class word, as in Textual Inversion and DreamBooth; the
    automatic caption stays as the user gets it, since it is the training prompt of any run (it has
    its own switch for ablation)."""
    settings = {name: False for name in SEAL_SWITCHES}
    settings.update(overrides)
    return PersonalizeConfig(**settings)


__all__ = ["BaseMethod", "Merge", "Schedule", "PersonalizeConfig", "ATTENTION_GRAD_RATIO_BY_SCHEDULE",
           "CONTEXT_HOLD_BY_SCHEDULE", "EDITED_VIEWS_BY_SCHEDULE", "IMAGE_START_BY_SCHEDULE", "SCHEDULE_LR", "SCHEDULE_STEPS", "baseline_config"]
