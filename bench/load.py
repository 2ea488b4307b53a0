"""Cold start, memory and latency with many students drawing at once, in real browsers.

    MNIST_DATA_DIR=../shared/mnist python bench/load.py [--sessions 1 10 30] [--rounds 3]
                                                        [--pace SECONDS] [--replay]
                                                        [--wall DRAWINGS] [--train PRESET]
                                                        [--browser-nice N|idle]

Starts `streamlit run streamlit_app.py` on a free loopback port (its own temporary lab home),
then, in Debian's Chromium through Playwright:
- cold start: seconds from launching the server to the Draw page showing its first prediction;
- for each N: N browser sessions on the Draw page each draw a digit, wait for the prediction,
  clear, `--rounds` times. With `--pace 0` (the default) all sessions release the mouse at the
  same moment, every round: the worst case. With `--pace S` each session starts at a random
  moment within S seconds and then draws once every S seconds, like a class drawing at its
  own pace;
- two latencies, both timed inside the page (performance.now(), no Playwright delay): from
  releasing the mouse to the prediction on screen, as a student sees it; and from the moment
  the canvas sends the drawing to the server to the prediction on screen. The difference is
  the canvas's own delay after mouse-up (none in ours, draw_canvas/; 200 ms of debounce in
  streamlit-drawable-canvas 0.13, which it replaced: docs/canvas.md);
- with `--replay`, one Chromium session and N-1 sessions that replay its WebSocket messages
  without a browser (see ReplayedStudent), so that 30 Chromiums do not eat the server's CPU;
- CPU use of the server and of the whole machine, the server's resident memory after each N,
  and its growth per extra session;
- with `--wall N`, one more Chromium session keeps the Class page (the class wall, refreshing
  every 2 s) open over N saved drawings while the others draw;
- with `--train PRESET`, a training of that preset (all of MNIST, `--train-epochs` epochs) runs
  in the server while the sessions draw: a separate Chromium session opens the Train page,
  presses Start and leaves (nobody watches the live charts), just before each N's rounds, and
  stops the run once they end. First the same training runs with nobody drawing (its first
  `--solo-epochs` epochs). Its speed is images/s over whole epochs, read from the run's record
  (each epoch's `seconds`): with drawing, the epochs that began and ended during the rounds;
  the first epoch (which also traces the model) is never counted.
Loopback only, bounded in rounds and time; the server is stopped at the end.

    MNIST_DATA_DIR=../shared/mnist python bench/load.py --sessions 1 30 --rounds 15 --pace 5 \
        --replay --train fast
"""
from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.async_api import TimeoutError as PlaywrightTimeout
from playwright.async_api import async_playwright

ROOT = Path(__file__).resolve().parent.parent
SEVEN = [(0.25, 0.18), (0.75, 0.18), (0.43, 0.86)]   # in 0..1 of the canvas side
CANVAS = "canvas.mnist-canvas"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update"]
# Timestamps taken inside the page: pen up (a pointer event: the canvas takes mouse, touch and
# pen alike), the next message the page sends to the server (the canvas's drawing), and the
# moment the prediction appears in the DOM.
PROBE = """
window.__lab = {up: null, sent: null, shown: null};
window.addEventListener('pointerup', () => {
  window.__lab = {up: performance.now(), sent: null, shown: null};
  const seen = () => document.querySelector('[data-testid="stMetricValue"]');
  new MutationObserver((_, observer) => {
    if (seen()) { window.__lab.shown = performance.now(); observer.disconnect(); }
  }).observe(document.body, {childList: true, subtree: true});
}, true);
const send = WebSocket.prototype.send;
WebSocket.prototype.send = function (data) {
  if (window.__lab.up !== null && window.__lab.sent === null) window.__lab.sent = performance.now();
  return send.call(this, data);
};
"""


def browser_priority(value: str) -> int | str:
    """`--browser-nice`: a niceness 0-19, or "idle" (SCHED_IDLE, see `renice_browsers`)."""
    if value == "idle":
        return value
    niceness = int(value)
    if not 0 <= niceness <= 19:
        raise argparse.ArgumentTypeError("a niceness is 0-19, or 'idle'")
    return niceness


def renice_browsers(niceness: int | str) -> None:
    """Lower the priority of every thread of every Chromium process on the machine. Stands in
    for browsers on the students' own devices: the server still serves them (every fragment
    rerun, every delta), but their drawing only gets the CPU that training leaves.

    Linux keeps a nice value per thread, and `setpriority` on a process id reaches only its
    main thread, so each thread is reniced (until 2026-11-27 only the main ones were: a
    renderer's compositor, raster and V8 threads stayed at 0). New renderers fork from the
    zygote, new threads from a reniced thread, and inherit it. Chromium raises some of its own
    threads back (display and compositor threads to nice 0 or -8, 16 of ~140 in one count), so
    "idle" puts every thread under SCHED_IDLE instead, which Chromium leaves alone and new
    threads inherit: they run only on CPU time nothing else wants, the closest this machine
    has to another device."""
    for proc in Path("/proc").iterdir():
        try:
            if not (proc.name.isdigit() and "chrom" in (proc / "comm").read_text()):
                continue
            tids = [int(task.name) for task in (proc / "task").iterdir()]
        except OSError:
            continue     # gone, or not ours
        for tid in tids:
            try:
                if niceness == "idle":
                    os.sched_setscheduler(tid, os.SCHED_IDLE, os.sched_param(0))
                else:
                    os.setpriority(os.PRIO_PROCESS, tid,
                                   max(niceness, os.getpriority(os.PRIO_PROCESS, tid)))
            except OSError:
                pass     # this thread ended meanwhile: the others still get reniced


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start_server(home: str) -> tuple[subprocess.Popen, str, float]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.headless",
         "true", "--server.port", str(port), "--server.address", "127.0.0.1",
         "--server.fileWatcherType", "none"],   # an edited file must not reload mid-measurement
        cwd=ROOT, env=dict(os.environ, MNIST_LAB_HOME=home), stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    while time.monotonic() - started < 60:
        try:
            with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2):
                return proc, base, started
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the server did not start")


def cpu_seconds(pid: int | None = None) -> float:
    """CPU time used so far by process `pid`, or by the whole machine (all processes)."""
    tick = os.sysconf("SC_CLK_TCK")
    if pid is None:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
        busy = sum(int(v) for v in fields) - int(fields[3]) - int(fields[4])  # minus idle, iowait
        return busy / tick
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / tick  # utime + stime


def tree_cpu_seconds(pid: int) -> float:
    """CPU time used so far by process `pid` and all its descendants (a training child
    process included): every live process of the tree, and the children they reaped."""
    tick = os.sysconf("SC_CLK_TCK")
    stats = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stats[int(entry.name)] = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue   # it just ended
    children: dict[int, list[int]] = {}
    for child, fields in stats.items():
        children.setdefault(int(fields[1]), []).append(child)
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        fields = stats.get(p)
        if fields is None:
            continue
        # utime + stime, + cutime + cstime: children it has reaped (never counted twice: a
        # reaped process is no longer in /proc)
        total += sum(int(v) for v in fields[11:15])
        todo += children.get(p, [])
    return total / tick


async def open_draw_page(browser, base: str):
    context = await browser.new_context(viewport={"width": 1200, "height": 900})
    await context.add_init_script(PROBE)
    page = await context.new_page()
    page.problems = []   # console errors, printed if a drawing never gets its prediction
    page.on("console", lambda m: m.type == "error" and page.problems.append(m.text))
    page.sent = []   # every message the page sends the server (BackMsg protobufs)
    page.on("websocket", lambda ws: ws.on("framesent", lambda frame: page.sent.append(frame)))
    await page.goto(f"{base}/Draw")
    await page.wait_for_selector(CANVAS, timeout=120_000)
    await page.get_by_text("Draw a digit (0-9)").wait_for(timeout=120_000)
    return page


async def settled_canvas_box(page) -> dict:
    """The canvas's position once it has its size and has stopped moving (the page may still
    be laying out around it under load)."""
    canvas, last = page.locator(CANVAS), None
    while True:
        box = await canvas.bounding_box()
        if box and box["width"] > 100 and box == last:
            return box
        last = box
        await page.wait_for_timeout(100)


async def draw_and_wait(page, clear: bool = True) -> tuple[float, float]:
    """Draw a 7; return (mouse-up to prediction, drawing sent to prediction) in seconds;
    then clear (unless `clear` is False: the drawing stays, with its prediction)."""
    box = await settled_canvas_box(page)
    seven = [(box["x"] + x * box["width"], box["y"] + y * box["height"]) for x, y in SEVEN]
    await page.mouse.move(*seven[0])
    await page.mouse.down()
    for (x0, y0), (x1, y1) in zip(seven, seven[1:]):
        for i in range(1, 9):
            await page.mouse.move(x0 + (x1 - x0) * i / 8, y0 + (y1 - y0) * i / 8)
    await page.mouse.up()
    try:
        await page.wait_for_function("window.__lab.shown !== null", timeout=60_000)
    except PlaywrightTimeout:
        print(f"no prediction within 60 s: {await page.evaluate('window.__lab')}, page "
              f"problems: {page.problems}", flush=True)
        raise
    t = await page.evaluate("window.__lab")
    if not clear:
        return (t["shown"] - t["up"]) / 1000, (t["shown"] - t["sent"]) / 1000
    canvas = await page.locator(CANVAS).element_handle()
    generation = await canvas.get_attribute("data-generation")
    await page.get_by_role("button", name="Clear").click()
    # Clear empties the same canvas (a new generation), and the page shows its hint again.
    await page.wait_for_function("([c, g]) => c.dataset.generation !== g && "
                                 "c.dataset.strokes === '0'", arg=[canvas, generation],
                                 timeout=120_000)
    await page.get_by_text("Draw a digit (0-9)").wait_for(timeout=120_000)
    return (t["shown"] - t["up"]) / 1000, (t["shown"] - t["sent"]) / 1000


async def student(page, rounds: int, pace: float) -> list[tuple[float, float]]:
    """One session's rounds: all at once (pace 0) or once every `pace` seconds from a random
    start."""
    start = time.monotonic() + random.uniform(0, pace)
    timings = []
    for r in range(rounds):
        await asyncio.sleep(max(0.0, start + r * pace - time.monotonic()))
        timings.append(await draw_and_wait(page))
    return timings


def drawing_message(frames: list[bytes]) -> bytes:
    """Of the messages a page sent, the one carrying the canvas drawing: a rerun of the
    drawing fragment with no button press in it (the Clear button's rerun has one)."""
    from streamlit.proto.BackMsg_pb2 import BackMsg

    for frame in frames:
        message = BackMsg()
        message.ParseFromString(frame)
        rerun = message.rerun_script
        if rerun.fragment_id and not any(w.WhichOneof("value") == "trigger_value"
                                         for w in rerun.widget_states.widgets):
            return frame
    raise RuntimeError("the browser sent no drawing")


class Answer:
    """What the server sends back for one replayed message, fed one WebSocket frame at a time
    until its script run finishes: the kinds of elements drawn ("metric", "plotly_chart"; a
    chart the client already holds comes as "ref_hash"), any refresh interval the server asks
    for (`auto_rerun`), and the seconds it took."""

    def __init__(self) -> None:
        self.started, self.seconds = time.monotonic(), None
        self.elements: set[str] = set()
        self.auto_rerun: float | None = None

    def feed(self, frame: bytes) -> bool:
        """Read one frame; True once the run has finished."""
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        reply = ForwardMsg()
        reply.ParseFromString(frame)
        kind = reply.WhichOneof("type")
        if kind == "delta" and reply.delta.WhichOneof("type") == "new_element":
            self.elements.add(reply.delta.new_element.WhichOneof("type"))
        elif kind == "ref_hash":
            self.elements.add(kind)
        elif kind == "auto_rerun":
            self.auto_rerun = reply.auto_rerun.interval
        elif kind == "script_finished":
            self.seconds = time.monotonic() - self.started
            return True
        return False


class ReplayedStudent:
    """A session without a browser, for `--replay`: over its own WebSocket it sends the server
    the very messages a real browser sent (opening the Draw page, then a drawing) and times
    each answer up to Streamlit's "script finished". The server cannot tell it from a browser;
    the client costs almost no CPU, so the server's two cores are measured, not Chromium's."""

    def __init__(self, base: str, opening: bytes, drawing: bytes) -> None:
        self.url = base.replace("http", "ws", 1) + "/_stcore/stream"
        self.opening, self.drawing, self.ws = opening, drawing, None

    async def connect(self) -> "ReplayedStudent":
        import websockets

        self.ws = await websockets.connect(self.url, subprotocols=["streamlit"], max_size=None)
        await self._answer(self.opening)
        return self

    async def rounds(self, rounds: int, pace: float) -> list[float]:
        start = time.monotonic() + random.uniform(0, pace)
        timings = []
        for r in range(rounds):
            await asyncio.sleep(max(0.0, start + r * pace - time.monotonic()))
            seconds, elements = await self._answer(self.drawing)
            if "metric" not in elements:
                raise RuntimeError(f"a replayed drawing got no prediction, only {elements}")
            timings.append(seconds)
        return timings

    async def _answer(self, message: bytes) -> tuple[float, set[str]]:
        """Send one message; (seconds until the run finished, kinds of elements drawn)."""
        answer = Answer()
        await self.ws.send(message)
        while not answer.feed(await asyncio.wait_for(self.ws.recv(), timeout=60)):
            pass
        return answer.seconds, answer.elements


def fill_class_set(home: str, n: int) -> None:
    """Save `n` distinct synthetic drawings in the lab home, as a class would have."""
    sys.path.insert(0, str(ROOT))
    from mnist_core.drawing.preprocess import to_mnist
    from mnist_core.lab.store import RunStore
    from mnist_core.drawing.synthetic import drawn_digits

    store = RunStore(home)
    images, labels = drawn_digits(n, seed=11)
    for image, label in zip(images, labels):
        store.add_drawing(to_mnist(image).image, int(label), None, None)


class Training:
    """A training started in the server the way a teacher does it (a Chromium page on the
    Train page presses Start, then leaves), watched through the lab home's run record: the
    moment each epoch's record appears is noted, so that the epochs run within a time window
    can be picked out afterwards."""

    def __init__(self, browser, base: str, home: str, preset: str, epochs: int) -> None:
        self.browser, self.base, self.preset, self.epochs = browser, base, preset, epochs
        self.home, self.page, self.run_id = home, None, None
        self.seen: dict[int, float] = {}    # epoch -> when its record appeared (monotonic)
        self._poller = None

    async def start(self) -> None:
        if self.page is None:
            self.page = await (await self.browser.new_context(
                viewport={"width": 1400, "height": 1000})).new_page()
            self.page.set_default_timeout(120_000)
        page = self.page
        await page.goto(f"{self.base}/Train")
        await page.get_by_role("button", name="Start training").wait_for()
        if self.preset != "fast":
            await page.get_by_label("Start from").click()
            await page.get_by_role("option", name=f"{self.preset} (preset)").click()
            await page.wait_for_timeout(1500)
        epochs = page.get_by_role("spinbutton", name="Epochs")
        await epochs.fill(str(self.epochs))
        await epochs.press("Enter")
        await page.wait_for_timeout(1500)
        await page.get_by_role("button", name="Start training").click()
        await page.get_by_text(" · running").wait_for()
        sys.path.insert(0, str(ROOT))
        from mnist_core.lab.store import RunStore

        self.store = RunStore(self.home)
        self.run_id, self.seen = self.store.latest_run().id, {}
        await page.goto("about:blank")        # nobody watches the live charts
        self._poller = asyncio.ensure_future(self._poll())

    async def _poll(self) -> None:
        while True:
            run = self.store.get_run(self.run_id)
            for h in run.history:
                self.seen.setdefault(h["epoch"], time.monotonic())
            if run.status not in ("running", "stopping"):
                return
            await asyncio.sleep(0.2)

    async def wait_for_epochs(self, n: int) -> None:
        while len(self.seen) < n and not self._poller.done():
            await asyncio.sleep(0.2)

    async def stop(self) -> None:
        page = self.page
        await page.goto(f"{self.base}/Train")
        stop = page.get_by_role("button", name="Stop training")
        start = page.get_by_role("button", name="Start training")
        await stop.or_(start).first.wait_for()
        if await stop.count():
            await stop.click()
            await page.get_by_role("button", name="Yes, stop").click()
        await start.wait_for(timeout=300_000)
        await self._poller
        await page.goto("about:blank")

    def speed(self, start: float = float("-inf"), end: float = float("inf")) -> tuple[float, int]:
        """(images/s, epochs) over the whole epochs after the first that began at or after
        `start` and ended by `end` (monotonic clock)."""
        run = self.store.get_run(self.run_id)
        used = min(60_000, run.config.get("limit") or 60_000)
        images = used - int(round(used * run.config["validation_fraction"]))
        seconds = [h["seconds"] for h in run.history if h["epoch"] > 1
                   and h["epoch"] in self.seen and self.seen[h["epoch"]] <= end
                   and self.seen[h["epoch"]] - h["seconds"] >= start - 0.25]
        return (images * len(seconds) / sum(seconds) if seconds else float("nan")), len(seconds)


def percentiles(seconds: list[float]) -> tuple[float, float]:
    ms = sorted(1000 * v for v in seconds)
    return statistics.median(ms), ms[min(len(ms) - 1, int(round(0.95 * (len(ms) - 1))))]


async def run(args) -> None:
    home = tempfile.mkdtemp(prefix="mnist-load-")
    if args.wall:
        fill_class_set(home, args.wall)
    proc, base, started = start_server(home)
    try:
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=args.chromium, args=FLAGS)
            pages = [await open_draw_page(browser, base)]
            first, _ = await draw_and_wait(pages[0])
            cold = time.monotonic() - started
            print(f"cold start to first prediction on the Draw page: {cold:.1f} s "
                  f"(that first prediction took {first:.2f} s: TensorFlow import, model load)")
            print(f"server memory with the model loaded, 1 session: {rss_mb(proc.pid):.0f} MB")
            how = "all at once" if args.pace == 0 else f"each session once every {args.pace:g} s"
            print(f"{args.rounds} drawings per session, {how}; latencies p50 / p95 in ms; "
                  f"Chromium at niceness {args.browser_nice}; training in a "
                  f"{os.environ.get('MNIST_LAB_TRAINING', 'process')}")
            training = None
            if args.train:
                training = Training(browser, base, home, args.train, args.train_epochs)
                await training.start()
                await training.wait_for_epochs(args.solo_epochs)
                await training.stop()
                solo, solo_epochs = training.speed()
                print(f"training '{args.train}' alone (nobody drawing): {solo:,.0f} images/s "
                      f"over epochs 2-{solo_epochs + 1}", flush=True)
            others = "replayed sessions: drawing sent → answer" if args.replay else "-"
            trains = " training img/s (vs solo) |" if training else ""
            print(f"| sessions | mouse-up → prediction | drawing sent → prediction | {others} | "
                  f"cores busy: server / all | server RSS (MB) | MB per extra session |{trains}")
            print("|---|---|---|---|---|---|---|" + ("---|" if training else ""))
            if args.wall is not None:
                wall_page = await (await browser.new_context(
                    viewport={"width": 1920, "height": 1080})).new_page()
                await wall_page.goto(f"{base}/Class")
                await wall_page.get_by_text("The class's drawings").wait_for(timeout=120_000)
                print(f"a 31st session shows the class wall (/Class, {args.wall} drawings, "
                      "refreshing every 2 s)")
            opening, drawing = pages[0].sent[0], drawing_message(pages[0].sent)
            replayed: list[ReplayedStudent] = []
            base_rss = None
            for n in args.sessions:
                browsers = 1 if args.replay else n
                while len(pages) < browsers:
                    pages.append(await open_draw_page(browser, base))
                while args.replay and len(replayed) < n - 1:
                    replayed.append(await ReplayedStudent(base, opening, drawing).connect())
                if training:
                    await training.start()
                renice_browsers(args.browser_nice)
                wall = time.monotonic()
                server_cpu, all_cpu = tree_cpu_seconds(proc.pid), cpu_seconds()
                rounds = await asyncio.wait_for(asyncio.gather(
                    *(student(pg, args.rounds, args.pace) for pg in pages[:browsers]),
                    *(r.rounds(args.rounds, args.pace) for r in replayed[:n - 1])), timeout=900)
                timings = [t for session in rounds[:browsers] for t in session]
                answers = [t for session in rounds[browsers:] for t in session]
                ended = time.monotonic()
                server_cores = (tree_cpu_seconds(proc.pid) - server_cpu) / (ended - wall)
                all_cores = (cpu_seconds() - all_cpu) / (ended - wall)
                wall = ended - wall
                trained = ""
                if training:
                    still = training.store.get_run(training.run_id).status == "running"
                    await training.stop()
                    speed, epochs = training.speed(ended - wall, ended)
                    trained = (f" {speed:,.0f} ({speed / solo:.2f}x, {epochs} epochs"
                               f"{'' if still else '; ended before the rounds'}) |")
                rss = rss_mb(proc.pid)
                base_rss = rss if base_rss is None else base_rss
                per = (rss - base_rss) / (n - args.sessions[0]) if n > args.sessions[0] else 0
                seen = percentiles([t[0] for t in timings])
                sent = percentiles([t[1] for t in timings])
                other = "%.0f / %.0f" % percentiles(answers) if answers else "-"
                print(f"| {n} | {seen[0]:.0f} / {seen[1]:.0f} | {sent[0]:.0f} / {sent[1]:.0f} | "
                      f"{other} | {server_cores:.2f} / {all_cores:.2f} | {rss:.0f} | {per:.1f} |"
                      f"{trained}", flush=True)
            for r in replayed:
                await r.ws.close()
            await browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 10, 30])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pace", type=float, default=0.0,
                        help="seconds between one session's drawings; 0: all sessions at once")
    parser.add_argument("--replay", action="store_true",
                        help="one Chromium session; the others replay its messages without a "
                             "browser, so Chromium does not take the server's CPU")
    parser.add_argument("--wall", type=int, metavar="DRAWINGS", default=None,
                        help="also keep a Chromium session open on the Class page (the wall "
                             "the teacher projects), with this many saved drawings on it")
    parser.add_argument("--train", metavar="PRESET", default=None,
                        help="also run a training of this preset in the server while the "
                             "sessions draw, and compare its speed with the same training "
                             "alone")
    parser.add_argument("--train-epochs", type=int, default=30,
                        help="epochs of that training: enough to outlast the rounds (it is "
                             "stopped when they end)")
    parser.add_argument("--solo-epochs", type=int, default=6,
                        help="whole epochs of the training alone, first included (not counted)")
    parser.add_argument("--browser-nice", type=browser_priority, default=0, metavar="N|idle",
                        help="run the Chromiums at niceness N while the sessions draw, or "
                             "'idle' (SCHED_IDLE: as if on the students' own devices); "
                             "default 0: as equals")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
