"""The app trains as fast as the command line: images/s over whole epochs, interleaved.

    MNIST_DATA_DIR=../shared/mnist python bench/app_vs_cli.py [--rounds 3] [--epochs N]
        [--watchers 0|1|2] [--browser-nice N|idle] [--replayed-watchers [--watchers 0,2,30]]

Each round runs, one after the other:
- the CLI: `python -m mnist_core train --preset fast --json` in a fresh lab home;
- the app: the same config started in a real `streamlit run streamlit_app.py` server (its own
  temporary lab home, started once), where two headless Chromium pages sit on the Train page:
  one clicks "Start training", both then watch the live view (its fragment refreshes every
  2 s) until the run is done (`--watchers`: how many watch; the others leave once it runs).
  `--browser-nice idle` (or a niceness such as 19) lowers the Chromiums' priority, standing in
  for students' own devices. `--replayed-watchers` goes further: the watchers are WebSocket
  sessions that replay a real watching browser's messages (opening the page during a run,
  then the live view's refresh), so the server does everything it does for a browser while
  nothing renders on this machine, as when the students' devices are their own. Those
  messages are captured once, in a run stopped before the measured rounds; in each app round
  the teacher's page presses Start and leaves once the run shows. Several counts
  (`--watchers 0,2,30`) put an app run with each into every round, compared within the hour.
Rounds rotate which side goes first. Speed is read from each run's record: every finished
epoch's `seconds` (training and validation of the 54,000 + 6,000 images), so it covers whole
epochs, not the first batches; "epochs 2+" leaves out the first, which also traces the model.
CPU use is (user + sys) / wall over the run (from the record's start to its end) of the CLI
process and of the server's process tree (a training child process included), of the main
process alone (the server without its training child: what two watchers cost it), and of the
whole machine (the browsers included). Prints a markdown table and the app/CLI ratio of the
medians (goal: >= 0.95). Loopback only; the server is stopped at the end.
"""
from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import harness
from harness import ROOT, cpu_seconds, tree_cpu_seconds
from harness_browser import FLAGS, Answer, browser_priority, record_sent, renice_browsers

from mnist_core.lab.store import RunStore

MNIST_IMAGES = 60_000
LIVE_REFRESH_SECONDS = 2.0   # the live view's refresh until the server asks for another


class CpuSampler:
    """Samples (wall clock, CPU seconds of a process tree, CPU seconds of the machine) every
    0.5 s in a thread, so that CPU use can be read for any window afterwards. Not more often:
    a sample reads every process in /proc (~4 ms), and at 10 a second the bench took ~5% of a
    core from the app's training child (at `nice` 10, it gives way) but shared it evenly with
    the CLI (at 0), which made the app look slower."""

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
            self._stop.wait(0.5)

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


class ReplayedWatcher:
    """A watcher without a browser: over its own WebSocket it sends what a real browser sent
    when it opened the Train page during a run, then the live view's own refresh (a rerun of
    that fragment) at the interval the server asks for, as a browser does (2 s, longer for a
    big class), and reads every answer to its end, until stopped. The server cannot tell it
    from a browser; it costs the client almost nothing."""

    def __init__(self, base: str, opening: bytes, refresh: bytes, every: float) -> None:
        self.url = base.replace("http", "ws", 1) + "/_stcore/stream"
        self.opening, self.refresh, self.every = opening, refresh, every
        self.answers: list[float] = []   # seconds from each refresh sent to its script's end
        self.intervals: set[float] = set()   # the refresh intervals it kept
        self.error: Exception | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> "ReplayedWatcher":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=60)
        if self.error is not None:
            raise RuntimeError(f"a replayed watcher failed: {self.error}") from self.error

    def _run(self) -> None:
        from websockets.sync.client import connect

        try:
            with connect(self.url, subprotocols=["streamlit"], max_size=None) as ws:
                self._answer(ws, self.opening)
                tick, chartless = time.monotonic(), 0
                while not self._stop.wait(max(0.0, tick + self.every - time.monotonic())):
                    tick = time.monotonic()
                    self.intervals.add(self.every)
                    answer = self._answer(ws, self.refresh)
                    if not answer.elements & {"plotly_chart", "ref_hash"}:
                        # Once the run has ended the live view draws nothing; the bench
                        # notices the end up to 0.2 s later. More than once is a failure.
                        if (chartless := chartless + 1) > 1:
                            raise RuntimeError("live-view refreshes drew no chart, only "
                                               f"{answer.elements}")
                        continue
                    self.answers.append(answer.seconds)
        except Exception as e:   # reported by stop(), in the main thread
            self.error = e

    def _answer(self, ws, message: bytes) -> Answer:
        """Send one message and read its answer, keeping the interval the server asks for."""
        answer = Answer()
        ws.send(message)
        while not answer.feed(ws.recv(timeout=60)):
            pass
        self.every = answer.auto_rerun or self.every
        return answer


def watcher_messages(frames: list[bytes]) -> tuple[bytes, bytes]:
    """Of the messages a browser sent after opening the Train page during a run: the opening
    (a whole-page rerun) and the live view's automatic refresh (a fragment rerun)."""
    from streamlit.proto.BackMsg_pb2 import BackMsg

    opening = refresh = None
    for frame in frames:
        message = BackMsg()
        message.ParseFromString(frame)
        if message.WhichOneof("type") != "rerun_script":
            continue
        if not message.rerun_script.fragment_id:
            opening = opening or frame
        elif message.rerun_script.is_auto_rerun:
            refresh = frame
    if opening is None or refresh is None:
        raise RuntimeError("the browser sent no opening or no live-view refresh")
    return opening, refresh


def watcher_counts(text: str) -> list[int]:
    """`--watchers`: one count, or several separated by commas."""
    return [int(n) for n in text.split(",")]


def speeds(record) -> dict:
    """Images/s of a finished run over all its whole epochs, and over epochs 2 and later."""
    config = record.config
    used = min(MNIST_IMAGES, config.get("limit") or MNIST_IMAGES)
    images = used - int(round(used * config["validation_fraction"]))
    seconds = [h["seconds"] for h in record.history]
    return {"epochs": seconds, "all": images * len(seconds) / sum(seconds),
            "steady": images * len(seconds[1:]) / sum(seconds[1:]) if len(seconds) > 1
            else float("nan"), "run": record}


def cli_round(epochs: int | None, limit: int | None = None) -> dict:
    with tempfile.TemporaryDirectory(prefix="mnist-cli-") as home:
        command = [sys.executable, "-m", "mnist_core", "train", "--preset", "fast", "--json"]
        if epochs:
            command += ["--epochs", str(epochs)]
        if limit:
            command += ["--limit", str(limit)]
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


def set_epochs(teacher, epochs: int | None, fewest_images: bool = False) -> None:
    """Type the epochs into the Train page's form (None: the preset's own); `fewest_images`
    (a dry run) also moves the training images to the slider's minimum, as the CLI's
    `--limit SMALLEST_LIMIT` does."""
    if fewest_images:
        slider = teacher.get_by_role("slider", name="Training images")
        slider.focus()
        teacher.keyboard.press("Home")
    if epochs:
        field = teacher.get_by_role("spinbutton", name="Epochs")
        field.fill(str(epochs))
        field.press("Enter")
        teacher.wait_for_timeout(1500)


def wait_for_the_run_to_end(store: RunStore, before, seconds: float) -> None:
    """Until the run started after `before` (the latest run then) is recorded as ended."""
    deadline = time.monotonic() + seconds
    while ((record := store.latest_run()) is None
           or (before is not None and record.id == before.id)
           or record.status == "running") and time.monotonic() < deadline:
        time.sleep(0.2)


def app_round(pages, server_pid: int, home: str, epochs: int | None, base: str,
              watchers: int, replayed: tuple[bytes, bytes] | None = None,
              fewest_images: bool = False) -> dict:
    """One run in the app. With `replayed` (a watcher's messages, from `capture_a_watcher`)
    only the teacher's page opens, presses Start and leaves once the run shows; the watchers
    are WebSocket sessions, so no browser renders anything here while the run is measured."""
    pages = pages[:1] if replayed else pages
    teacher = pages[0]
    for page in pages:
        page.goto(f"{base}/Train")
        page.get_by_role("button", name="Start training").wait_for()
    set_epochs(teacher, epochs, fewest_images)
    store = RunStore(home)
    before = store.latest_run()
    sampler = CpuSampler(server_pid)
    teacher.get_by_role("button", name="Start training").click()
    for page in pages:
        page.get_by_text("fast · running").wait_for()   # all watch the live charts...
    replayed_watchers = []
    if replayed:   # ...or sessions replaying a browser that opened the page during a run
        replayed_watchers = [ReplayedWatcher(base, *replayed, LIVE_REFRESH_SECONDS).start()
                             for _ in range(watchers)]
    watching_browsers = pages[:0 if replayed else watchers]
    for page in pages[len(watching_browsers):]:
        page.goto("about:blank")                         # ...but those told not to
    wait_for_the_run_to_end(store, before, 600)
    for page in watching_browsers:
        page.get_by_text("fast · done").wait_for(timeout=60_000)
    sampler.stop()
    for watcher in replayed_watchers:
        watcher.stop()
    record = store.latest_run()
    if record.status != "done":
        raise RuntimeError(f"the app's run ended {record.status}: {record.error}")
    answers = [s for w in replayed_watchers for s in w.answers]
    served = {"refreshes": len(answers),
              "refresh_p50": statistics.median(answers) if answers else float("nan"),
              "intervals": sorted({i for w in replayed_watchers for i in w.intervals})}
    return speeds(record) | served | dict(zip(("cores", "machine", "alone"),
                                              sampler.cores(record.created_at,
                                                            record.finished_at)))


def capture_a_watcher(pages, home: str, base: str, epochs: int | None) -> tuple[bytes, bytes]:
    """Before the measured rounds: start a run, let the second page open the Train page during
    it and keep what its browser sends, then stop the run. Capturing inside a measured round
    put two rendering Chromiums on the training's cores for its first epoch or two."""
    teacher, watcher = pages[:2]
    store = RunStore(home)
    before = store.latest_run()
    teacher.goto(f"{base}/Train")
    set_epochs(teacher, epochs)
    teacher.get_by_role("button", name="Start training").click()
    teacher.get_by_text("fast · running").wait_for()
    messages = messages_of_a_watcher(watcher, base)
    teacher.get_by_role("button", name="Stop training").click()
    teacher.get_by_role("button", name="Yes, stop").click()
    wait_for_the_run_to_end(store, before, 120)
    for page in pages:
        page.goto("about:blank")
    return messages


def messages_of_a_watcher(page, base: str) -> tuple[bytes, bytes]:
    """Open the Train page in `page` during the run and return what the browser sends: its
    opening and the live view's first automatic refresh."""
    page.sent.clear()
    page.goto(f"{base}/Train")
    page.get_by_text("fast · running").wait_for()
    deadline = time.monotonic() + 30
    while True:
        try:
            return watcher_messages(page.sent)
        except RuntimeError:
            if time.monotonic() > deadline:
                raise
            page.wait_for_timeout(200)


#: The Train page's slider minimum (Home key): the CLI's `--limit` in a dry run, same config.
SMALLEST_LIMIT = 1000


def main() -> None:
    parser = harness.parser(__doc__, browser=True)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=None,
                        help="epochs per run (default: the fast preset's own)")
    parser.add_argument("--watchers", type=watcher_counts, default=[2], metavar="N[,N...]",
                        help="browsers that watch the live charts to the end (0-2, default 2; "
                             "the others leave once the run has started); with "
                             "--replayed-watchers, any number of replayed sessions. Several "
                             "counts (e.g. 0,2): each round runs the app once with each, "
                             "beside the CLI, so that they are compared within the hour")
    parser.add_argument("--browser-nice", type=browser_priority, default=0, metavar="N|idle",
                        help="run the watching Chromiums at niceness N, or 'idle' (SCHED_IDLE: "
                             "as if on other devices); default 0: they compete with training "
                             "as equals")
    parser.add_argument("--replayed-watchers", action="store_true",
                        help="the watchers are WebSocket sessions replaying a real browser's "
                             "messages: the server serves them in full, nothing renders here")
    args = parser.parse_args()
    if not all(0 <= n <= (100 if args.replayed_watchers else 2) for n in args.watchers):
        parser.error("--watchers: 0-2 browsers (two Chromium pages), or up to 100 replayed")
    # One round on the slider's fewest images each side, watched (by at most 2): 6 epochs, so
    # that the run stays "running" over a few of the page's 2 s refreshes (1 can end unseen).
    harness.shrink(args, rounds=1, epochs=6, watchers=[min(max(args.watchers), 2)])
    limit = SMALLEST_LIMIT if args.dry_run else None
    harness.need_chromium(args)
    apps = {("app" if len(args.watchers) == 1 else f"app, {n} watching"): n
            for n in args.watchers}
    results = {"CLI": []} | {side: [] for side in apps}
    from playwright.sync_api import sync_playwright

    with harness.Report(args) as report, harness.Server(prefix="mnist-app-") as server:
        proc, home, base = server.proc, server.home, server.base
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=args.chromium, args=FLAGS)
            pages = [browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
                     for _ in range(2)]
            for page in pages:
                page.set_default_timeout(120_000)
                record_sent(page)
            who = ("replayed WebSocket session(s)" if args.replayed_watchers else
                   f"browser(s) at niceness {args.browser_nice}")
            report.say(f"{'/'.join(map(str, args.watchers))} {who} watching the app's live "
                       f"charts; training in a {os.environ.get('MNIST_LAB_TRAINING', 'process')}")
            table = report.table("rounds", [
                "round", "side", "epoch seconds", "img/s, all epochs", "img/s, epochs 2+",
                "run seconds", "cores busy: process tree / main process / machine",
                "test accuracy"])
            replayed = (capture_a_watcher(pages, home, base, args.epochs)
                        if args.replayed_watchers else None)
            bench_start = (time.monotonic(), cpu_seconds(os.getpid()))
            for r in range(args.rounds):
                sides = list(results)
                order = sides[r % len(sides):] + sides[:r % len(sides)]   # each goes first in turn
                for side in order:
                    renice_browsers(args.browser_nice)
                    res = cli_round(args.epochs, limit) if side == "CLI" else \
                        app_round(pages, proc.pid, home, args.epochs, base, apps[side],
                                  replayed, fewest_images=limit is not None)
                    results[side].append(res)
                    run = res["run"]
                    table.row(r + 1, side, ", ".join(f"{s:.1f}" for s in res["epochs"]),
                              f"{res['all']:,.0f}", f"{res['steady']:,.0f}", f"{run.seconds:.1f}",
                              f"{res['cores']:.2f} / {res['alone']:.2f} / {res['machine']:.2f}",
                              f"{100 * run.test_accuracy:.2f}%",
                              **{k: v for k, v in res.items() if k != "run"})
                    if res.get("refreshes"):
                        report.say(f"(the replayed watchers got {res['refreshes']} live-view "
                                   f"refreshes, median {1000 * res['refresh_p50']:.0f} ms each, "
                                   f"every {'/'.join(f'{i:g}' for i in res['intervals'])} s)")
            bench_cores = ((cpu_seconds(os.getpid()) - bench_start[1])
                           / (time.monotonic() - bench_start[0]))
            browser.close()
        server.stop()
        configs = {json.dumps(r["run"].config, sort_keys=True) for side in results.values()
                   for r in side}
        if len(configs) != 1:
            report.say("warning: the CLI's and the app's runs had different configs")
        med = {side: {k: statistics.median(r[k] for r in rs)
                      for k in ("all", "steady", "cores", "alone", "machine")}
               for side, rs in results.items()}
        report.say()
        medians = report.table("medians", [
            "median", "img/s, all epochs", "img/s, epochs 2+",
            "cores busy: process tree / main process / machine"])
        for side, m in med.items():
            medians.row(side, f"{m['all']:,.0f}", f"{m['steady']:,.0f}",
                        f"{m['cores']:.2f} / {m['alone']:.2f} / {m['machine']:.2f}", **m)
        for side in apps:
            ratio = {k: med[side][k] / med["CLI"][k] for k in ("all", "steady")}
            medians.row(f"{side} / CLI", f"**{ratio['all']:.3f}**", f"**{ratio['steady']:.3f}**",
                        "", **ratio)
        # The same from every epoch of every round pooled, by its median (robust to the odd
        # epoch that a neighbour on the machine slowed down).
        pooled = {side: statistics.median([s for r in rs for s in r["epochs"][1:]] or [math.nan])
                  for side, rs in results.items()}
        report.say()
        report.say(f"median epoch (epochs 2+, all rounds pooled): CLI {pooled['CLI']:.2f} s" +
                   "".join(f", {side} {pooled[side]:.2f} s ({side} / CLI speed = "
                           f"{pooled['CLI'] / pooled[side]:.3f})" for side in apps),
                   pooled_epoch_s=pooled)
        report.say()
        report.say(f"the bench itself (Playwright, replayed watchers, sampling): "
                   f"{bench_cores:.3f} cores over the rounds", bench_cores=bench_cores)
        report.say()
        report.say(f"same config on both sides: {len(configs) == 1} (goal: app/CLI >= 0.95)")


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    main()
