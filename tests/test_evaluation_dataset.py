"""The evaluation dataset format and the report writer."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from seal_engine.errors import InputError
from seal_engine.evaluation.bootstrap import Interval
from seal_engine.evaluation.dataset import load_dataset, normalize_tags
from seal_engine.evaluation.report import DEFAULT_COLUMNS, ReportRow, markdown_table, write_report

DATA = Path(__file__).parent / "data" / "eval_dataset"


def test_example_dataset_loads():
    ds = load_dataset(DATA)
    assert [c.id for c in ds.characters] == ["seal", "guide-dog"]
    assert ds.seeds == [0]
    seal = ds.character("seal")
    assert seal.tags["background"] == "red background"
    samples = ds.samples(seal)
    assert len(samples) == len(ds.prompts) * len(ds.seeds)
    first = samples[0]
    assert first.id == "happy-beach-s0"
    assert first.prompt.startswith("a sticker of <char>, ")
    assert "beach background" in first.prompt and "happy" in first.prompt
    ref = seal.load_reference()
    assert ref.mode == "RGBA" and seal.load_mask(ref).size == ref.size
    assert (DATA / "README.md").read_text().count("OpenMoji") >= 1


def test_stickerbench_style_tags_map_onto_the_six_attributes():
    tags = normalize_tags({"Camera Composition": "close-up", "pose": "waving", "Expression": "happy",
                           "art_style": ["flat", "outline"], "scene": "beach", "appearance": ""})
    assert tags == {"camera": "close-up", "action": "waving", "emotion": "happy", "style": "flat, outline",
                    "background": "beach"}
    with pytest.raises(InputError, match="unknown attribute"):
        normalize_tags({"mood lighting": "dim"})


def _copy(tmp_path: Path) -> Path:
    dst = tmp_path / "ds"
    shutil.copytree(DATA, dst)
    return dst


def _edit(folder: Path, fn) -> None:
    data = json.loads((folder / "dataset.json").read_text())
    fn(data)
    (folder / "dataset.json").write_text(json.dumps(data))


@pytest.mark.parametrize("edit, message", [
    (lambda d: d.pop("characters"), "no characters"),
    (lambda d: d["characters"][0].update(image="references/missing.png"), "does not exist"),
    (lambda d: d["prompts"].append(dict(d["prompts"][0])), "appears twice"),
    (lambda d: d["prompts"][0].update(prompt="no placeholder here"), "<char>"),
    (lambda d: d["prompts"][0].update(characters=["nobody"]), "unknown character"),
    (lambda d: d.update(seeds=[-1]), "seeds"),
    (lambda d: d.update(format_version=99), "format_version"),
])
def test_bad_datasets_are_refused_with_one_sentence(tmp_path, edit, message):
    folder = _copy(tmp_path)
    _edit(folder, edit)
    with pytest.raises(InputError, match=message):
        load_dataset(folder)


def test_missing_dataset_file(tmp_path):
    with pytest.raises(InputError, match="dataset.json is missing"):
        load_dataset(tmp_path)


def test_explicit_prompt_and_character_restriction(tmp_path):
    folder = _copy(tmp_path)
    _edit(folder, lambda d: d["prompts"].append({"id": "custom", "prompt": "<char> eating a cup",
                                                 "characters": ["seal"], "attributes": {"action": "eating"}}))
    ds = load_dataset(folder)
    assert "custom" in [s.prompt_id for s in ds.samples(ds.character("seal"))]
    assert "custom" not in [s.prompt_id for s in ds.samples(ds.character("guide-dog"))]


def test_report_writes_markdown_and_json(tmp_path):
    rows = [ReportRow("baseline", {"identity": Interval(0.71, 0.69, 0.73, 30), "leakage": Interval(0.18, 0.1, 0.25, 20)},
                      per_attribute={"emotion": Interval(0.8, 0.7, 0.9, 10)}, samples=[{"sample": "x", "identity": 0.7}],
                      timings={"personalize per character": 12.0}),
            ReportRow("seal", {"identity": Interval(0.80, 0.78, 0.82, 30)})]
    md, js = write_report(rows, tmp_path, title="T", meta={"model": "m"}, extra_sections=["## Extra\n\nhello"])
    text = md.read_text()
    assert "| baseline | 0.710 [0.690, 0.730] (n=30) | n/a | 18% [10%, 25%] (n=20) | n/a |" in text
    assert "## Attribute accuracy per attribute" in text and "## Extra" in text and "- model: m" in text
    data = json.loads(js.read_text())
    assert data["variants"][0]["samples"] == [{"sample": "x", "identity": 0.7}]
    assert data["variants"][1]["metrics"]["identity"]["estimate"] == 0.80
    assert [c["key"] for c in data["columns"]] == [c.key for c in DEFAULT_COLUMNS]
    assert markdown_table(rows).count("\n") == 3
