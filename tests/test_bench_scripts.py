"""Every bench script still runs: `python bench/X.py --dry-run` takes the script's real code
path on its smallest input (one round, a few images, one browser) and must exit 0.

The bench is run by hand, rarely, and imports the app's modules by name: a rename in
mnist_core/ or ui/ breaks it silently until someone needs a figure. This catches it in CI.
A script that needs what the machine lacks (Chromium, JAX) says "skipped: ..." and exits 0.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
#: harness*.py are the bench's libraries (harness.py, harness_browser.py), not scripts.
SCRIPTS = sorted(p.name for p in (ROOT / "bench").glob("*.py")
                 if not p.name.startswith("harness"))
#: The longest dry run takes about 40 s on 2 busy cores; this only stops a hung one.
TIMEOUT_S = 300


@pytest.mark.parametrize("script", SCRIPTS)
def test_dry_run(script, tmp_path):
    env = dict(os.environ, MNIST_DATA_DIR=str(Path(os.environ["MNIST_DATA_DIR"]).resolve()),
               MNIST_LAB_HOME=str(tmp_path / "lab"), TF_CPP_MIN_LOG_LEVEL="2")
    env.pop("MNIST_LAB_TRAINING", None)   # the tests' "thread": the bench measures the default
    out = tmp_path / "result.json"
    try:
        proc = subprocess.run([sys.executable, f"bench/{script}", "--dry-run", "--json", str(out)],
                              cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"{script} --dry-run took over {TIMEOUT_S} s; it printed:\n"
                    f"{(e.stdout or b'')[-3000:]}")
    assert proc.returncode == 0, (f"{script} --dry-run exited {proc.returncode}:\n"
                                  f"{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")
    if "skipped:" in proc.stdout:
        return
    result = json.loads(out.read_text())
    assert result["completed"] and result["args"]["dry_run"]
    assert result["command"].startswith(f"python bench/{script} --dry-run")
    assert result["cpu"]["model"] and (result["lines"] or result["tables"])
