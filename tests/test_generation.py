"""Generation: determinism per seed, progress per step, cancel within a step, settings checks."""

from __future__ import annotations

import numpy as np
import pytest

from seal_engine.errors import Cancelled, InputError
from seal_engine.generation import GenerationSettings, generate, write_outputs
from seal_engine.loading import load_pipeline
from seal_engine.progress import CancelToken


@pytest.fixture(scope="module")
def sd15(tiny_sd15_dir):
    return load_pipeline(tiny_sd15_dir)


def pixels(result):
    return np.asarray(result.image)


def test_same_seed_same_pixels(sd15):
    one = generate(sd15, GenerationSettings("a cat sticker", seeds=[3], steps=3))
    again = generate(sd15, GenerationSettings("a cat sticker", seeds=[3], steps=3))
    other = generate(sd15, GenerationSettings("a cat sticker", seeds=[4], steps=3))
    assert np.array_equal(pixels(one[0]), pixels(again[0]))
    assert not np.array_equal(pixels(one[0]), pixels(other[0]))


def test_seed_noise_does_not_depend_on_batch(sd15):
    """Each seed has its own generator; batched kernels may round differently, by a level or two."""
    one = generate(sd15, GenerationSettings("a cat sticker", seeds=[3], steps=3))
    two = generate(sd15, GenerationSettings("a cat sticker", seeds=[5, 3], steps=3, batch_size=2))
    diff = np.abs(pixels(one[0]).astype(int) - pixels(two[1]).astype(int))
    assert diff.max() <= 3


def test_progress_every_step_and_records(sd15, tmp_path):
    events = []
    results = generate(sd15, GenerationSettings("a dog", seeds=[1, 2], steps=4, scheduler="euler"),
                       progress=events.append)
    assert [e.step for e in events] == list(range(1, 9)) and all(e.total == 8 for e in events)
    paths = write_outputs(results, tmp_path)
    assert [p.name for p in paths] == ["seed-1.png", "seed-2.png"]
    import json

    record = json.loads(paths[0].with_suffix(".json").read_text())
    assert record["seed"] == 1 and record["scheduler"] == "euler" and record["architecture"] == "sd1"


def test_cancel_stops_within_one_step(sd15):
    cancel = CancelToken()
    events = []

    def on_progress(event):
        events.append(event)
        if event.step == 2:
            cancel.cancel()

    with pytest.raises(Cancelled):
        generate(sd15, GenerationSettings("a cat", seeds=[1, 2, 3], steps=10), progress=on_progress, cancel=cancel)
    assert len(events) == 2


def test_sdxl_generates(tiny_sdxl_dir):
    model = load_pipeline(tiny_sdxl_dir)
    out = generate(model, GenerationSettings("a fox sticker", seeds=[7], steps=2))
    assert out[0].image.size == (64, 64)


@pytest.mark.parametrize("kwargs, message", [
    ({"prompt": " "}, "prompt is empty"),
    ({"steps": 0}, "Steps"),
    ({"seeds": []}, "seed"),
    ({"seeds": [-1]}, "Seeds"),
    ({"width": 100}, "multiples of 8"),
    ({"guidance_scale": 99}, "Guidance"),
    ({"scheduler": "nope"}, "Unknown scheduler"),
])
def test_settings_validation(kwargs, message):
    settings = GenerationSettings(**{"prompt": "x", **kwargs})
    with pytest.raises(InputError, match=message):
        settings.validate()


@pytest.mark.parametrize("scheduler", ["default", "euler-a"])
def test_batched_variants_equal_each_seed_alone(sd15, scheduler):
    """A pack item's variants run as one batch (with CFG); each must match its seed generated alone.

    euler-a draws fresh noise every step: the per-seed generators must feed it too."""
    seeds = [11, 12, 13]
    common = dict(negative_prompt="blurry", steps=3, guidance_scale=7.5, scheduler=scheduler)
    batched = generate(sd15, GenerationSettings("a cat sticker", seeds=seeds, batch_size=3, **common))
    assert [r.seed for r in batched] == seeds and all(r.record["batch"] == 3 for r in batched)
    for seed, result in zip(seeds, batched):
        alone = generate(sd15, GenerationSettings("a cat sticker", seeds=[seed], **common))[0]
        diff = np.abs(pixels(alone).astype(int) - pixels(result).astype(int))
        assert diff.max() <= 3, f"seed {seed}: batched differs from alone by {diff.max()} levels"
    assert not np.array_equal(pixels(batched[0]), pixels(batched[1]))


def test_batched_progress_counts_every_image_step(sd15):
    events = []
    generate(sd15, GenerationSettings("a dog", seeds=[1, 2, 3], steps=4, batch_size=3), progress=events.append)
    assert [(e.step, e.total) for e in events] == [(3, 12), (6, 12), (9, 12), (12, 12)]


def test_cancel_stops_a_batch_within_one_step(sd15):
    cancel = CancelToken()
    events = []

    def on_progress(event):
        events.append(event)
        cancel.cancel()

    with pytest.raises(Cancelled):
        generate(sd15, GenerationSettings("a cat", seeds=[1, 2, 3, 4], steps=10, batch_size=4),
                 progress=on_progress, cancel=cancel)
    assert len(events) == 1


def test_out_of_memory_batch_is_retried_in_halves(sd15, monkeypatch):
    import torch

    cls = type(sd15.pipe)
    original = cls.__call__
    batches = []

    def tight_memory(self, *args, **kwargs):
        batches.append(len(kwargs["prompt"]))
        if len(kwargs["prompt"]) > 1:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(cls, "__call__", tight_memory)
    events = []
    out = generate(sd15, GenerationSettings("a cat", seeds=[5, 6, 7], steps=2, batch_size=3),
                   progress=events.append)
    assert [r.seed for r in out] == [5, 6, 7]
    assert batches == [3, 2, 1, 1, 1]
    assert events[-1].step == events[-1].total == 6


def test_pack_generation_runs_each_items_variants_as_one_batch(sd15, tmp_path, monkeypatch):
    """pack_job's generation loop: one pipeline call per preset item, missing variants only on resume."""
    from types import SimpleNamespace

    from seal_engine.attributes import Preset, StickerSpec
    from seal_engine.pack_job import PackJob, _generate, _Phases

    preset = Preset(name="duo", items=[StickerSpec(label="happy", emoji="😀", attributes={"emotion": "happy"}),
                                       StickerSpec(label="sad", emoji="😢", attributes={"emotion": "sad"})])
    job = PackJob(reference=tmp_path / "ref.png", preset=preset, out_dir=tmp_path / "out", variants=3, steps=2)
    concept = SimpleNamespace(path=tmp_path / "concept")
    cls = type(sd15.pipe)
    original = cls.__call__
    calls = []

    def counting(self, *args, **kwargs):
        calls.append(len(kwargs["prompt"]))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(cls, "__call__", counting)
    events = []
    items, reused = _generate(job, sd15, concept, "sks cat", job.out_dir, _Phases(events.append, None),
                              events.append, None)
    assert calls == [3, 3] and reused == 0
    labelled = [(e.step, e.total, e.message) for e in events if e.phase == "generate" and e.total and e.message]
    assert labelled == [(6, 12, "happy"), (12, 12, "sad")]
    first = items[0].variants[1]
    alone = generate(sd15, GenerationSettings(items[0].prompt, negative_prompt=job.negative_prompt,
                                              seeds=[first["seed"]], steps=2))[0]
    from PIL import Image

    saved = np.asarray(Image.open(job.out_dir / first["file"]))
    assert np.abs(saved.astype(int) - pixels(alone).astype(int)).max() <= 3

    (job.out_dir / items[1].variants[2]["file"]).unlink()  # resume: only the missing variant runs
    calls.clear()
    _, reused = _generate(job, sd15, concept, "sks cat", job.out_dir, _Phases(events.append, None),
                          events.append, None)
    assert calls == [1] and reused == 5


def test_variant_batches_are_capped_per_device(sd15):
    from dataclasses import replace

    from seal_engine.generation import batch_size_for

    assert batch_size_for(sd15, 3) == 3 and batch_size_for(sd15, 16) == 4  # CPU
    assert batch_size_for(replace(sd15, device="cuda:0"), 16) == 16
    assert batch_size_for(replace(sd15, device="xpu"), 5) == 1


def test_fast_sampling_preset_from_the_cli(tiny_sd15_dir, tmp_path):
    import json

    from seal_engine.cli import main

    assert main(["generate", "--model", str(tiny_sd15_dir), "--prompt", "a cat", "--sampling", "fast",
                 "-o", str(tmp_path / "fast")]) == 0
    record = json.loads((tmp_path / "fast" / "seed-0.json").read_text())
    assert record["scheduler"] == "unipc" and record["steps"] == 12
    assert main(["generate", "--model", str(tiny_sd15_dir), "--prompt", "a cat", "--sampling", "fast",
                 "--steps", "3", "-o", str(tmp_path / "three")]) == 0
    record = json.loads((tmp_path / "three" / "seed-0.json").read_text())
    assert record["scheduler"] == "unipc" and record["steps"] == 3
