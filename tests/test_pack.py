"""`seal pack` and `run_pack_job`: the whole job on a tiny model, resume, cancel, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from seal_engine.attributes import Preset, StickerSpec
from seal_engine.cli import main
from seal_engine.errors import Cancelled
from seal_engine.export import validate_pack
from seal_engine.pack_job import PackJob, run_pack_job
from seal_engine.personalize.config import PersonalizeConfig
from seal_engine.progress import CancelToken

DATA = Path(__file__).parent / "data"
REFERENCE = DATA / "pack" / "mochi.png"


def small_preset() -> Preset:
    return Preset("test trio", [
        StickerSpec("Happy", "😀", {"emotion": "happy"}),
        StickerSpec("Waving", "👋", {"action": "waving"}),
        StickerSpec("Sleepy", "😴", {"emotion": "sleepy", "background": "night sky"}),
    ])


def small_job(out: Path, model_dir: Path, **kw) -> PackJob:
    config = PersonalizeConfig(schedule="fast", seed=0, probe_attention=False).with_total_steps(4)
    return PackJob(reference=REFERENCE, preset=small_preset(), out_dir=out, model=str(model_dir),
                   personalize=config, variants=2, steps=2, **kw)


@pytest.fixture
def preset_file(tmp_path) -> Path:
    path = tmp_path / "trio.json"
    path.write_text(json.dumps(small_preset().to_dict()))
    return path


def test_seal_pack_two_platforms_validate(tmp_path, tiny_sd15_dir, preset_file, capsys):
    out = tmp_path / "out"
    code = main(["pack", str(REFERENCE), "--preset", str(preset_file), "--platform", "telegram",
                 "--platform", "whatsapp", "--title", "Mochi", "--author", "Tester", "--model", str(tiny_sd15_dir),
                 "--schedule", "fast", "--train-steps", "4", "--steps", "2", "--variants", "2", "-o", str(out)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    for platform in ("telegram", "whatsapp"):
        assert validate_pack(out / "packs" / platform, platform) == []
        manifest = json.loads((out / "packs" / platform / "pack.json").read_text())
        assert manifest["platform"] == platform and len(manifest["stickers"]) == 3
        assert [s["emojis"][0] for s in manifest["stickers"]] == ["😀", "👋", "😴"]
    record = json.loads((out / "job.json").read_text())
    assert len(record["items"]) == 3 and all(i["chosen"] and i["reason"] for i in record["items"])
    assert len(list((out / "generated").rglob("seed-*.png"))) == 6
    assert "| telegram | 3 |" in printed and "| whatsapp | 3 |" in printed and "| personalize |" in printed


def test_resume_after_interruption_reuses_concept_and_images(tmp_path, tiny_sd15_dir):
    out = tmp_path / "out"
    cancel = CancelToken()
    seen = []

    def stop_after_two_images(event):
        seen.append(event.phase)
        if event.phase == "generate" and event.total and event.message:  # the first item's two variants are saved
            cancel.cancel()

    with pytest.raises(Cancelled):
        run_pack_job(small_job(out, tiny_sd15_dir), progress=stop_after_two_images, cancel=cancel)
    assert "embeddings" in seen or "lora" in seen  # it did learn the first time
    kept = sorted(p.name for p in (out / "generated").rglob("seed-*.png"))
    assert len(kept) == 2 and not (out / "stickers").exists()

    phases = []
    result = run_pack_job(small_job(out, tiny_sd15_dir), progress=lambda e: phases.append(e.phase))
    assert result.concept_reused and "embeddings" not in phases and "lora" not in phases
    assert result.generated_reused == 2
    assert len(list((out / "stickers").glob("*.png"))) == 3


def test_cancel_during_export_leaves_no_partial_pack(tmp_path, tiny_sd15_dir):
    out = tmp_path / "out"
    cancel = CancelToken()

    def cancel_in_export(event):
        if event.phase == "export" and event.step >= 1:
            cancel.cancel()

    with pytest.raises(Cancelled):
        run_pack_job(small_job(out, tiny_sd15_dir, platforms=["signal"]), progress=cancel_in_export,
                     cancel=cancel)
    packs = out / "packs"
    assert not (packs / "signal").exists()
    assert not packs.exists() or not any(packs.iterdir())  # no staging folder left behind


def test_bad_reference_refused_cleanly(tmp_path, tiny_sd15_dir, preset_file, capsys):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
    out = tmp_path / "out"
    code = main(["pack", str(bad), "--preset", str(preset_file), "--platform", "telegram",
                 "--model", str(tiny_sd15_dir), "-o", str(out)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("seal pack:") and "\n" not in err
    assert not out.exists()


@pytest.mark.parametrize("extra, message", [
    (["--preset", "no-such-preset"], "No preset named"),
    (["--variants", "0"], "Variants"),
    (["--model", "org/not-cached", "--offline"], "seal tiny-model"),
])
def test_pack_option_errors(tmp_path, tiny_sd15_dir, preset_file, extra, message, capsys):
    argv = ["pack", str(REFERENCE), "--preset", str(preset_file), "--model", str(tiny_sd15_dir),
            "-o", str(tmp_path / "o")] + extra
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err


def test_builtin_presets_load():
    from seal_engine.attributes import builtin_presets, load_preset

    presets = builtin_presets()
    assert len(presets) >= 5 and all(len(p.items) >= 8 for p in presets)
    assert load_preset("daily-emotions").items


def test_concept_cache_key_follows_the_settings_as_run_not_as_written(monkeypatch):
    """A concept learned before a schedule's default changed is not reused after it (the key holds
    the resolved switches), and spelling out a default names the same concept as leaving it."""
    from PIL import Image

    from seal_engine.architecture import Architecture
    from seal_engine.pack_job import concept_cache_key
    from seal_engine.personalize import config as config_module

    ref, mask = Image.new("RGBA", (8, 8), (200, 40, 40, 255)), Image.new("L", (8, 8), 255)

    def key(**kw):
        return concept_cache_key(ref, mask, "m", Architecture.SD1, PersonalizeConfig(schedule="quality", **kw))

    default = key()
    assert key(context_hold=config_module.CONTEXT_HOLD_BY_SCHEDULE[config_module.Schedule.QUALITY]) == default
    assert key(lora_steps=config_module.SCHEDULE_STEPS[config_module.Schedule.QUALITY][
        config_module.BaseMethod.TI_LORA][1]) == default
    assert key(preview_every=7) == default  # previews do not change what is learned
    monkeypatch.setitem(config_module.CONTEXT_HOLD_BY_SCHEDULE, config_module.Schedule.QUALITY,
                        not config_module.CONTEXT_HOLD_BY_SCHEDULE[config_module.Schedule.QUALITY])
    assert key() != default
