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
  the canvas's own delay after mouse-up (none in ours, ui/canvas/; 200 ms of debounce in
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

import asyncio
import os
import random
import time

import harness
from harness_browser import (FLAGS, ReplayedStudent, browser_priority, draw_and_wait,
                             drawing_message, open_draw_page, renice_browsers)


async def student(page, rounds: int, pace: float) -> list[tuple[float, float]]:
    """One session's rounds: all at once (pace 0) or once every `pace` seconds from a random
    start."""
    start = time.monotonic() + random.uniform(0, pace)
    timings = []
    for r in range(rounds):
        await asyncio.sleep(max(0.0, start + r * pace - time.monotonic()))
        timings.append(await draw_and_wait(page))
    return timings


def fill_class_set(home: str, n: int) -> None:
    """Save `n` distinct synthetic drawings in the lab home, as a class would have."""
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


async def run(args, report: harness.Report) -> None:
    server = harness.Server(prefix="mnist-load-")
    if args.wall:
        fill_class_set(server.home, args.wall)
    from playwright.async_api import async_playwright

    with server.start():
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=args.chromium, args=FLAGS)
            pages = [await open_draw_page(browser, server.base)]
            first, _ = await draw_and_wait(pages[0])
            cold = time.monotonic() - server.started
            rss = harness.memory_mb(server.pid, "VmRSS")
            report.say(f"cold start to first prediction on the Draw page: {cold:.1f} s (that "
                       f"first prediction took {first:.2f} s: TensorFlow import, model load)",
                       cold_start_s=cold, first_prediction_s=first)
            report.say(f"server memory with the model loaded, 1 session: {rss:.0f} MB",
                       rss_mb=rss)
            how = "all at once" if args.pace == 0 else f"each session once every {args.pace:g} s"
            report.say(f"{args.rounds} drawings per session, {how}; latencies p50 / p95 in ms; "
                       f"Chromium at niceness {args.browser_nice}; training in a "
                       f"{os.environ.get('MNIST_LAB_TRAINING', 'process')}")
            training = None
            if args.train:
                training = Training(browser, server.base, server.home, args.train,
                                    args.train_epochs)
                await training.start()
                await training.wait_for_epochs(args.solo_epochs)
                await training.stop()
                solo, solo_epochs = training.speed()
                report.say(f"training '{args.train}' alone (nobody drawing): {solo:,.0f} "
                           f"images/s over epochs 2-{solo_epochs + 1}", images_per_s=solo)
            others = "replayed sessions: drawing sent → answer" if args.replay else "-"
            table = report.table("sessions", [
                "sessions", "mouse-up → prediction", "drawing sent → prediction", others,
                "cores busy: server / all", "server RSS (MB)", "MB per extra session"]
                + (["training img/s (vs solo)"] if training else []))
            if args.wall is not None:
                wall_page = await (await browser.new_context(
                    viewport={"width": 1920, "height": 1080})).new_page()
                await wall_page.goto(f"{server.base}/Class")
                await wall_page.get_by_text("The class's drawings").wait_for(timeout=120_000)
                report.say(f"a 31st session shows the class wall (/Class, {args.wall} "
                           "drawings, refreshing every 2 s)")
            opening, drawing = pages[0].sent[0], drawing_message(pages[0].sent)
            replayed: list[ReplayedStudent] = []
            base_rss = None
            for n in args.sessions:
                browsers = 1 if args.replay else n
                while len(pages) < browsers:
                    pages.append(await open_draw_page(browser, server.base))
                while args.replay and len(replayed) < n - 1:
                    replayed.append(await ReplayedStudent(server.base, opening,
                                                          drawing).connect())
                if training:
                    await training.start()
                renice_browsers(args.browser_nice)
                wall = time.monotonic()
                server_cpu, all_cpu = harness.tree_cpu_seconds(server.pid), harness.cpu_seconds()
                rounds = await asyncio.wait_for(asyncio.gather(
                    *(student(pg, args.rounds, args.pace) for pg in pages[:browsers]),
                    *(r.rounds(args.rounds, args.pace) for r in replayed[:n - 1])), timeout=900)
                timings = [t for session in rounds[:browsers] for t in session]
                answers = [t for session in rounds[browsers:] for t in session]
                ended = time.monotonic()
                server_cores = (harness.tree_cpu_seconds(server.pid) - server_cpu) / (ended - wall)
                all_cores = (harness.cpu_seconds() - all_cpu) / (ended - wall)
                wall = ended - wall
                trained, speed = [], None
                if training:
                    still = training.store.get_run(training.run_id).status == "running"
                    await training.stop()
                    speed, epochs = training.speed(ended - wall, ended)
                    trained = [f"{speed:,.0f} ({speed / solo:.2f}x, {epochs} epochs"
                               f"{'' if still else '; ended before the rounds'})"]
                rss = harness.memory_mb(server.pid, "VmRSS")
                base_rss = rss if base_rss is None else base_rss
                per = (rss - base_rss) / (n - args.sessions[0]) if n > args.sessions[0] else 0
                seen = harness.percentiles([t[0] for t in timings], 1000)
                sent = harness.percentiles([t[1] for t in timings], 1000)
                other = harness.percentiles(answers, 1000) if answers else None
                table.row(n, f"{seen.p50:.0f} / {seen.p95:.0f}", f"{sent.p50:.0f} / {sent.p95:.0f}",
                          f"{other.p50:.0f} / {other.p95:.0f}" if other else "-",
                          f"{server_cores:.2f} / {all_cores:.2f}", f"{rss:.0f}", f"{per:.1f}",
                          *trained, seen_ms=seen, sent_ms=sent, replayed_ms=other,
                          training_images_per_s=speed)
            for r in replayed:
                await r.ws.close()
            await browser.close()


def main() -> None:
    parser = harness.parser(__doc__, browser=True)
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
    args = parser.parse_args()
    # One Chromium drawing once, and one replayed session: every step, in seconds. A training
    # (--train) still runs whole epochs of all of MNIST: a dry run leaves it out.
    harness.shrink(args, sessions=[1, 2], rounds=1, pace=0.0, replay=True, train=None,
                   wall=3 if args.wall else None)
    harness.need_chromium(args)
    with harness.Report(args) as report:
        asyncio.run(run(args, report))


if __name__ == "__main__":
    main()
