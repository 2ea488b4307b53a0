"""Hostile clients flooding the server with oversized drawings, while a student draws.

    MNIST_DATA_DIR=../shared/mnist python bench/flood.py [--attackers 4] [--seconds 60]
                                                         [--payload oversized|largest|nested]
                                                         [--size-mb 14.6] [--settle 150]

Starts `streamlit run streamlit_app.py` on a free loopback port with its own temporary lab
home (bench/load.py's server), opens the Draw page in Debian's Chromium (the student), and
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

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from playwright.async_api import async_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from load import (FLAGS, cpu_seconds, draw_and_wait, drawing_message,  # noqa: E402
                  open_draw_page, start_server)


def pss_mb(pid: int) -> float:
    """Proportional set size: the process's own pages, and its share of shared ones."""
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) / 1024
    return float("nan")


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
                    while not _finished(await asyncio.wait_for(ws.recv(), timeout=30)):
                        pass
                    await ws.send(self.hostile)
                    self.sent += 1
                    while not _finished(await asyncio.wait_for(ws.recv(), timeout=30)):
                        pass
                    self.answered += 1
            except (websockets.ConnectionClosed, OSError, asyncio.TimeoutError):
                self.closed += 1
                await asyncio.sleep(0.05)


def _finished(frame: bytes) -> bool:
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    reply = ForwardMsg()
    reply.ParseFromString(frame)
    return reply.WhichOneof("type") == "script_finished"


async def sample_memory(pid: int, samples: list[float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        samples.append(pss_mb(pid))
        await asyncio.sleep(0.5)


async def student(page, until: float) -> list[float]:
    """Mouse-up to prediction, in seconds, for a 7 drawn about once a second."""
    seconds = []
    while time.monotonic() < until:
        started = time.monotonic()
        seconds.append((await draw_and_wait(page))[0])
        await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - started)))
    return seconds


def p95(values: list[float]) -> float:
    return (statistics.quantiles(values, n=20, method="inclusive")[-1] if len(values) > 1
            else values[0])


async def run(args) -> None:
    server, base, _ = start_server(tempfile.mkdtemp(prefix="mnist-flood-"))
    try:
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
            page = await open_draw_page(browser, base)
            for _ in range(3):  # warm: the model loaded, the page's charts drawn once
                await draw_and_wait(page)
            quiet = await student(page, time.monotonic() + 10)
            opening, drawing = page.sent[0], drawing_message(page.sent)
            size = args.size_mb if args.payload != "largest" else args.limit_mb * 0.95
            hostile = hostile_message(drawing, canvas_payload(args.payload, size))
            before = pss_mb(server.pid)
            print(f"payload: {args.payload}, message {len(hostile) / 1e6:.2f} MB (a real "
                  f"drawing's: {len(drawing) / 1e3:.1f} kB); {args.attackers} attackers for "
                  f"{args.seconds:g} s")
            print(f"student alone: mouse-up → prediction p50 {statistics.median(quiet) * 1e3:.0f}"
                  f" ms, p95 {p95(quiet) * 1e3:.0f} ms ({len(quiet)} drawings); server PSS "
                  f"{before:.0f} MB")
            samples: list[float] = []
            stop = asyncio.Event()
            sampler = asyncio.create_task(sample_memory(server.pid, samples, stop))
            until = time.monotonic() + args.seconds
            cpu = cpu_seconds(server.pid)
            attackers = [Attacker(base, opening, hostile) for _ in range(args.attackers)]
            results = await asyncio.gather(student(page, until),
                                           *(a.run(until) for a in attackers))
            cores = (cpu_seconds(server.pid) - cpu) / args.seconds
            during = results[0]
            after_flood = pss_mb(server.pid)
            await asyncio.sleep(args.settle)
            stop.set()
            await sampler
            settled = pss_mb(server.pid)
            print(f"attackers: {sum(a.sent for a in attackers)} hostile messages sent, "
                  f"{sum(a.answered for a in attackers)} answered, "
                  f"{sum(a.closed for a in attackers)} connections closed by the server")
            print(f"student under flood: p50 {statistics.median(during) * 1e3:.0f} ms, p95 "
                  f"{p95(during) * 1e3:.0f} ms, max {max(during) * 1e3:.0f} ms "
                  f"({len(during)} drawings); server busy {cores:.2f} cores")
            print(f"server PSS: before {before:.0f} MB, peak {max(samples):.0f} MB "
                  f"(+{max(samples) - before:.0f}), at the end of the flood {after_flood:.0f} MB,"
                  f" {args.settle:g} s later {settled:.0f} MB ({settled - before:+.0f})")
            await browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attackers", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--payload", choices=["oversized", "largest", "nested"],
                        default="oversized")
    parser.add_argument("--size-mb", type=float, default=14.6)
    parser.add_argument("--limit-mb", type=float, default=1.0,
                        help="the server's inbound message limit, for --payload largest")
    parser.add_argument("--settle", type=float, default=150,
                        help="seconds to wait after the flood before reading memory again")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
