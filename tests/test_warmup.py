"""The desktop app's warm-up imports the whole job path: a job run after it imports nothing more
(an import during a job would stall the app's window while it holds the GIL)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

JOB_AFTER_WARMUP = """
import json, sys, tempfile
from pathlib import Path
sys.path.insert(0, {tests!r})
from seal_engine.warmup import import_engine
import_engine()
from test_pack import small_job
from seal_engine.pack_job import run_pack_job
before = set(sys.modules)
run_pack_job(small_job(Path(tempfile.mkdtemp()) / "out", Path({model!r})))
print("NEW=" + json.dumps(sorted(set(sys.modules) - before)))
"""


def test_a_job_after_the_warm_up_imports_no_engine_module(tiny_sd15_dir):
    code = JOB_AFTER_WARMUP.format(tests=str(ROOT / "tests"), model=str(tiny_sd15_dir))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    new = json.loads(done.stdout.split("NEW=")[-1])
    heavy = [m for m in new if m.split(".")[0] in {"seal_engine", "torch", "diffusers", "transformers", "PIL",
                                                    "peft", "safetensors", "platformdirs"}]
    assert heavy == [], f"add these to seal_engine.warmup.ENGINE_MODULES: {heavy}"
