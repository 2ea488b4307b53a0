"""What an open page costs the server while nobody touches it: the class-model check.

    MNIST_DATA_DIR=../shared/mnist python bench/idle_pages.py [--pages 0 5 10] [--seconds 30]
                                                             [--page Draw]

Every open page asks the server every app_state.CLASS_MODEL_POLL_SECONDS (3 s) whether the
teacher changed the class model, so that it switches within seconds (issue 33). A class of 30
keeps 30 pages open for an hour: this measures the server's CPU (its process's user + system
time, /proc) per second of wall time with N idle Chromium pages open on one page of the app, and
so the cost of one open page. Then it makes another model the class model (as the teacher's
button does) and times how long the open pages take to show it.

Starts `streamlit run streamlit_app.py` on a free loopback port with its own temporary lab home;
the browsers run on the same machine (their CPU is not counted).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from load import FLAGS, cpu_seconds, start_server  # noqa: E402  (as the load bench does)


def a_model_to_switch_to(home: Path) -> str:
    """A stored run with a real (tiny) model, as a finished training leaves it."""
    from mnist_core.model.build import build_model
    from mnist_core.training.presets import PRESETS
    from mnist_core.lab.store import RunStore

    store, config = RunStore(home), PRESETS["dense-only"].config
    run_id = store.create_run(config.to_dict(), "MNIST")
    store.finish_run(run_id, status="done", model=build_model(config.spec, "float32"),
                     history=[{"epoch": 1}], test_accuracy=0.9)
    return run_id


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pages", type=int, nargs="+", default=[0, 5, 10])
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--page", default="Draw")
    args = ap.parse_args()
    home = Path(tempfile.mkdtemp(prefix="idle-pages-"))
    run_id = a_model_to_switch_to(home)
    server, base, _ = start_server(str(home))
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
            pages = []
            print(f"{'open pages':>10} {'server CPU (cores)':>19} {'per page (ms/s)':>16}")
            idle = None
            for n in sorted(args.pages):
                while len(pages) < n:
                    page = browser.new_context(viewport={"width": 1366, "height": 768}).new_page()
                    page.goto(f"{base}/{args.page}")
                    page.get_by_text("Class model:").first.wait_for(timeout=120_000)
                    pages.append(page)
                time.sleep(3)   # let the last page settle
                start_cpu, start = cpu_seconds(server.pid), time.monotonic()
                time.sleep(args.seconds)
                cores = (cpu_seconds(server.pid) - start_cpu) / (time.monotonic() - start)
                idle = cores if idle is None else idle
                per_page = 1000 * (cores - idle) / n if n else float("nan")
                print(f"{n:>10} {cores:>19.4f} {per_page:>16.2f}")
            if pages:
                from mnist_core.lab.store import RunStore

                switched = time.monotonic()
                RunStore(home).set_class_model(run_id)   # what the teacher's button stores
                for page in pages:
                    page.get_by_text(run_id).first.wait_for(timeout=30_000)
                print(f"all {len(pages)} open pages showed the new class model "
                      f"{time.monotonic() - switched:.1f} s after it was set")
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
