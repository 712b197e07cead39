"""The GPU benchmark's smoke mode: the whole script (personalize windows, profiler, example loops,
batched generation, tables) runs on the tiny pipeline on CPU, so a GPU session never finds it broken."""

from __future__ import annotations


def test_smoke_mode_prints_every_table(capsys):
    from benchmarks.personalize_gpu import main

    assert main(["--smoke", "--steps", "3", "--images", "2", "--gen-steps", "2"]) == 0
    out = capsys.readouterr().out
    assert "Skipped" not in out, out
    for variant in ("baseline", "SEAL", "example"):
        for phase in ("embeddings", "lora"):
            assert f"| tiny @ 64 | {variant} | {phase} |" in out
    assert "SEAL/baseline wall" in out and "example/SEAL wall" in out
    assert "quality 400+400 (s)" in out or "quality" in out
    assert "| tiny @ 64 | 2 | 2 |" in out  # the generation row
    rows = [line for line in out.splitlines() if line.startswith("| tiny @ 64 | SEAL | embeddings |")]
    wall, kernel = (float(cell) for cell in rows[0].split("|")[4:6])
    assert wall > 0 and kernel > 0
