"""Hostile clients flooding the server with oversized drawings, while a student draws.

    MNIST_DATA_DIR=../shared/mnist python bench/flood.py [--attackers 4] [--seconds 60]
                                                         [--payload oversized|largest|nested]
                                                         [--size-mb 14.6] [--settle 150]

Starts `streamlit run streamlit_app.py` on a free loopback port with its own temporary lab
home (the harness's server), opens the Draw page in Debian's Chromium (the student), and
records the messages that page sends. Then `--attackers` browser-less clients, with no teacher
key, do what the issue's probe did for `--seconds`: each opens a new session (Streamlit's
WebSocket, the very opening message a browser sends), sends the Draw page's drawing message
with the canvas's value replaced by a hostile one, waits for the answer or for the server to
close the connection, and starts over. Payloads:
- `oversized`: a drawing of `--size-mb` MB of points (the probe sent 14.6 MB);
- `largest`: the largest message the server accepts (just under its inbound limit);
- `nested`: an array nested as deep as that message allows.

Meanwhile the student draws a 7 once a second; its latency is timed inside the page, from
the pen lifting to the prediction on screen (as in bench/load.py). The server's memory (PSS,
/proc/PID/smaps_rollup) is sampled every half second: before, the peak during the flood, and
`--settle` seconds after it (Streamlit keeps a disconnected session for two minutes in case its
browser comes back). Loopback only, bounded in time; the server is stopped at the end.
"""
from __future__ import annotations

import asyncio
import json
import time

import harness
from harness_browser import (FLAGS, draw_and_wait, drawing_message, open_draw_page,
                             script_finished)
from ui.patches import MAX_MESSAGE_BYTES  # noqa: E402  (harness has put the repo root on sys.path)


def canvas_payload(kind: str, size_mb: float) -> str:
    """The hostile value of the canvas's state, as JSON text of about `size_mb` MB."""
    target = int(size_mb * 1e6)
    if kind == "nested":
        depth = max(1, (target - 60) // 2)
        return json.dumps({"drawing": {"generation": 0, "strokes": None}}).replace(
            "null", "[" * depth + "]" * depth)
    point = "[0.123456789,0.987654321],"
    points = max(1, (target - 80) // len(point))
    strokes = "[[" + (point * points)[:-1] + "]]"
    return '{"drawing": {"generation": 0, "strokes": ' + strokes + "}}"


def hostile_message(drawing: bytes, payload: str) -> bytes:
    """The browser's drawing message with the canvas's value replaced by `payload`."""
    from streamlit.proto.BackMsg_pb2 import BackMsg

    message = BackMsg()
    message.ParseFromString(drawing)
    for widget in message.rerun_script.widget_states.widgets:
        if widget.WhichOneof("value") == "json_value" and "strokes" in widget.json_value:
            widget.json_value = payload
            return message.SerializeToString()
    raise RuntimeError("the drawing message carries no canvas value")


class Attacker:
    """One browser-less client: a new session per hostile message, as fast as it is answered."""

    def __init__(self, base: str, opening: bytes, hostile: bytes) -> None:
        self.url = base.replace("http", "ws", 1) + "/_stcore/stream"
        self.opening, self.hostile = opening, hostile
        self.sent = self.closed = self.answered = 0

    async def run(self, until: float) -> None:
        import websockets

        while time.monotonic() < until:
            try:
                async with websockets.connect(self.url, subprotocols=["streamlit"],
                                              max_size=None, open_timeout=30) as ws:
                    await ws.send(self.opening)   # the page opens, as in a browser
                    while not script_finished(await asyncio.wait_for(ws.recv(), timeout=30)):
                        pass
                    await ws.send(self.hostile)
                    self.sent += 1
                    while not script_finished(await asyncio.wait_for(ws.recv(), timeout=30)):
                        pass
                    self.answered += 1
            except (websockets.ConnectionClosed, OSError, asyncio.TimeoutError):
                self.closed += 1
                await asyncio.sleep(0.05)


async def sample_memory(pid: int, samples: list[float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        samples.append(harness.memory_mb(pid))
        await asyncio.sleep(0.5)


async def student(page, until: float) -> list[float]:
    """Mouse-up to prediction, in seconds, for a 7 drawn about once a second."""
    seconds = []
    while time.monotonic() < until:
        started = time.monotonic()
        seconds.append((await draw_and_wait(page))[0])
        await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - started)))
    return seconds


async def run(args, report: harness.Report) -> None:
    from playwright.async_api import async_playwright

    with harness.Server(prefix="mnist-flood-") as server:
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=args.chromium, args=FLAGS)
            page = await open_draw_page(browser, server.base)
            for _ in range(args.warm):  # warm: the model loaded, the page's charts drawn once
                await draw_and_wait(page)
            quiet = harness.percentiles(await student(page, time.monotonic() + args.quiet),
                                        1000)
            opening, drawing = page.sent[0], drawing_message(page.sent)
            size = args.size_mb if args.payload != "largest" else args.limit_mb * 0.95
            hostile = hostile_message(drawing, canvas_payload(args.payload, size))
            before = harness.memory_mb(server.pid)
            report.say(f"payload: {args.payload}, message {len(hostile) / 1e6:.2f} MB (a real "
                       f"drawing's: {len(drawing) / 1e3:.1f} kB); {args.attackers} attackers "
                       f"for {args.seconds:g} s")
            report.say(f"student alone: mouse-up → prediction p50 {quiet.p50:.0f} ms, p95 "
                       f"{quiet.p95:.0f} ms ({quiet.n} drawings); server PSS {before:.0f} MB",
                       quiet_ms=quiet, pss_mb=before)
            samples: list[float] = []
            stop = asyncio.Event()
            sampler = asyncio.create_task(sample_memory(server.pid, samples, stop))
            until = time.monotonic() + args.seconds
            cpu = harness.cpu_seconds(server.pid)
            attackers = [Attacker(server.base, opening, hostile) for _ in range(args.attackers)]
            results = await asyncio.gather(student(page, until),
                                           *(a.run(until) for a in attackers))
            cores = (harness.cpu_seconds(server.pid) - cpu) / args.seconds
            during = harness.percentiles(results[0], 1000)
            after_flood = harness.memory_mb(server.pid)
            await asyncio.sleep(args.settle)
            stop.set()
            await sampler
            settled = harness.memory_mb(server.pid)
            sent, answered = sum(a.sent for a in attackers), sum(a.answered for a in attackers)
            closed = sum(a.closed for a in attackers)
            report.say(f"attackers: {sent} hostile messages sent, {answered} answered, "
                       f"{closed} connections closed by the server", sent=sent,
                       answered=answered, closed=closed)
            report.say(f"student under flood: p50 {during.p50:.0f} ms, p95 {during.p95:.0f} ms, "
                       f"max {during.max:.0f} ms ({during.n} drawings); server busy "
                       f"{cores:.2f} cores", flood_ms=during, server_cores=cores)
            peak = max(samples)
            report.say(f"server PSS: before {before:.0f} MB, peak {peak:.0f} MB "
                       f"(+{peak - before:.0f}), at the end of the flood {after_flood:.0f} MB,"
                       f" {args.settle:g} s later {settled:.0f} MB ({settled - before:+.0f})",
                       before_mb=before, peak_mb=peak, end_mb=after_flood, settled_mb=settled)
            await browser.close()


def main() -> None:
    parser = harness.parser(__doc__, browser=True)
    parser.add_argument("--attackers", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--payload", choices=["oversized", "largest", "nested"],
                        default="oversized")
    parser.add_argument("--size-mb", type=float, default=14.6)
    parser.add_argument("--limit-mb", type=float, default=MAX_MESSAGE_BYTES / 2 ** 20,
                        help="the server's inbound message limit, for --payload largest "
                             "(default: ui.patches.MAX_MESSAGE_BYTES)")
    parser.add_argument("--settle", type=float, default=150,
                        help="seconds to wait after the flood before reading memory again")
    args = parser.parse_args()
    args.warm, args.quiet = 3, 10     # drawings to warm up; seconds of the student alone
    harness.shrink(args, attackers=1, seconds=3.0, size_mb=2.0, settle=0.5, warm=1, quiet=2)
    harness.need_chromium(args)
    with harness.Report(args) as report:
        asyncio.run(run(args, report))


if __name__ == "__main__":
    main()
