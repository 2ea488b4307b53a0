"""What an open page costs the server while nobody touches it: the class-model check.

    MNIST_DATA_DIR=../shared/mnist python bench/idle_pages.py [--pages 0 5 10] [--seconds 30]
                                                             [--page Draw]

Every open page asks the server every ui.models.CLASS_MODEL_POLL_SECONDS (3 s) whether the
teacher changed the class model, so that it switches within seconds (issue 33). A class of 30
keeps 30 pages open for an hour: this measures the server's CPU (its process's user + system
time, /proc) per second of wall time with N idle Chromium pages open on one page of the app, and
so the cost of one open page. Then it makes another model the class model (as the teacher's
button does) and times how long the open pages take to show it.

Starts `streamlit run streamlit_app.py` on a free loopback port with its own temporary lab home;
the browsers run on the same machine (their CPU is not counted).
"""
from __future__ import annotations

import re
import time
from pathlib import Path

import harness
from harness_browser import FLAGS


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


def shows_class_model(page, containing: str = "", timeout: float = 120) -> None:
    """Wait until the sidebar's model picker (a combobox: its text is its value) reads
    "Class model: ..." with `containing` in it: the page is drawn and follows the class."""
    from playwright.sync_api import expect

    expect(page.get_by_role("combobox", name="Model")).to_have_value(
        re.compile("^Class model: .*" + re.escape(containing)), timeout=timeout * 1000)


def main() -> None:
    ap = harness.parser(__doc__, browser=True)
    ap.add_argument("--pages", type=int, nargs="+", default=[0, 5, 10])
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--page", default="Draw")
    args = ap.parse_args()
    harness.shrink(args, pages=[0, 1], seconds=1.0)
    harness.need_chromium(args)
    from playwright.sync_api import sync_playwright

    server = harness.Server(prefix="idle-pages-")
    home = Path(server.home)
    run_id = a_model_to_switch_to(home)
    with harness.Report(args) as report, server.start():
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=args.chromium, args=FLAGS)
            pages = []
            table = report.table("idle pages", ["open pages", "server CPU (cores)",
                                                "per page (ms/s)"])
            idle = None
            for n in sorted(args.pages):
                while len(pages) < n:
                    page = browser.new_context(viewport={"width": 1366, "height": 768}).new_page()
                    page.goto(f"{server.base}/{args.page}")
                    shows_class_model(page)
                    pages.append(page)
                time.sleep(3)   # let the last page settle
                start_cpu, start = harness.cpu_seconds(server.pid), time.monotonic()
                time.sleep(args.seconds)
                cores = (harness.cpu_seconds(server.pid) - start_cpu) / (time.monotonic() - start)
                idle = cores if idle is None else idle
                per_page = 1000 * (cores - idle) / n if n else float("nan")
                table.row(n, f"{cores:.4f}", f"{per_page:.2f}", cores=cores,
                          per_page_ms_per_s=per_page)
            if pages:
                from mnist_core.lab.store import RunStore

                switched = time.monotonic()
                RunStore(home).set_class_model(run_id)   # what the teacher's button stores
                for page in pages:
                    shows_class_model(page, run_id, timeout=30)
                seconds = time.monotonic() - switched
                report.say(f"all {len(pages)} open pages showed the new class model "
                           f"{seconds:.1f} s after it was set", switch_s=seconds)
            browser.close()


if __name__ == "__main__":
    main()
