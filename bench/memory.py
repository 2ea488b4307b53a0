"""How much memory the server needs: its PSS after each page, and with a class on Draw.

    MNIST_DATA_DIR=../shared/mnist python bench/memory.py [--draw-sessions 30] [--settle 3]

Starts `streamlit run streamlit_app.py` on a free loopback port with its own temporary lab home
(the harness's `Server`), then in one Chromium page (Debian's, through Playwright) opens
every page of the app in turn through the sidebar, as a student or teacher would (one session:
the Inside page shows the digit drawn on Draw): Home, Train, Analyze (the bundled model, the
default; its evaluation of the 10,000 test images, confusion matrix and gallery), Draw (one
digit drawn, its prediction shown), Class, Inside. After each it waits for the page to finish
and `--settle` seconds more, then until the figures are steady, and reads the server's PSS:
the sum of Pss in /proc/PID/smaps_rollup (shared pages counted in proportion to how many
processes map them), and of it the anonymous part (Pss_Anon: the heap, Python's objects,
arrays, TensorFlow's buffers; the rest is mostly the libraries' code, whose share falls when
another process maps the same libraries).

The server's child processes are reported apart: the Train page starts the fork server that
forks each training (mnist_core.jobs.child_process), which holds TensorFlow for as long as the
server runs, and `multiprocessing` its resource tracker. At the end, each one's private memory
(what ending it would give back). A server started with MALLOC_ARENA_MAX in the environment
says so (the bench passes its environment on to the server).

With `--draw-sessions N` (N >= 1): one more Chromium session opens Draw and draws a digit, N-1
sessions replay its WebSocket messages without a browser (the harness's `ReplayedStudent`: opening
the page, then the drawing, `--rounds` times), and the first page goes back to Analyze: N
sessions on Draw and one on Analyze, and the server's PSS then.
"""
from __future__ import annotations

import asyncio
import os
from pathlib import Path

import harness
from harness_browser import (FLAGS, PROBE, ReplayedStudent, draw_and_wait, drawing_message,
                             open_draw_page)

#: Each page, and a text that shows once its content is there.
PAGES = [("Home", "Join from your device"), ("Train", "Train a network"),
         ("Analyze", "Misclassified test images"), ("Draw", "Draw a digit (0-9)"),
         ("Class", "The class's drawings"), ("Inside", "Layer by layer")]


def descendants(pid: int) -> list[tuple[int, str]]:
    """(pid, short command line) of every live descendant of `pid`."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], list(parents.get(pid, []))
    while todo:
        child = todo.pop()
        try:
            cmd = (Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ")
                   .decode(errors="replace").strip())
        except OSError:
            continue
        found.append((child, what_child(cmd)))
        todo += parents.get(child, [])
    return sorted(found)


def what_child(cmd: str) -> str:
    if "forkserver" in cmd:
        return "fork server"
    if "resource_tracker" in cmd:
        return "resource tracker"
    if "multiprocessing" in cmd or "spawn_main" in cmd:
        return "training child"
    return cmd[:40]


class Meter:
    """Reads and prints the server's (and its children's) PSS, one table row each time."""

    def __init__(self, pid: int, report: harness.Report, most_seconds: float = 60) -> None:
        self.pid, self.last, self.rows, self.most_seconds = pid, None, [], most_seconds
        self.table = report.table("memory", [
            "after", "server PSS (MB)", "change", "of it anonymous", "its children's PSS (MB)",
            "server + children"])

    def sample(self) -> tuple[float, list[tuple[str, float]]]:
        kids = []
        for child, what in descendants(self.pid):
            try:
                kids.append((what, harness.memory_mb(child)))
            except OSError:
                continue   # it just ended
        return harness.memory_mb(self.pid), kids

    async def read(self, label: str, steady_mb: float = 5) -> float:
        """Once the figures are steady (server and children together moved less than
        `steady_mb` in the last 3 s: MNIST read, the fork server's TensorFlow imported), or
        after `most_seconds`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.most_seconds
        server, kids = self.sample()
        totals = [server + sum(v for _, v in kids)]
        while loop.time() < deadline:
            await asyncio.sleep(1)
            server, kids = self.sample()
            totals.append(server + sum(v for _, v in kids))
            if len(totals) > 3 and max(totals[-4:]) - min(totals[-4:]) < steady_mb:
                break
        change = "" if self.last is None else f"{server - self.last:+.0f}"
        self.last = server
        self.rows.append((label, server))
        shown = ", ".join(f"{what} {v:.0f}" for what, v in kids) or "-"
        total = server + sum(v for _, v in kids)
        anon = harness.memory_mb(self.pid, "Pss_Anon")
        self.table.row(label, f"{server:.0f}", change, f"{anon:.0f}", shown, f"{total:.0f}",
                       children=dict(kids))
        return server


async def finished(page, settle: float) -> None:
    """Wait until Streamlit has finished the page's script run, then `settle` seconds."""
    await page.wait_for_timeout(300)
    await page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"
        " || document.querySelector('[data-testid=\"stStatusWidget\"]').innerText === ''",
        timeout=180_000)
    await page.wait_for_timeout(int(settle * 1000))


async def run(args, report: harness.Report) -> None:
    from playwright.async_api import async_playwright

    arenas = os.environ.get("MALLOC_ARENA_MAX")
    report.say(f"{harness.cpu().summary()}; server's MALLOC_ARENA_MAX: "
               f"{arenas or 'unset (glibc default)'}")
    with harness.Server(prefix="mnist-memory-") as server:
        proc, base = server.proc, server.base
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=args.chromium, args=FLAGS)
            context = await browser.new_context(viewport={"width": 1400, "height": 1000})
            await context.add_init_script(PROBE)      # for draw_and_wait's timing probe
            page = await context.new_page()
            page.set_default_timeout(180_000)
            page.problems = []
            meter = Meter(proc.pid, report, args.most_seconds)
            await meter.read("server started, no page open")
            sidebar = page.locator('[data-testid="stSidebar"]')
            for name, shown in PAGES:
                if name == "Home":
                    await page.goto(base)
                else:
                    await sidebar.get_by_role("link", name=name, exact=True).click()
                await page.get_by_text(shown, exact=False).first.wait_for()
                if name == "Analyze":     # the gallery of mistakes is there
                    await page.get_by_text("true ", exact=False).first.wait_for()
                if name == "Draw":
                    await page.wait_for_timeout(1000)  # the canvas' frame settles
                    await draw_and_wait(page)          # a 7, its prediction, then Clear
                    await draw_seven(page)             # drawn again: Inside shows it
                await finished(page, args.settle)
                await meter.read(name + (" (a digit drawn)" if name == "Draw" else ""))
            every_page = meter.rows[-1][1]
            if args.draw_sessions:
                drawer = await open_draw_page(browser, base)
                await draw_and_wait(drawer)
                opening, drawing = drawer.sent[0], drawing_message(drawer.sent)
                replayed = [await ReplayedStudent(base, opening, drawing).connect()
                            for _ in range(args.draw_sessions - 1)]
                await asyncio.gather(*(r.rounds(args.rounds, 0.5) for r in replayed))
                await sidebar.get_by_role("link", name="Analyze", exact=True).click()
                await page.get_by_text("true ", exact=False).first.wait_for()
                await finished(page, args.settle)
                await meter.read(f"{args.draw_sessions} sessions on Draw ({args.rounds} drawings "
                           "each), 1 on Analyze")
                for r in replayed:
                    await r.ws.close()
            await browser.close()
            peak = max(v for _, v in meter.rows)
            report.say()
            report.say(f"server PSS after every page: {every_page:.0f} MB; peak of all rows: "
                       f"{peak:.0f} MB", every_page_mb=every_page, peak_mb=peak)
            for child, what in descendants(proc.pid):   # what ending it would give back
                private = (harness.memory_mb(child, "Private_Clean")
                           + harness.memory_mb(child, "Private_Dirty"))
                pss = harness.memory_mb(child)
                report.say(f"{what}: PSS {pss:.0f} MB, of it private {private:.0f} MB",
                           child=what, pss_mb=pss, private_mb=private)


async def draw_seven(page) -> None:
    """Draw a 7 and wait for its prediction (left on the canvas, unlike draw_and_wait)."""
    await draw_and_wait(page, clear=False)


def main() -> None:
    parser = harness.parser(__doc__, browser=True)
    parser.add_argument("--draw-sessions", type=int, default=0, metavar="N",
                        help="then N sessions on Draw (one Chromium, N-1 replayed) and the "
                             "first page back on Analyze")
    parser.add_argument("--rounds", type=int, default=3,
                        help="drawings per replayed Draw session")
    parser.add_argument("--settle", type=float, default=3.0,
                        help="seconds to wait after a page has finished before reading")
    args = parser.parse_args()
    args.most_seconds = 60     # the longest wait for steady figures after each page
    # Every page, and two sessions on Draw (one replayed); no waiting for steady figures.
    harness.shrink(args, draw_sessions=2, rounds=1, settle=0.0, most_seconds=0)
    harness.need_chromium(args)
    with harness.Report(args) as report:
        asyncio.run(run(args, report))


if __name__ == "__main__":
    main()
