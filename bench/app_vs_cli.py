"""The app trains as fast as the command line: images/s over whole epochs, interleaved.

    MNIST_DATA_DIR=../shared/mnist python bench/app_vs_cli.py [--rounds 3] [--epochs N]
                                                              [--watchers 0|1|2] [--browser-nice N|idle]

Each round runs, one after the other:
- the CLI: `python -m mnist_core train --preset fast --json` in a fresh lab home;
- the app: the same config started in a real `streamlit run streamlit_app.py` server (its own
  temporary lab home, started once), where two headless Chromium pages sit on the Train page:
  one clicks "Start training", both then watch the live view (its fragment refreshes every
  2 s) until the run is done (`--watchers`: how many watch; the others leave once it runs).
  `--browser-nice idle` (or a niceness such as 19) lowers the Chromiums' priority, standing in
  for students' own devices.
Rounds alternate which side goes first. Speed is read from each run's record: every finished
epoch's `seconds` (training and validation of the 54,000 + 6,000 images), so it covers whole
epochs, not the first batches; "epochs 2+" leaves out the first, which also traces the model.
CPU use is (user + sys) / wall over the run (from the record's start to its end) of the CLI
process and of the server's process tree (a training child process included), of the main
process alone (the server without its training child: what two watchers cost it), and of the
whole machine (the browsers included). Prints a markdown table and the app/CLI ratio of the
medians (goal: >= 0.95). Loopback only; the server is stopped at the end.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from load import (FLAGS, browser_priority, cpu_seconds, renice_browsers,  # noqa: E402
                  start_server, tree_cpu_seconds)

from mnist_core.store import RunStore  # noqa: E402

MNIST_IMAGES = 60_000


class CpuSampler:
    """Samples (wall clock, CPU seconds of a process tree, CPU seconds of the machine) every
    0.1 s in a thread, so that CPU use can be read for any window afterwards."""

    def __init__(self, pid: int) -> None:
        self.pid, self.samples, self._stop = pid, [], threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.samples.append((time.time(), tree_cpu_seconds(self.pid), cpu_seconds(),
                                     cpu_seconds(self.pid)))
            except (OSError, IndexError):
                pass   # the process just ended
            self._stop.wait(0.1)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def cores(self, start: float, end: float) -> tuple[float, float, float]:
        """(process tree, machine, the process alone) CPU seconds per wall second between
        `start` and `end`."""
        def at(t: float, i: int) -> float:
            before = [s for s in self.samples if s[0] <= t] or self.samples[:1]
            after = [s for s in self.samples if s[0] >= t] or self.samples[-1:]
            (t0, *v0), (t1, *v1) = before[-1], after[0]
            return v0[i] if t1 == t0 else v0[i] + (v1[i] - v0[i]) * (t - t0) / (t1 - t0)
        wall = end - start
        return tuple((at(end, i) - at(start, i)) / wall for i in range(3))


def speeds(record) -> dict:
    """Images/s of a finished run over all its whole epochs, and over epochs 2 and later."""
    config = record.config
    used = min(MNIST_IMAGES, config.get("limit") or MNIST_IMAGES)
    images = used - int(round(used * config["validation_fraction"]))
    seconds = [h["seconds"] for h in record.history]
    return {"epochs": seconds, "all": images * len(seconds) / sum(seconds),
            "steady": images * len(seconds[1:]) / sum(seconds[1:]) if len(seconds) > 1
            else float("nan"), "run": record}


def cli_round(epochs: int | None) -> dict:
    home = tempfile.mkdtemp(prefix="mnist-cli-")
    command = [sys.executable, "-m", "mnist_core", "train", "--preset", "fast", "--json"]
    if epochs:
        command += ["--epochs", str(epochs)]
    proc = subprocess.Popen(command, cwd=ROOT, env=dict(os.environ, MNIST_LAB_HOME=home),
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    sampler = CpuSampler(proc.pid)
    out, _ = proc.communicate(timeout=600)
    sampler.stop()
    if proc.returncode != 0:
        raise RuntimeError(f"the CLI failed ({proc.returncode}): {out}")
    record = RunStore(home).get_run(json.loads(out)["run_id"])
    return speeds(record) | dict(zip(("cores", "machine", "alone"),
                                     sampler.cores(record.created_at, record.finished_at)))


def app_round(pages, server_pid: int, home: str, epochs: int | None, base: str,
              watchers: int) -> dict:
    teacher = pages[0]
    for page in pages:
        page.goto(f"{base}/Train")
        page.get_by_role("button", name="Start training").wait_for()
    if epochs:
        field = teacher.get_by_role("spinbutton", name="Epochs")
        field.fill(str(epochs))
        field.press("Enter")
        teacher.wait_for_timeout(1500)
    store = RunStore(home)
    before = store.latest_run()
    sampler = CpuSampler(server_pid)
    teacher.get_by_role("button", name="Start training").click()
    for page in pages:
        page.get_by_text("fast · running").wait_for()   # all watch the live charts...
    for page in pages[watchers:]:
        page.goto("about:blank")                         # ...but those told not to
    deadline = time.monotonic() + 600
    while ((record := store.latest_run()) is None
           or (before is not None and record.id == before.id)
           or record.status == "running") and time.monotonic() < deadline:
        time.sleep(0.2)
    for page in pages[:watchers]:
        page.get_by_text("fast · done").wait_for(timeout=60_000)
    sampler.stop()
    record = store.latest_run()
    if record.status != "done":
        raise RuntimeError(f"the app's run ended {record.status}: {record.error}")
    return speeds(record) | dict(zip(("cores", "machine", "alone"),
                                     sampler.cores(record.created_at, record.finished_at)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=None,
                        help="epochs per run (default: the fast preset's 3)")
    parser.add_argument("--watchers", type=int, default=2, choices=(0, 1, 2),
                        help="browsers that watch the live charts to the end (default 2; "
                             "the others leave once the run has started)")
    parser.add_argument("--browser-nice", type=browser_priority, default=0, metavar="N|idle",
                        help="run the watching Chromiums at niceness N, or 'idle' (SCHED_IDLE: "
                             "as if on other devices); default 0: they compete with training "
                             "as equals")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    home = tempfile.mkdtemp(prefix="mnist-app-")
    proc, base, _ = start_server(home)
    results = {"CLI": [], "app": []}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=args.chromium, args=FLAGS)
            pages = [browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
                     for _ in range(2)]
            for page in pages:
                page.set_default_timeout(120_000)
            print(f"{args.watchers} browser(s) watching the app's live charts at niceness "
                  f"{args.browser_nice}; training in a "
                  f"{os.environ.get('MNIST_LAB_TRAINING', 'process')}")
            print("| round | side | epoch seconds | img/s, all epochs | img/s, epochs 2+ | "
                  "run seconds | cores busy: process tree / main process / machine | "
                  "test accuracy |")
            print("|---|---|---|---|---|---|---|---|", flush=True)
            for r in range(args.rounds):
                order = ("CLI", "app") if r % 2 == 0 else ("app", "CLI")
                for side in order:
                    renice_browsers(args.browser_nice)
                    res = cli_round(args.epochs) if side == "CLI" else \
                        app_round(pages, proc.pid, home, args.epochs, base, args.watchers)
                    results[side].append(res)
                    run = res["run"]
                    print(f"| {r + 1} | {side} | {', '.join(f'{s:.1f}' for s in res['epochs'])}"
                          f" | {res['all']:,.0f} | {res['steady']:,.0f} | {run.seconds:.1f} | "
                          f"{res['cores']:.2f} / {res['alone']:.2f} / {res['machine']:.2f} | "
                          f"{100 * run.test_accuracy:.2f}% |", flush=True)
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    configs = {json.dumps(r["run"].config, sort_keys=True) for side in results.values()
               for r in side}
    if len(configs) != 1:
        print("warning: the CLI's and the app's runs had different configs")
    med = {side: {k: statistics.median(r[k] for r in rs)
                  for k in ("all", "steady", "cores", "alone", "machine")}
           for side, rs in results.items()}
    print()
    print("| median | img/s, all epochs | img/s, epochs 2+ | cores busy: process tree / main "
          "process / machine |")
    print("|---|---|---|---|")
    for side, m in med.items():
        print(f"| {side} | {m['all']:,.0f} | {m['steady']:,.0f} | {m['cores']:.2f} / "
              f"{m['alone']:.2f} / {m['machine']:.2f} |")
    print(f"| app / CLI | **{med['app']['all'] / med['CLI']['all']:.3f}** | "
          f"**{med['app']['steady'] / med['CLI']['steady']:.3f}** | |")
    # The same from every epoch of every round pooled, by its median (robust to the odd epoch
    # that a neighbour on the machine slowed down).
    pooled = {side: statistics.median(s for r in rs for s in r["epochs"][1:])
              for side, rs in results.items()}
    print(f"\nmedian epoch (epochs 2+, all rounds pooled): CLI {pooled['CLI']:.2f} s, app "
          f"{pooled['app']:.2f} s; app / CLI speed = {pooled['CLI'] / pooled['app']:.3f}")
    print(f"\nsame config on both sides: {len(configs) == 1} (goal: app/CLI >= 0.95)")


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    main()
