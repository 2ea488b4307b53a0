"""The harness's browser half: Chromium's flags and priority, a student drawing on the Draw
page, and sessions that replay a browser's WebSocket messages without one.

Shared by load.py, flood.py, memory.py and app_vs_cli.py, so that "mouse-up to prediction" and
"a replayed session" mean the same in each. Playwright is imported by the callers (sync or
async API as they need); this module only takes their pages.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import random
import time
from pathlib import Path

import harness  # noqa: F401  (the repository on sys.path)

#: Headless Chromium in a container: no sandbox, no GPU, nothing fetched from the internet.
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update"]
SEVEN = [(0.25, 0.18), (0.75, 0.18), (0.43, 0.86)]   # in 0..1 of the canvas side
CANVAS = "canvas.mnist-canvas"
# Timestamps taken inside the page: pen up (a pointer event: the canvas takes mouse, touch and
# pen alike), the next message the page sends to the server (the canvas's drawing), and the
# moment the prediction appears in the DOM. No Playwright round trip in between.
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
    main thread, so each thread is reniced: a renderer's compositor, raster and V8 threads
    would stay at 0 otherwise. New renderers fork from the zygote, new threads from a reniced
    thread, and inherit it. Chromium raises some of its own threads back (display and
    compositor threads to nice 0 or -8), so "idle" puts every thread under SCHED_IDLE instead,
    which Chromium leaves alone and new threads inherit: they run only on CPU time nothing
    else wants, the closest this machine has to another device."""
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


# --- a student on the Draw page (Playwright's async API) ---------------------------------------

def record_sent(page) -> None:
    """Keep every message the page sends the server (BackMsg protobufs) in `page.sent`."""
    page.sent = []
    page.on("websocket", lambda ws: ws.on("framesent", lambda frame: page.sent.append(frame)))


async def open_draw_page(browser, base: str):
    context = await browser.new_context(viewport={"width": 1200, "height": 900})
    await context.add_init_script(PROBE)
    page = await context.new_page()
    page.problems = []   # console errors, printed if a drawing never gets its prediction
    page.on("console", lambda m: m.type == "error" and page.problems.append(m.text))
    record_sent(page)
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
    from playwright.async_api import TimeoutError as PlaywrightTimeout

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
              f"problems: {getattr(page, 'problems', [])}", flush=True)
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


# --- sessions without a browser: the server's work, without Chromium's CPU ----------------------

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


def script_finished(frame: bytes) -> bool:
    """Whether a frame from the server ends a script run."""
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    reply = ForwardMsg()
    reply.ParseFromString(frame)
    return reply.WhichOneof("type") == "script_finished"


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
    """A session without a browser: over its own WebSocket it sends the server the very
    messages a real browser sent (opening the Draw page, then a drawing) and times each
    answer up to Streamlit's "script finished". The server cannot tell it from a browser; the
    client costs almost no CPU, so the server's cores are measured, not Chromium's."""

    def __init__(self, base: str, opening: bytes, drawing: bytes) -> None:
        self.url = base.replace("http", "ws", 1) + "/_stcore/stream"
        self.opening, self.drawing, self.ws = opening, drawing, None

    async def connect(self) -> "ReplayedStudent":
        import websockets

        self.ws = await websockets.connect(self.url, subprotocols=["streamlit"], max_size=None)
        await self._answer(self.opening)
        return self

    async def rounds(self, rounds: int, pace: float) -> list[float]:
        """`rounds` drawings, one every `pace` seconds from a random start (0: at once)."""
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
