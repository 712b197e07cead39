"""`seal bench` end to end on a tiny random model and a tiny random CLIP, interrupted and resumed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from seal_engine.errors import Cancelled, InputError
from seal_engine.evaluation.bench import BenchConfig, parse_variants, run_bench
from seal_engine.progress import CancelToken

DATA = Path(__file__).parent / "data" / "eval_dataset"


@pytest.fixture
def small_dataset(tmp_path) -> Path:
    """The example dataset cut to one character and two prompts (one scores leakage and rigidity)."""
    folder = tmp_path / "ds"
    shutil.copytree(DATA, folder)
    data = json.loads((folder / "dataset.json").read_text())
    data["characters"] = data["characters"][:1]
    data["prompts"] = [p for p in data["prompts"] if p["id"] in ("happy-beach", "sleepy-scarf")]
    (folder / "dataset.json").write_text(json.dumps(data))
    return folder


def _config(model: Path, clip: Path, dataset: Path, out: Path, **kw) -> BenchConfig:
    base = dict(model=str(model), dataset=dataset, out_dir=out, variants=["baseline", "seal"], clip_model=str(clip),
                schedule="fast", steps=2, generation_steps=1, n_resamples=200,
                personalize_overrides={"augment_bank": 2, "probe_attention": False})
    base.update(kw)
    return BenchConfig(**base)


def _refuse(*_a, **_k):
    raise AssertionError("a resumed bench must not redo this")


def test_bench_end_to_end_interrupted_and_resumed(tiny_sd15_dir, tiny_clip_dir, small_dataset, tmp_path,
                                                  monkeypatch):
    out = tmp_path / "bench"
    config = _config(tiny_sd15_dir, tiny_clip_dir, small_dataset, out)

    # 1) interrupted: cancel as soon as the second cell (seal) starts generating
    token = CancelToken()
    cell = {"name": ""}

    def progress(event):
        if event.phase == "bench":
            cell["name"] = event.message
        if event.phase == "generate" and cell["name"].endswith("/ seal"):
            token.cancel()

    with pytest.raises(Cancelled):
        run_bench(config, progress=progress, cancel=token)
    assert (out / "concepts" / "seal" / "baseline" / "concept.json").is_file()
    assert (out / "concepts" / "seal" / "seal" / "concept.json").is_file()
    assert len(list((out / "samples" / "seal" / "baseline").glob("*.png"))) == 2
    assert not list((out / "samples" / "seal" / "seal").glob("*.png"))
    assert not list(out.rglob("*.tmp")) and not list(out.rglob(".*staging*"))  # only whole files
    assert not (out / "results.md").exists()

    # 2) resumed: no new personalization, only the missing samples
    stale = out / "concepts" / "seal" / ".seal.staging-killed"  # what a SIGKILL mid-personalization leaves
    stale.mkdir()
    (stale / "learned_embeds.safetensors").write_bytes(b"partial")
    monkeypatch.setattr("seal_engine.personalize.personalize", _refuse)
    result = run_bench(config)
    assert not stale.exists()
    assert result.personalized == []
    assert result.generated == 2
    md = result.markdown.read_text()
    for variant in ("baseline", "seal"):
        assert f"| {variant} | " in md
    assert "Run time per character and variant" in md
    data = json.loads(result.json.read_text())
    assert [v["variant"] for v in data["variants"]] == ["baseline", "seal"]
    for v in data["variants"]:
        assert len(v["samples"]) == 2
        ident = v["metrics"]["identity"]
        assert ident["n"] == 2 and ident["low"] <= ident["estimate"] <= ident["high"]
        beach = next(s for s in v["samples"] if s["prompt_id"] == "happy-beach")
        scarf = next(s for s in v["samples"] if s["prompt_id"] == "sleepy-scarf")
        assert beach["leakage"] is not None and beach["rigidity"] is not None  # new background, new pose
        assert scarf["rigidity"] is None  # same pose and framing as the reference: not scored
        assert set(beach["attribute_predictions"]) <= {"appearance", "emotion", "action", "camera", "style",
                                                      "background"}
        assert v["timings"]["personalize per character"] > 0

    # 3) complete: nothing to do but the table (metrics come from the per-sample cache)
    monkeypatch.setattr("seal_engine.evaluation.clip_models.load_clip", _refuse)
    monkeypatch.setattr("seal_engine.generation.generate", _refuse)
    again = run_bench(config)
    assert again.personalized == [] and again.generated == 0
    assert json.loads(again.json.read_text())["variants"][0]["samples"] == data["variants"][0]["samples"]

    # a different setting in the same folder is refused instead of mixing two benches
    with pytest.raises(InputError, match="different settings"):
        run_bench(_config(tiny_sd15_dir, tiny_clip_dir, small_dataset, out, seed=5))


def test_cli_bench_resumes_and_prints_the_table(tiny_sd15_dir, tiny_clip_dir, small_dataset, tmp_path, capsys):
    from seal_engine.cli import main

    out = tmp_path / "cli-bench"
    args = ["bench", "--model", str(tiny_sd15_dir), "--dataset", str(small_dataset), "--variants", "baseline",
            "--clip-model", str(tiny_clip_dir), "--steps", "1", "--schedule", "fast", "--gen-steps", "1",
            "--resamples", "100", "--device", "cpu", "-o", str(out)]
    assert main(args) == 0
    first = capsys.readouterr()
    assert "| baseline |" in first.out and "1 concept(s) learned" in first.err
    assert main(args) == 0
    second = capsys.readouterr()
    assert "0 concept(s) learned, 0 sample(s) generated" in second.err


def test_cli_bench_refuses_bad_options(tmp_path, capsys):
    from seal_engine.cli import main

    common = ["bench", "--model", "x/y", "--dataset", str(DATA), "-o", str(tmp_path / "o")]
    assert main(common + ["--variants", "baseline,best"]) == 2
    assert "Unknown variant(s) best" in capsys.readouterr().err
    assert main(["bench", "--model", "x/y", "-o", str(tmp_path / "o")]) == 2
    assert "--dataset" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(common + ["--world", "nowhere"])
    assert exit_info.value.code == 2 and "invalid choice" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_variant_parsing():
    assert parse_variants("seal, baseline,seal") == ["seal", "baseline"]
    with pytest.raises(InputError):
        parse_variants("")


def test_the_uncaptioned_baseline_is_the_baseline_with_only_the_caption_taken_away():
    """The beside-row baseline (a LoRA trainer's fixed prompt) must differ from the captioned
    baseline in the caption alone, or its table would mix two questions."""
    from seal_engine.evaluation.bench import VARIANT_FLAGS
    from seal_engine.personalize.config import PersonalizeConfig

    plain, captioned = VARIANT_FLAGS["baseline-no-caption"], VARIANT_FLAGS["baseline"]
    assert {k: v for k, v in plain.items() if k != "auto_caption"} == captioned
    assert plain["auto_caption"] is False and PersonalizeConfig().auto_caption is True
