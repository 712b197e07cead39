"""`seal doctor`, `seal tiny-model`, `seal generate` and their error paths (one line, exit 2)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from seal_engine.cli import main


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err and "\n" not in err and "Traceback" not in err, err
    return err


def test_doctor(capsys):
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "torch" in out and "diffusers" in out and "default model" in out and "device.selected" in out


def test_tiny_model_then_generate_twice_identical(tmp_path, capsys):
    model = tmp_path / "m"
    assert main(["tiny-model", str(model)]) == 0
    for run in ("a", "b"):
        assert main(["generate", "--model", str(model), "--prompt", "a cat sticker", "--seed", "1",
                     "--steps", "3", "-o", str(tmp_path / run)]) == 0
    a, b = (np.asarray(Image.open(tmp_path / r / "seed-1.png")) for r in ("a", "b"))
    assert np.array_equal(a, b)
    sidecar = json.loads((tmp_path / "a" / "seed-1.json").read_text())
    assert sidecar["prompt"] == "a cat sticker" and sidecar["seed"] == 1 and sidecar["steps"] == 3


def test_tiny_model_sdxl(tmp_path):
    assert main(["tiny-model", str(tmp_path / "xl"), "--arch", "sdxl"]) == 0
    assert json.loads((tmp_path / "xl" / "model_index.json").read_text())["_class_name"] == "StableDiffusionXLPipeline"


@pytest.mark.parametrize("argv", [
    ["generate", "--model", "/nonexistent", "--prompt", "x", "-o", "{tmp}/o"],
    ["generate", "--model", "org/not-cached", "--offline", "--prompt", "x", "-o", "{tmp}/o"],
    ["generate", "--model", "{model}", "--prompt", "x", "--steps", "0", "-o", "{tmp}/o"],
    ["generate", "--model", "{model}", "--prompt", "x", "--size", "12", "-o", "{tmp}/o"],
    ["generate", "--model", "{model}", "--prompt", "x", "--seed", "abc", "-o", "{tmp}/o"],
    ["generate", "--model", "{model}", "--prompt", "x", "--device", "cuda", "-o", "{tmp}/o"],
    ["generate", "--model", "{tmp}/weights.ckpt", "--prompt", "x", "-o", "{tmp}/o"],
    ["generate", "--model", "{model}", "--prompt", "x", "-o", "{tmp}/file.txt"],
    ["generate", "--prompt", "x"],
    ["tiny-model", "{tmp}/t", "--arch", "sd9"],
    ["no-such-command"],
])
def test_cli_user_errors_exit_2_with_one_line(argv, tmp_path, tiny_sd15_dir, capsys):
    import torch

    if "cuda" in argv and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    (tmp_path / "weights.ckpt").write_bytes(b"\x80\x04")
    (tmp_path / "file.txt").write_text("x")
    argv = [a.replace("{tmp}", str(tmp_path)).replace("{model}", str(tiny_sd15_dir)) for a in argv]
    with pytest.raises(SystemExit) as info:
        raise SystemExit(main(argv))
    assert info.value.code == 2
    one_error_line(capsys)
