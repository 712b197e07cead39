"""A learned concept on disk, and putting it back into a pipeline.

A concept is a folder (DESIGN.md), written atomically through `staged_dir`:

* `concept.json`: format version, base model id and architecture, the tokens
  and their roles (identity / context), class word, every setting, seed, steps,
  timings, attention layers, LoRA targets;
* `learned_embeds.safetensors`: the identity tokens only, in diffusers'
  textual-inversion format: `{token: [n, dim]}` (SD1.x/2.x) or
  `{"clip_l": [n, 768], "clip_g": [n, 1280]}` (SDXL);
* `context_embeds.safetensors`: the context token (split-merge), same format;
  generation loads it only when the concept's merge is "identity+context";
* `pytorch_lora_weights.safetensors` when LoRA was trained (diffusers format);
* `reference.png`, `mask.png`.

`apply_concept` uses diffusers' own loaders (`load_textual_inversion`,
`load_lora_weights`), so a plain diffusers pipeline loads it the same way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from .errors import InputError

CONCEPT_FORMAT_VERSION = 1
CONCEPT_JSON = "concept.json"
EMBEDS_FILE = "learned_embeds.safetensors"
CONTEXT_EMBEDS_FILE = "context_embeds.safetensors"
LORA_FILE = "pytorch_lora_weights.safetensors"
REFERENCE_FILE = "reference.png"
MASK_FILE = "mask.png"


@dataclass
class Concept:
    path: Optional[Path]
    meta: dict

    @property
    def identity_token(self) -> str:
        return self.meta["tokens"]["identity"]["token"]

    @property
    def identity_tokens(self) -> list[str]:
        return list(self.meta["tokens"]["identity"]["strings"])

    @property
    def context_token(self) -> Optional[str]:
        ctx = self.meta["tokens"].get("context")
        return ctx["token"] if ctx else None

    @property
    def class_word(self) -> str:
        return self.meta.get("class_word") or ""

    @property
    def architecture(self) -> str:
        return self.meta["base_model"]["architecture"]

    @property
    def has_lora(self) -> bool:
        return bool(self.meta.get("files", {}).get("lora"))

    @property
    def merge(self) -> str:
        """What generation names after split-merge: "identity" (default) or "identity+context"."""
        merge = (self.meta.get("generation") or {}).get("merge", "identity")
        return merge if self.context_token else "identity"

    @property
    def identity_string(self) -> str:
        """What replaces `<char>` in a prompt: the identity token (diffusers expands `tok` to
        `tok tok_1 ...`), the context token when the merge names it, then the class word."""
        tokens = self.identity_token + (f" {self.context_token}" if self.merge == "identity+context" else "")
        return f"{tokens} {self.class_word}".strip()


def write_concept(out_dir: Path, meta: dict, *, identity_embeds: dict, context_embeds: Optional[dict],
                  lora_writer: Any, reference: Any, mask: Any, overwrite: bool = False) -> Concept:
    """Assemble the folder in a hidden sibling and rename it into place when complete.

    `lora_writer(stage_dir)` writes `pytorch_lora_weights.safetensors` (or is None).
    """
    from safetensors.torch import save_file

    from .atomic import atomic_write_json, staged_dir

    out_dir = Path(out_dir)
    files = {"embeddings": EMBEDS_FILE, "reference": REFERENCE_FILE, "mask": MASK_FILE}
    with staged_dir(out_dir, overwrite=overwrite, markers=(CONCEPT_JSON,)) as stage:
        save_file({k: v.detach().float().cpu().contiguous() for k, v in identity_embeds.items()},
                  str(stage / EMBEDS_FILE))
        if context_embeds:
            save_file({k: v.detach().float().cpu().contiguous() for k, v in context_embeds.items()},
                      str(stage / CONTEXT_EMBEDS_FILE))
            files["context_embeddings"] = CONTEXT_EMBEDS_FILE
        if lora_writer is not None:
            lora_writer(stage)
            if not (stage / LORA_FILE).is_file():
                raise RuntimeError("The LoRA weights were not written.")
            files["lora"] = LORA_FILE
        reference.save(stage / REFERENCE_FILE)
        mask.convert("L").save(stage / MASK_FILE)
        meta = {**meta, "files": files}
        atomic_write_json(stage / CONCEPT_JSON, meta)
    return Concept(path=out_dir, meta=meta)


def load_concept(folder: str | Path) -> Concept:
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder} is not a concept folder (it does not exist).")
    meta_path = folder / CONCEPT_JSON
    if not meta_path.is_file():
        raise InputError(f"{folder} is not a concept folder ({CONCEPT_JSON} is missing).")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise InputError(f"{meta_path} is not valid JSON ({err}).") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("format_version"), int):
        raise InputError(f"{folder} is not a SEAL concept ({CONCEPT_JSON} has no format version).")
    version = meta["format_version"]
    if version > CONCEPT_FORMAT_VERSION:
        raise InputError(f"{folder} has concept format {version!r}; this version of SEAL reads up to "
                         f"{CONCEPT_FORMAT_VERSION}, update the application.")
    try:
        meta["tokens"]["identity"]["token"]
        meta["base_model"]["architecture"]
    except (KeyError, TypeError):
        raise InputError(f"{meta_path} lacks the identity token or the base architecture.") from None
    for key, name in (meta.get("files") or {}).items():
        if not (folder / name).is_file():
            raise InputError(f"{folder} is incomplete: {name} is missing.")
    if not (folder / EMBEDS_FILE).is_file():
        raise InputError(f"{folder} is incomplete: {EMBEDS_FILE} is missing.")
    for name in sorted({EMBEDS_FILE, *[n for n in (meta.get("files") or {}).values()
                                       if str(n).endswith(".safetensors")]}):
        _check_safetensors(folder / name, values=name in (EMBEDS_FILE, CONTEXT_EMBEDS_FILE))
    return Concept(path=folder, meta=meta)


def _check_safetensors(path: Path, *, values: bool) -> None:
    """Refuse a truncated or damaged weights file with one sentence (safetensors checks that the header
    covers the file exactly); for the small embedding files also refuse non-finite numbers (a NaN concept)."""
    import numpy as np
    from safetensors import safe_open

    damaged = (f"{path} is damaged (truncated or not a safetensors file); learn the character again or restore "
               f"the concept folder from a copy.")
    try:
        with safe_open(str(path), framework="np") as fh:
            keys = list(fh.keys())
            if not keys:
                raise InputError(f"{path} holds no tensors; learn the character again.")
            if values:
                for key in keys:
                    try:
                        array = fh.get_tensor(key)
                    except (TypeError, ValueError):  # a dtype numpy lacks (bf16): header checked, values not
                        continue
                    if not np.all(np.isfinite(array)):
                        raise InputError(f"{path} holds non-finite numbers (NaN or infinity), so the concept is "
                                         f"unusable; learn the character again.")
    except InputError:
        raise
    except OSError as err:
        from .fs_errors import translate

        raise translate(err, path, verb="read") from None
    except Exception:  # safetensors' own error type (SafetensorError) and malformed-header errors
        raise InputError(damaged) from None


def _check_arch(model: Any, concept: Concept) -> None:
    arch = model.arch.value
    theirs = concept.architecture
    if arch != theirs:
        raise InputError(f"This concept was learned on an {theirs.upper()} model and cannot be used with an "
                         f"{arch.upper()} model; load a model of the same family.")


def apply_concept(model: Any, concept: Concept, *, adapter_name: Optional[str] = None) -> str:
    """Load the identity embeddings (and LoRA) into `model.pipe`; return the identity string for `<char>`.

    Applying the same concept twice to one model is a no-op the second time.
    """
    from safetensors.torch import load_file

    if concept.path is None:
        raise InputError("This concept has not been saved to a folder.")
    _check_arch(model, concept)
    pipe = model.pipe
    applied = model.extras.setdefault("applied_concepts", {})
    key = str(Path(concept.path).resolve())
    if key in applied:
        return applied[key]
    token = concept.identity_token
    if token in pipe.tokenizer.get_vocab():
        raise InputError(f"The model already has a token named {token}; load the model afresh before applying "
                         f"another concept with the same token.")
    try:
        embeds = load_file(str(Path(concept.path) / EMBEDS_FILE))
    except Exception:  # SafetensorError: truncated or not safetensors
        raise InputError(f"{Path(concept.path) / EMBEDS_FILE} is damaged (truncated or not a safetensors file); "
                         f"learn the character again.") from None
    try:
        if model.arch.is_xl:
            if "clip_l" not in embeds or "clip_g" not in embeds:
                raise InputError(f"{concept.path} holds no SDXL embeddings (clip_l and clip_g).")
            pipe.load_textual_inversion(embeds["clip_l"], token=token, text_encoder=pipe.text_encoder,
                                        tokenizer=pipe.tokenizer)
            pipe.load_textual_inversion(embeds["clip_g"], token=token, text_encoder=pipe.text_encoder_2,
                                        tokenizer=pipe.tokenizer_2)
        else:
            pipe.load_textual_inversion(str(Path(concept.path) / EMBEDS_FILE), token=token)
        if concept.merge == "identity+context":
            _load_context(pipe, model.arch.is_xl, concept)
        if concept.has_lora:
            name = adapter_name or _free_adapter_name(pipe.unet, "seal_concept")
            pipe.load_lora_weights(str(concept.path), weight_name=LORA_FILE, adapter_name=name)
    except ValueError as err:
        raise InputError(f"The concept in {concept.path} does not fit this model: "
                         f"{' '.join(str(err).split())[:200]}") from None
    except (OSError, RuntimeError) as err:  # a file damaged after load_concept checked it
        raise InputError(f"The concept in {concept.path} cannot be loaded ({' '.join(str(err).split())[:160]}); "
                         f"learn the character again.") from None
    identity = concept.identity_string
    applied[key] = identity
    model.extras["concept"] = {"path": key, "identity": identity}
    return identity


def _load_context(pipe: Any, xl: bool, concept: Concept) -> None:
    """The merge "identity+context": the context token goes into the text encoder(s) too."""
    from safetensors.torch import load_file

    path = Path(concept.path) / CONTEXT_EMBEDS_FILE
    if not path.is_file():
        raise InputError(f"{concept.path} asks for the context token at generation but has no {CONTEXT_EMBEDS_FILE}.")
    token = concept.context_token
    if xl:
        embeds = load_file(str(path))
        pipe.load_textual_inversion(embeds["clip_l"], token=token, text_encoder=pipe.text_encoder,
                                    tokenizer=pipe.tokenizer)
        pipe.load_textual_inversion(embeds["clip_g"], token=token, text_encoder=pipe.text_encoder_2,
                                    tokenizer=pipe.tokenizer_2)
    else:
        pipe.load_textual_inversion(str(path), token=token)


def _free_adapter_name(unet: Any, base: str) -> str:
    existing = set(getattr(unet, "peft_config", {}) or {})
    name, i = base, 1
    while name in existing:
        i += 1
        name = f"{base}_{i}"
    return name
