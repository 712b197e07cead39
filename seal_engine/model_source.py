"""Where a model comes from: a hub id, a local diffusers folder or a single checkpoint file.

Hub downloads go through huggingface_hub into our own cache folder (under the
user data dir) so the app can tell whether the default model is present and how
much it downloaded. Pickle checkpoints can run arbitrary code when unpickled,
so they are refused unless the user opts in, and then read weights-only.
"""

from __future__ import annotations

import enum
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from .errors import InputError, ModelError, OfflineError
from .paths import models_cache_dir
from .progress import CancelToken, ProgressCallback, ProgressEvent, no_progress

DEFAULT_MODEL = "stable-diffusion-v1-5/stable-diffusion-v1-5"
"""The maintained mirror of Stable Diffusion 1.5 (the original runwayml repo was removed)."""

DEFAULT_MODEL_DOWNLOAD_GB = 4.3
"""What we fetch for the default model on CPU: fp32 safetensors of the UNet (3.44 GB), text encoder
(0.49 GB) and VAE (0.33 GB), plus configs and tokenizer; no safety checker, no EMA or .ckpt copies."""

DEFAULT_MODEL_FP16_DOWNLOAD_GB = 2.1
"""The same files in the repo's fp16 variant (UNet 1.72 GB, text encoder 0.25 GB, VAE 0.17 GB), fetched
when the model will run in half precision (a GPU): fp32 weights would only be cast down after loading."""

FP16_VARIANT = "fp16"

SAFE_SUFFIXES = (".safetensors",)
PICKLE_SUFFIXES = (".ckpt", ".bin", ".pt", ".pth")
HUB_ALLOW_PATTERNS = [
    "model_index.json",
    "scheduler/*",
    "tokenizer*/*",
    "text_encoder*/config.json",
    "text_encoder*/model.safetensors",
    "unet/config.json",
    "unet/diffusion_pytorch_model.safetensors",
    "vae/config.json",
    "vae/diffusion_pytorch_model.safetensors",
]


def hub_allow_patterns(variant: Optional[str] = None) -> list[str]:
    """The files to fetch: configs and tokenizer, plus the weights of one variant (None: the full-precision ones)."""
    if not variant:
        return list(HUB_ALLOW_PATTERNS)
    return [p.replace(".safetensors", f".{variant}.safetensors") if p.endswith(".safetensors") else p
            for p in HUB_ALLOW_PATTERNS]


def download_size_gb(variant: Optional[str] = None) -> float:
    """What downloading the default model costs in this variant (the figure the app and CLI show)."""
    return DEFAULT_MODEL_FP16_DOWNLOAD_GB if variant == FP16_VARIANT else DEFAULT_MODEL_DOWNLOAD_GB


def preferred_variant(device: str = "auto", dtype: str = "auto") -> Optional[str]:
    """'fp16' when the model will run in half precision (fp16 or bf16: a GPU by default), else None.

    Half-precision weights are half the download and the same numbers once cast to the run's dtype;
    on CPU (fp32) they would lose precision, so CPU users keep the fp32 files. An unusable device
    choice (e.g. cuda without a GPU) answers None: loading will report it."""
    from .devices import select_device, select_dtype

    try:
        chosen = select_device(device)
        half = select_dtype(chosen, dtype)
    except InputError:
        return None
    return FP16_VARIANT if str(half) in ("torch.float16", "torch.bfloat16") else None
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


class SourceKind(str, enum.Enum):
    HUB = "hub"
    FOLDER = "folder"
    SINGLE_FILE = "single_file"
    PICKLE_FILE = "pickle_file"


@dataclass(frozen=True)
class ResolvedModel:
    spec: str  # what the user typed
    kind: SourceKind
    path: Path  # a local folder (hub snapshot or diffusers folder) or a checkpoint file
    repo_id: Optional[str] = None
    variant: Optional[str] = None  # the weight files to load ("fp16": *.fp16.safetensors); hub snapshots only


def classify(spec: str | os.PathLike) -> SourceKind:
    text = str(spec).strip()
    if not text:
        raise InputError("No model given; pass a hub id, a diffusers folder or a .safetensors file.")
    path = Path(text).expanduser()
    if path.is_dir():
        return SourceKind.FOLDER
    if path.is_file():
        suffix = path.suffix.lower()
        if suffix in SAFE_SUFFIXES:
            return SourceKind.SINGLE_FILE
        if suffix in PICKLE_SUFFIXES:
            return SourceKind.PICKLE_FILE
        raise InputError(f"{path} is not a model: expected a diffusers folder or a .safetensors checkpoint.")
    looks_like_path = text.startswith((".", "/", "~")) or "\\" in text \
        or Path(text).suffix.lower() in SAFE_SUFFIXES + PICKLE_SUFFIXES
    if looks_like_path or not _REPO_ID.match(text):
        raise InputError(f"Model '{text}' not found: no such folder or file, and it is not a hub id like 'org/name'.")
    return SourceKind.HUB


def hub_offline(explicit: bool = False) -> bool:
    """True when the user (or HF_HUB_OFFLINE) says never to contact the hub."""
    return explicit or os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def _hub_offline_message(repo_id: str) -> str:
    return (
        f"Model '{repo_id}' is not in the local cache and the model hub cannot be reached; "
        "connect once to download it, pass --model with a local folder or .safetensors file, "
        "or try `seal tiny-model DIR` for an offline dry run."
    )


def is_cached(repo_id: str = DEFAULT_MODEL, cache_dir: Optional[Path] = None, variant: Optional[str] = None) -> bool:
    """True when every file we need for `repo_id` is already in the cache.

    With variant 'fp16' the full-precision files also count: a GPU run can use either."""
    return _cached(repo_id, cache_dir or models_cache_dir(), variant) is not None


def _lookup_order(variant: Optional[str]) -> list[Optional[str]]:
    return [variant, None] if variant else [None]


def _cached(repo_id: str, cache_dir: Path, variant: Optional[str]) -> Optional[tuple[Path, Optional[str]]]:
    for candidate in _lookup_order(variant):
        try:
            return _snapshot(repo_id, cache_dir, local_only=True, variant=candidate), candidate
        except Exception:
            continue
    return None


def _snapshot(repo_id: str, cache_dir: Path, *, local_only: bool, tqdm_class=None,
              variant: Optional[str] = None) -> Path:
    from huggingface_hub import snapshot_download

    kwargs = dict(repo_id=repo_id, cache_dir=str(cache_dir), allow_patterns=hub_allow_patterns(variant),
                  local_files_only=local_only)
    if tqdm_class is not None:
        kwargs["tqdm_class"] = tqdm_class
    folder = Path(snapshot_download(**kwargs))
    missing = missing_weights(folder, variant)
    if missing:
        raise FileNotFoundError(folder / missing[0])
    return folder


WEIGHTED_COMPONENTS = ("unet", "vae", "text_encoder", "text_encoder_2")


def _is_variant_file(name: str, variant: Optional[str]) -> bool:
    """`model.fp16.safetensors` is the fp16 variant; `model.safetensors` the plain weights."""
    stem = name[: -len(".safetensors")]
    return stem.endswith(f".{variant}") if variant else "." not in stem


def missing_weights(folder: Path, variant: Optional[str] = None) -> list[str]:
    """What a pipeline folder lacks to load: model_index.json, or a component's weights (of `variant`).

    A download killed half-way leaves a snapshot with configs but no weights;
    it must not pass for a cached model. A snapshot holding only the fp16 files
    must not pass for the fp32 model either (nor the reverse).
    """
    import json

    index = folder / "model_index.json"
    if not index.is_file():
        return ["model_index.json"]
    try:
        components = json.loads(index.read_text())
    except (OSError, ValueError):
        return ["model_index.json"]
    missing = []
    for name in WEIGHTED_COMPONENTS:
        spec = components.get(name)
        if not isinstance(spec, list) or spec[0] is None:
            continue
        if not any(_is_variant_file(p.name, variant) for p in (folder / name).glob("*.safetensors")):
            missing.append(f"{name}/*{'.' + variant if variant else ''}.safetensors")
    return missing


class _NullWriter:
    """Where the forwarding bars draw: nowhere (our callback is the only progress display)."""

    def write(self, _text: str) -> None:
        pass

    def flush(self) -> None:
        pass


def _progress_tqdm(progress: ProgressCallback, cancel: Optional[CancelToken], label: str = ""):
    """A tqdm class that forwards huggingface_hub's download progress to our callback.

    snapshot_download (huggingface_hub 2.x) opens several bars with this class at once: a files
    counter and two byte counters (bytes written, bytes received). Forwarding them all would make
    the count jump between them, so only the first byte counter that moves is forwarded (the files
    counter until then), repeats are dropped, and nothing is drawn on stderr: our callback is the
    one progress display."""
    from tqdm import tqdm  # the plain class: nothing is drawn, so no notebook widgets either

    state: dict = {"bar": None, "last": None}

    class _Forward(tqdm):  # type: ignore[misc]
        def __init__(self, *args, **kwargs):
            kwargs["file"] = _NullWriter()
            kwargs["disable"] = False  # a disabled tqdm stops counting
            kwargs.pop("name", None)
            super().__init__(*args, **kwargs)

        def update(self, n=1):  # noqa: D401 - tqdm API
            if cancel is not None:
                cancel.raise_if_cancelled()
            out = super().update(n)
            if state["bar"] is None or (self.unit == "B" and state["bar"].unit != "B"):
                state["bar"] = self
            if state["bar"] is self:
                step, total = int(self.n), int(self.total or 0)
                if (step, total) != state["last"]:
                    state["last"] = (step, total)
                    progress(ProgressEvent("download", step, total, message=label or str(self.desc or "")))
            return out

    return _Forward


_UNET_PREFIXES = ("model.diffusion_model.", "unet.")


def check_checkpoint_file(path: Path) -> None:
    """Read only the safetensors header (no weights) and refuse, in one sentence, a damaged file or a
    .safetensors that is not a whole Stable Diffusion checkpoint (a LoRA, embeddings, a VAE...).
    Without this, diffusers guesses "SD1.x" for any unknown key set and the user is told that an SD1.x
    checkpoint's configuration files are missing."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="np") as fh:
            keys = list(fh.keys())
    except OSError as err:
        from .fs_errors import translate

        raise translate(err, path, verb="read") from None
    except Exception:  # SafetensorError: truncated, or not safetensors at all
        raise ModelError(f"{path.name} is damaged or not a safetensors file (its header cannot be read); "
                         f"download it again.") from None
    if any(k.startswith(_UNET_PREFIXES) for k in keys):
        return
    lowered = " ".join(keys[:200]).lower()
    if "lora" in lowered:
        what = "a LoRA file"
    elif keys and len(keys) <= 4 and not any("." in k for k in keys):
        what = "textual-inversion embeddings"
    elif any(k.startswith(("encoder.", "decoder.", "first_stage_model.")) for k in keys):
        what = "a VAE"
    else:
        what = f"{len(keys)} tensors without U-Net weights"
    raise ModelError(f"{path.name} is not a Stable Diffusion checkpoint (it holds {what}); pass a full SD1.x, "
                     f"SD2.x or SDXL checkpoint or a diffusers model folder with --model.")


def resolve(
    spec: str | os.PathLike,
    *,
    allow_pickle: bool = False,
    offline: bool = False,
    cache_dir: Optional[Path] = None,
    progress: ProgressCallback = no_progress,
    cancel: Optional[CancelToken] = None,
    variant: Optional[str] = None,
) -> ResolvedModel:
    """Turn what the user typed into a local path, downloading a hub model once if needed.

    `variant` ('fp16', see `preferred_variant`) asks for the half-precision weight files of a hub
    model: a cached copy of them, else a cached full-precision copy, else a download of the
    variant; a repo that has no such files is downloaded in full precision. The result says which
    files to load (`ResolvedModel.variant`). Folders and single files are used as they are."""
    kind = classify(spec)
    text = str(spec).strip()
    if kind is SourceKind.FOLDER:
        path = Path(text).expanduser().resolve()
        if not (path / "model_index.json").is_file():
            raise ModelError(f"{path} is not a diffusers model folder (model_index.json is missing).")
        return ResolvedModel(text, kind, path)
    if kind is SourceKind.SINGLE_FILE:
        path = Path(text).expanduser().resolve()
        check_checkpoint_file(path)
        return ResolvedModel(text, kind, path)
    if kind is SourceKind.PICKLE_FILE:
        if not allow_pickle:
            raise ModelError(
                f"{Path(text).name} is a pickle checkpoint, which can run arbitrary code when opened; "
                "convert it to .safetensors, or pass --allow-pickle if you trust its source "
                "(it is then read with torch's weights-only mode)."
            )
        return ResolvedModel(text, kind, Path(text).expanduser().resolve())

    cache = Path(cache_dir) if cache_dir else models_cache_dir()
    found = _cached(text, cache, variant)
    if found is not None:
        return ResolvedModel(text, kind, found[0], repo_id=text, variant=found[1])
    if hub_offline(offline):
        raise OfflineError(_hub_offline_message(text))
    label = f"Downloading {text}" + (f" ({variant} weights)" if variant else "")
    progress(ProgressEvent("download", 0, 0, message=f"{label} into {cache}"))
    try:
        bars = _progress_tqdm(progress, cancel, label)
        folder = None
        if variant:
            try:
                folder = _snapshot(text, cache, local_only=False, tqdm_class=bars, variant=variant)
            except FileNotFoundError:  # the repo has no such variant: fall back to the full-precision files
                variant = None
                bars = _progress_tqdm(progress, cancel, f"Downloading {text}")
        if folder is None:
            folder = _snapshot(text, cache, local_only=False, tqdm_class=bars)
    except Exception as err:  # huggingface_hub raises many transport/lookup types
        name = type(err).__name__
        if name in ("RepositoryNotFoundError", "RevisionNotFoundError"):
            raise ModelError(f"The hub has no model '{text}' (or it is private); check the id.") from err
        if name == "GatedRepoError":
            raise ModelError(
                f"'{text}' is gated: accept its licence on the hub and log in with `hf auth login`."
            ) from err
        if err.__class__.__name__ == "Cancelled":
            raise
        raise OfflineError(_hub_offline_message(text)) from err
    return ResolvedModel(text, kind, folder, repo_id=text, variant=variant)
