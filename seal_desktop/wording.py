"""The engine's messages are written for the command line (`--model`, `seal tiny-model`,
environment variables); the app says the same thing in terms of what to click. Qt-free,
so job errors are stored in the app's words too."""

from __future__ import annotations

import re

# command-line advice in engine messages -> the same advice in the app's words
_CLI_WORDS = [
    (r",? ?pass --model with a local folder or \.safetensors file,? ?(or try `seal tiny-model DIR` for an offline "
     r"dry run)?", ", or choose a local model folder or .safetensors file in Settings"),
    (r",? ?or try `seal tiny-model DIR` for an offline dry run", ""),
    (r"pass --allow-pickle if you trust its source", "turn on 'Allow pickle checkpoints' in Settings if you "
                                                      "trust its source"),
    (r"pass --config with a diffusers folder of the same architecture", "use a diffusers model folder of the "
                                                                         "same architecture in Settings"),
    (r"pass --sam-checkpoint PATH or set SEAL_SAM_CHECKPOINT\.?", "choose a segment-anything checkpoint in "
                                                                 "Settings."),
    (r"use --method auto or fallback", "choose the mask method auto or fallback"),
    (r"or use --method fallback", "or choose the mask method fallback"),
    (r"give a mask file with --mask", "load a mask file on the Character tab (Load mask file…)"),
    (r"run `pip install seal-sticker-studio\[sam\]`", "install the segment-anything add-on"),
    (r"lower the image size or batch", "set a smaller image size in Settings"),
    (r"--(\w[\w-]*)", r"the \1 setting"),
]


def in_app_words(message: str) -> str:
    for pattern, replacement in _CLI_WORDS:
        message = re.sub(pattern, replacement, message)
    return re.sub(r"\s+\.(\s|$)", r".\1", message).replace("..", ".")
