"""Cold start, memory and latency with many students drawing at once, in real browsers.

    MNIST_DATA_DIR=../shared/mnist python bench/load.py [--sessions 1 10 30] [--rounds 3]

Starts `streamlit run streamlit_app.py` on a free loopback port (its own temporary lab home),
then, in Debian's Chromium through Playwright:
- cold start: seconds from launching the server to the Draw page showing its first prediction;
- for each N: N browser sessions on the Draw page each draw a digit, wait for the prediction,
  clear, `--rounds` times, all at once. Latency is from releasing the mouse to the prediction
  being on screen, as a student sees it (rerun, model call, network and rendering included);
- the server's resident memory after each N, and its growth per extra session.
Loopback only, bounded in rounds and time; the server is stopped at the end. Chromium runs on
the same two cores as the server, so these latencies are pessimistic.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEVEN = [(70, 50), (210, 50), (120, 240)]
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update"]


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
         "true", "--server.port", str(port), "--server.address", "127.0.0.1"],
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


async def open_draw_page(browser, base: str):
    context = await browser.new_context(viewport={"width": 1200, "height": 900})
    page = await context.new_page()
    await page.goto(f"{base}/Draw")
    await page.wait_for_selector("canvas.upper-canvas", timeout=120_000)
    await page.wait_for_timeout(1000)
    return page


async def draw_and_wait(page) -> float:
    """Draw a 7, return seconds from mouse-up to the prediction on screen; then clear."""
    box = await page.locator("canvas.upper-canvas").bounding_box()
    await page.mouse.move(box["x"] + SEVEN[0][0], box["y"] + SEVEN[0][1])
    await page.mouse.down()
    for (x0, y0), (x1, y1) in zip(SEVEN, SEVEN[1:]):
        for i in range(1, 9):
            await page.mouse.move(box["x"] + x0 + (x1 - x0) * i / 8,
                                  box["y"] + y0 + (y1 - y0) * i / 8)
    released = time.monotonic()
    await page.mouse.up()
    await page.locator('[data-testid="stMetricValue"]').first.wait_for(timeout=120_000)
    latency = time.monotonic() - released
    old = await page.locator("canvas.upper-canvas").element_handle()
    await page.get_by_role("button", name="Clear").click()
    await page.wait_for_function("c => !c.isConnected", arg=old, timeout=120_000)
    await page.get_by_text("Draw a digit (0-9)").wait_for(timeout=120_000)
    await page.wait_for_timeout(500)
    return latency


async def run(args) -> None:
    from playwright.async_api import async_playwright

    home = tempfile.mkdtemp(prefix="mnist-load-")
    proc, base, started = start_server(home)
    try:
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=args.chromium, args=FLAGS)
            pages = [await open_draw_page(browser, base)]
            first = await draw_and_wait(pages[0])
            cold = time.monotonic() - started
            print(f"cold start to first prediction on the Draw page: {cold:.1f} s "
                  f"(that first prediction took {first:.2f} s: TensorFlow import, model load)")
            print(f"server memory with the model loaded, 1 session: {rss_mb(proc.pid):.0f} MB")
            print("| sessions | p50 latency (ms) | p95 latency (ms) | server RSS (MB) | "
                  "MB per extra session |")
            print("|---|---|---|---|---|")
            base_rss = None
            for n in args.sessions:
                while len(pages) < n:
                    pages.append(await open_draw_page(browser, base))
                latencies: list[float] = []
                for _ in range(args.rounds):
                    latencies += await asyncio.wait_for(
                        asyncio.gather(*(draw_and_wait(pg) for pg in pages[:n])), timeout=600)
                rss = rss_mb(proc.pid)
                base_rss = rss if base_rss is None else base_rss
                per = (rss - base_rss) / (n - args.sessions[0]) if n > args.sessions[0] else 0
                ms = sorted(1000 * v for v in latencies)
                p95 = ms[min(len(ms) - 1, int(round(0.95 * (len(ms) - 1))))]
                print(f"| {n} | {statistics.median(ms):.0f} | {p95:.0f} | {rss:.0f} | "
                      f"{per:.1f} |", flush=True)
            await browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 10, 30])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
