"""The shipped toy-world model: pipeline folder, detector, generation, and the training script."""

from __future__ import annotations

import json
import random
import pytest

from personalize_helpers import single_torch_thread  # noqa: F401  (tiny models: 1 thread; 2 shared cores
# oversubscribed by OpenMP ran these tests ~10x slower)
from seal_engine.toyworld.attributes import FACTORS, prompt_for, random_sticker
from seal_engine.toyworld.model import default_pipeline_dir

DATA = default_pipeline_dir().parent


@pytest.fixture(scope="module")
def pipe():
    from seal_engine.toyworld.model import load_pipeline

    return load_pipeline()


@pytest.fixture(scope="module")
def detector():
    from seal_engine.toyworld.detectors import Detector

    return Detector()


def test_shipped_files_are_small_fp16_safetensors():
    from safetensors import safe_open

    files = list(DATA.rglob("*.safetensors"))
    assert {f.parent.name for f in files} >= {"unet", "vae", "text_encoder", "toyworld"}
    assert sum(f.stat().st_size for f in files) < 20 * 2**20
    for f in files:
        with safe_open(str(f), "pt") as st:
            key = next(iter(st.keys()))
            assert str(st.get_slice(key).get_dtype()) in ("F16", "I64"), f
    info = json.loads((DATA / "training.json").read_text())
    assert {"seed", "steps", "seconds", "device"} <= set(info)


def test_pipeline_loads_as_stable_diffusion(pipe):
    import torch
    from transformers import CLIPTokenizer

    assert type(pipe).__name__ == "StableDiffusionPipeline"
    assert isinstance(pipe.tokenizer, CLIPTokenizer.__mro__[0]) or "CLIPTokenizer" in type(pipe.tokenizer).__name__
    assert pipe.tokenizer.model_max_length == 77
    assert pipe.unet.dtype == torch.float32
    assert pipe.scheduler.config.prediction_type == "v_prediction"
    assert pipe.scheduler.config.rescale_betas_zero_snr


def test_engine_loader_detects_sd1(tmp_path):
    from seal_engine.architecture import detect_folder

    assert detect_folder(default_pipeline_dir()).name == "SD1"


def test_detector_reads_fresh_renders(detector):
    from seal_engine.toyworld.detectors import accuracy
    from seal_engine.toyworld.render import render_batch

    rng = random.Random(99)
    ss = [random_sticker(rng, allow_held_out=True) for _ in range(200)]
    acc = accuracy(detector.predict(render_batch(ss, seed=99)), ss)
    assert min(acc[f] for f in FACTORS) >= 0.95, acc


def test_generation_follows_the_prompt(pipe, detector):
    from seal_engine.toyworld.evaluate import generate

    rng = random.Random(5)
    ss = [random_sticker(rng) for _ in range(8)]
    imgs = generate(pipe, [prompt_for(s) for s in ss], seed=5, steps=10)
    assert imgs.shape == (8, 64, 64, 3)
    reads = detector.predict(imgs)
    hits = sum(r[f] == getattr(s, f) for r, s in zip(reads, ss) for f in FACTORS)
    assert hits / (8 * len(FACTORS)) >= 0.8


def test_training_script_runs_resumes_and_exports(tmp_path):
    from seal_engine.toyworld.model import load_pipeline
    from seal_engine.toyworld.train import main

    args = ["--out", str(tmp_path / "run"), "--device", "cpu", "--pool", "48", "--workers", "1",
            "--vae-steps", "2", "--detector-steps", "1", "--unet-steps", "1", "--vae-batch", "2",
            "--detector-batch", "2", "--unet-batch", "2", "--max-seconds", "600", "--log-every", "1000"]
    assert main(args) == 0
    assert main(args[:-8] + ["--unet-steps", "2", "--unet-batch", "2", "--max-seconds", "600", "--resume",
                             "--pack", str(tmp_path / "pack")]) == 0
    info = json.loads((tmp_path / "run" / "training.json").read_text())
    assert info["steps"] == {"vae": 2, "detector": 1, "unet": 2}
    assert (tmp_path / "pack" / "pipeline.tar").is_file()
    p = load_pipeline(tmp_path / "run" / "pipeline")
    assert p.unet.config.sample_size == 16
