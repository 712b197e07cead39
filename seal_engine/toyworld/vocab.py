"""A word-level vocabulary that loads in transformers' CLIPTokenizer.

The toy world's prompts use ~60 words, so a byte-pair vocabulary learned from text would
be silly; but the engine (and `load_textual_inversion`) expect a real CLIPTokenizer. We
therefore write CLIP-format `vocab.json` + `merges.txt` whose merges build each word into
one token. Merges are derived by simulating CLIP's BPE: for each word, while it still
splits, append the merge of its first two pieces. A merge appended last has the lowest
priority, so it never changes how an earlier word tokenizes (see `_bpe`).
"""

from __future__ import annotations

import json
import string
from pathlib import Path

from .attributes import all_words

BOS, EOS = "<|startoftext|>", "<|endoftext|>"
MAX_LENGTH = 77


def _bpe(word: str, ranks: dict[tuple[str, str], int]) -> list[str]:
    """CLIP's BPE on one lower-case word (last symbol carries '</w>')."""
    parts = list(word[:-1]) + [word[-1] + "</w>"]
    while len(parts) > 1:
        pairs = [(ranks.get((a, b), 1 << 30), i) for i, (a, b) in enumerate(zip(parts, parts[1:]))]
        best, _ = min(pairs)
        if best == 1 << 30:
            break
        a, b = next((parts[i], parts[i + 1]) for r, i in pairs if r == best)
        merged: list[str] = []
        i = 0
        while i < len(parts):
            if i < len(parts) - 1 and parts[i] == a and parts[i + 1] == b:
                merged.append(a + b)
                i += 2
            else:
                merged.append(parts[i])
                i += 1
        parts = merged
    return parts


def build_vocab(words: list[str] | None = None) -> tuple[dict[str, int], list[tuple[str, str]]]:
    words = sorted(set(words or all_words()))
    merges: list[tuple[str, str]] = []
    ranks: dict[tuple[str, str], int] = {}
    for w in words:
        while True:
            parts = _bpe(w, ranks)
            if len(parts) == 1:
                break
            pair = (parts[0], parts[1])
            ranks[pair] = len(merges)
            merges.append(pair)
    symbols: list[str] = []
    for ch in string.ascii_lowercase + string.digits + "_<>,.'-":
        symbols += [ch, ch + "</w>"]
    for a, b in merges:
        symbols.append(a + b)
    vocab: dict[str, int] = {}
    for tok in symbols + [BOS, EOS]:
        vocab.setdefault(tok, len(vocab))
    return vocab, merges


def save_tokenizer_files(folder: Path, words: list[str] | None = None) -> Path:
    """Write vocab.json, merges.txt and the configs a CLIPTokenizer folder needs."""
    folder.mkdir(parents=True, exist_ok=True)
    vocab, merges = build_vocab(words)
    (folder / "vocab.json").write_text(json.dumps(vocab, indent=0), encoding="utf-8")
    (folder / "merges.txt").write_text(
        "#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges), encoding="utf-8"
    )
    (folder / "special_tokens_map.json").write_text(json.dumps(
        {"bos_token": BOS, "eos_token": EOS, "unk_token": EOS, "pad_token": EOS}), encoding="utf-8")
    (folder / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "CLIPTokenizer", "model_max_length": MAX_LENGTH,
        "bos_token": BOS, "eos_token": EOS, "unk_token": EOS, "pad_token": EOS,
        "do_lower_case": True, "clean_up_tokenization_spaces": True,
    }, indent=1), encoding="utf-8")
    return folder


def load_tokenizer(folder: Path):
    """CLIPTokenizer from our files; model_max_length set explicitly (transformers 5 needs it)."""
    from transformers import CLIPTokenizer

    return CLIPTokenizer.from_pretrained(str(folder), model_max_length=MAX_LENGTH)


def vocab_size() -> int:
    return len(build_vocab()[0])
