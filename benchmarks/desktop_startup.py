"""Desktop app: time to first window (vs a bare QMainWindow, same method, same run) and
the longest event-loop stall while a tiny-model job runs on the worker thread.

    python benchmarks/desktop_startup.py [--runs 5]

Targets: first window <= 1.0 s; stall <= 50 ms. Each stall run is a fresh app process, as a
user's is: the app imports the engine on its worker thread just after the window shows
(warm-up), and the table shows the stall during that warm-up, during a job after it, and
during a first job that has to import the engine itself (no warm-up). Prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BARE = """
import sys
from PySide6.QtWidgets import QApplication, QMainWindow
app = QApplication(sys.argv)
w = QMainWindow(); w.resize(1440, 860); w.show(); app.processEvents()
print("shown", flush=True)
"""

APP = """
import sys
from seal_desktop.app import create_app
app = create_app(sys.argv)
from seal_desktop.ui.main_window import MainWindow
w = MainWindow(); w.show(); app.processEvents()
print("shown", flush=True)
print("heavy:" + ",".join(m for m in ("torch", "diffusers") if m in sys.modules), flush=True)
w.shutdown()
"""


def time_to_window(code: str, env: dict) -> float:
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    for line in proc.stdout:  # type: ignore[union-attr]
        if line.startswith("shown"):
            elapsed = time.perf_counter() - start
            break
    else:
        raise RuntimeError("the window never showed")
    rest = proc.communicate()[0]
    if "heavy:" in rest and rest.split("heavy:")[1].strip():
        raise RuntimeError(f"heavy modules imported at start-up: {rest}")
    return elapsed


STALL = """
import json, os, sys, time
from pathlib import Path
from PySide6.QtCore import QElapsedTimer, QEventLoop, QTimer
from seal_desktop.app import create_app
from seal_desktop.ui.main_window import MainWindow

app = create_app(["bench"])
window = MainWindow()
window.show()
character = window.add_files([Path("tests/data/desktop/seal-transparent.png")])[0]
preset = window.ctx.presets.get("Daily emotions").to_dict()
preset["items"] = preset["items"][:4]
clock = QElapsedTimer()
clock.start()
gaps, last = [], [clock.elapsed()]

def tick():
    now = clock.elapsed()
    gaps.append(now - last[0])
    last[0] = now

timer = QTimer()
timer.setInterval(5)
timer.timeout.connect(tick)
timer.start()
result = {}
if os.environ["BENCH_WARM"] == "1":
    loop = QEventLoop()
    window.controller.worker.warmedUp.connect(lambda _s: loop.quit())
    began = time.perf_counter()
    window.controller.warm_up()
    loop.exec()
    result["warmup"] = [max(gaps), time.perf_counter() - began, len(gaps)]
    gaps.clear()
loop = QEventLoop()
window.controller.jobFinished.connect(lambda *_: loop.quit())
began = time.perf_counter()
window.controller.enqueue(character, preset, model=os.environ["BENCH_MODEL"], steps=8, variants=2, schedule="fast",
                          personalize={"embedding_steps": 2, "lora_steps": 2, "augment_bank": 2,
                                       "probe_attention": False})
loop.exec()
timer.stop()
result["job"] = [max(gaps), time.perf_counter() - began, len(gaps)]
window.shutdown()
print("RESULT=" + json.dumps(result), flush=True)
"""


def measure_stall(home: Path, model: Path, env: dict, warm: bool) -> dict:
    """Max gap between 5 ms timer ticks in a fresh app process (nothing imported yet, like a user's):
    during a tiny job (learn + generate + finish), and during the warm-up before it when `warm`."""
    env = {**env, "SEAL_HOME": str(home), "BENCH_MODEL": str(model), "BENCH_WARM": "1" if warm else "0"}
    done = subprocess.run([sys.executable, "-c", STALL], capture_output=True, text=True, env=env, cwd=ROOT)
    if done.returncode != 0 or "RESULT=" not in done.stdout:
        raise RuntimeError(f"the stall run failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.split("RESULT=")[-1])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--stall-runs", type=int, default=3)
    args = parser.parse_args()
    env = {**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen"),
           "SEAL_SKIP_FIRST_RUN": "1"}
    # An installed app starts from bytecode (pip and PyInstaller compile it); with PYTHONDONTWRITEBYTECODE
    # set (some shells and CI images), every start would recompile ~50 modules (~0.1-0.3 s) instead.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    with tempfile.TemporaryDirectory() as tmp:
        env["SEAL_HOME"] = str(Path(tmp) / "startup-home")
        time_to_window(APP, env)  # warm the OS file cache and create the library once
        bare = [time_to_window(BARE, env) for _ in range(args.runs)]
        ours = [time_to_window(APP, env) for _ in range(args.runs)]
        model = Path(tmp) / "tiny"
        subprocess.run([sys.executable, "-c", f"from seal_engine.testing import save_tiny_model; "
                        f"save_tiny_model({str(model)!r})"], check=True, env=env, cwd=ROOT)
        cold = [measure_stall(Path(tmp) / f"cold-{i}", model, env, warm=False) for i in range(args.stall_runs)]
        warm = [measure_stall(Path(tmp) / f"warm-{i}", model, env, warm=True) for i in range(args.stall_runs)]
    b, o = statistics.median(bare), statistics.median(ours)
    print("| measure | bare QMainWindow | SEAL Sticker Studio | ratio | target |")
    print("|---|---|---|---|---|")
    print(f"| time to first window (median of {args.runs}) | {b:.3f} s | {o:.3f} s | {o / b:.2f} | <= 1.0 s |")
    def row(what: str, runs: list, key: str) -> None:
        stalls = sorted(r[key][0] for r in runs)
        secs = statistics.median(r[key][1] for r in runs)
        print(f"| longest event-loop stall {what} (median of {len(runs)}: {', '.join(f'{x:.0f}' for x in stalls)} ms; "
              f"{secs:.1f} s) | — | {statistics.median(stalls):.0f} ms | — | <= 50 ms |")

    row("during the warm-up imports, after the window shows", warm, "warmup")
    row("during a tiny job after the warm-up (the app's way)", warm, "job")
    row("during a tiny job with no warm-up (the first job imports the engine)", cold, "job")
    return 0


if __name__ == "__main__":
    sys.exit(main())
