"""`seal self-test` / seal_engine.self_test: the whole engine once, offline, on a tiny model."""

from __future__ import annotations

import io

import pytest

from seal_engine.cli import main as cli_main
from seal_engine.self_test import run_self_test


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    monkeypatch.setenv("SEAL_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def test_self_test_passes_every_step_and_keeps_nothing(tmp_path):
    out = io.StringIO()
    report = run_self_test(tmp_path, out)
    text = out.getvalue()
    assert report.ok, text
    assert [s.name for s in report.steps] == ["imports", "resources", "tiny-model", "generate", "mask", "finish",
                                              "export", "validate"]
    assert "self-test PASSED: 8/8" in text
    assert not any(p.name.startswith("seal-self-test-") for p in tmp_path.iterdir())  # temp files removed


def test_a_failing_step_stops_the_run_and_fails(tmp_path, monkeypatch):
    import seal_engine.testing as testing

    def broken(*args, **kwargs):
        raise RuntimeError("tokenizer files missing")

    monkeypatch.setattr(testing, "save_tiny_model", broken)
    out = io.StringIO()
    report = run_self_test(tmp_path, out)
    assert not report.ok
    assert report.steps[-1].name == "tiny-model" and "tokenizer files missing" in report.steps[-1].detail
    assert "[FAIL] tiny-model" in out.getvalue() and "self-test FAILED: 2/8" in out.getvalue()


def test_cli_self_test_exit_code(tmp_path, monkeypatch, capsys):
    import seal_engine.self_test as st
    from seal_engine.self_test import SelfTestReport, StepResult

    monkeypatch.setattr(st, "run_self_test", lambda work_dir=None: SelfTestReport([StepResult("imports", False, 0.0)]))
    assert cli_main(["self-test", "--work-dir", str(tmp_path)]) == 1
    monkeypatch.setattr(st, "run_self_test", lambda work_dir=None: SelfTestReport([StepResult("imports", True, 0.0)]))
    assert cli_main(["self-test"]) == 0


def test_desktop_self_test_flag_runs_headless(monkeypatch):
    import seal_engine.self_test as st
    from seal_desktop import app

    monkeypatch.setattr(st, "main", lambda work_dir=None: 7)
    monkeypatch.setattr(app, "create_app", lambda argv=None: pytest.fail("a window was created"))
    assert app.main(["--self-test"]) == 7
