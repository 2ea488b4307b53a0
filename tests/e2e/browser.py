"""Real-browser helpers for the e2e tests (fixtures: tests/e2e/conftest.py): the app served
by `streamlit run`, Debian's Chromium driven through Playwright, and a hand on the canvas.

Pages record browser console errors (ConsoleLog); a failing test leaves a screenshot in
test-artifacts/ (ARTIFACTS).
"""
from __future__ import annotations

import itertools
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update"]
# Streamlit's front end, opened on a page URL such as /Train, first probes for its base path
# at /Train/_stcore/health and /Train/_stcore/host-config; those two 404s are expected.
# And when a script run replaces an image, Streamlit drops the old media file: a browser still
# fetching it from the superseded run gets a 404 for /media/<hash>.<ext>; nothing is shown wrong.
EXPECTED_404 = re.compile(r"(/[^/]+/_stcore/(health|host-config)|/media/[0-9a-f]+\.\w+)$")


def require_browser() -> None:
    """Skip (fail, in CI) when Playwright or Chromium is missing."""
    try:
        import playwright  # noqa: F401
    except ImportError:
        reason = "playwright is not installed (pip install -r requirements-dev.txt)"
    else:
        if os.path.exists(CHROMIUM):
            return
        reason = f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    if os.environ.get("CI"):
        pytest.fail(f"browser tests cannot run in CI: {reason}")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(url: str, proc: subprocess.Popen, seconds: float) -> None:
    """Poll `url` until it answers 200; kill `proc` and raise if it dies or time runs out."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"{url} did not answer")
        time.sleep(0.3)


@contextmanager
def running_app(home: Path, **env: str | None):
    """`streamlit run streamlit_app.py` as a user starts it, on a free loopback port, with lab
    home `home`; its console goes to home/server.log. `env` adds variables (None removes one).
    Trainings run in a child process, as the app does by default (tests/conftest.py picks
    threads for the rest of the suite). Yields the base URL; stops the server afterwards."""
    port = _free_port()
    # Every browser of a test runs on this machine; each context says which device it plays
    # in X-Forwarded-For (as_device), which the server believes from loopback only, as it
    # would from a reverse proxy there (mnist_core.lab.devices).
    environment = dict(os.environ, MNIST_LAB_HOME=str(home), PYTHONUNBUFFERED="1",
                       MNIST_LAB_TRAINING="process", MNIST_LAB_TRUSTED_PROXIES="127.0.0.1")
    for name, value in env.items():
        if value is None:
            environment.pop(name, None)
        else:
            environment[name] = value
    log_path = home / "server.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.headless",
             "true", "--server.port", str(port), "--server.address", "127.0.0.1",
             "--browser.gatherUsageStats", "false"],
            cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_for(f"{base}/_stcore/health", proc, 60)
        except RuntimeError as e:
            raise RuntimeError(f"{e}: {log_path.read_text()}") from None
        try:
            yield base
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


@contextmanager
def separate_chromium(browser, tmp_path):
    """A page in its own Chromium process, which the test can SIGKILL like a crashed browser."""
    port = _free_port()
    proc = subprocess.Popen([CHROMIUM, "--headless=new", f"--remote-debugging-port={port}",
                             f"--user-data-dir={tmp_path / 'chromium-profile'}", *CHROMIUM_FLAGS,
                             "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        endpoint = f"http://127.0.0.1:{port}"
        _wait_for(f"{endpoint}/json/version", proc, 60)
        other = browser.browser_type.connect_over_cdp(endpoint)
        yield other.contexts[0].new_page(), proc
    finally:
        proc.kill()
        proc.wait(timeout=30)


class ConsoleLog:
    """Console errors and failed requests of one page, minus Streamlit's expected probes."""

    def __init__(self, page) -> None:
        self.errors: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))

    def _console(self, message) -> None:
        if message.type != "error":
            return
        url = (message.location or {}).get("url", "")
        if "404" in message.text and EXPECTED_404.search(url):
            return
        if message.text.startswith("Client Error: Image source error") and \
                EXPECTED_404.search(message.text.split(" - ")[-1].strip()):
            return  # Streamlit's own report of the superseded media file above
        self.errors.append(f"{message.text} ({url})")


_devices = itertools.count(10)


def as_device(options: dict, address: str | None = None) -> dict:
    """Browser-context options for a device of its own on the class network: a new address
    (10.0.0.10, .11, ...) unless `address` names one, sent as X-Forwarded-For."""
    address = address or f"10.0.0.{next(_devices) % 250 + 2}"
    return dict(options, extra_http_headers={"X-Forwarded-For": address})


def settle(page, timeout: float = 60_000) -> None:
    """Wait until Streamlit has finished the current script run."""
    page.wait_for_selector('[data-testid="stApp"]', timeout=timeout)
    page.wait_for_timeout(300)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"
        " || document.querySelector('[data-testid=\"stStatusWidget\"]').innerText === ''",
        timeout=timeout)
    page.wait_for_timeout(300)


def open_app(page, server: str, link: str | None = None) -> None:
    """Open the app at its root and, optionally, go to a page through the sidebar."""
    page.goto(server)
    settle(page)
    if link:
        page.locator('[data-testid="stSidebar"]').get_by_role("link", name=link).click()
        settle(page)


def save_docs_screenshot(page, name: str) -> None:
    """With SAVE_SCREENSHOTS=1, keep a page screenshot for the README and docs."""
    if os.environ.get("SAVE_SCREENSHOTS"):
        target = ROOT / "docs" / "screenshots"
        target.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=target / f"{name}.png", full_page=False)


# --- the Draw page's canvas (ui/canvas/) ---------------------------------------------------

CANVAS = "canvas.mnist-canvas"   # Playwright's CSS selectors reach into its shadow root


def stroke_path(box: dict, stroke, steps: int = 8) -> list[tuple[float, float]]:
    """Page coordinates (CSS px) along `stroke`, points (x, y) in 0..1 of the canvas side,
    with `steps` pointer moves per segment like a hand, not a jump."""
    points = [(box["x"] + x * box["width"], box["y"] + y * box["height"]) for x, y in stroke]
    path = points[:1]
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        path += [(x0 + (x1 - x0) * i / steps, y0 + (y1 - y0) * i / steps)
                 for i in range(1, steps + 1)]
    return path


def draw(page, strokes, touch=None, steps: int = 8, pace: float = 0.0,
         wait: bool = True) -> None:
    """Draw `strokes` (each a list of (x, y) in 0..1 of the canvas side) with the mouse or,
    given `touch` (a CDP session of a context with has_touch), with a real finger: touch
    events as a touchscreen sends them, which become pointer events of type "touch".

    `pace`: seconds from one pointer move to the next, as a hand moves (a finger's touchMove
    events come ~16 ms apart, one a frame); 0, the default, sends them as fast as possible.
    `wait`: let the page finish its update after each stroke (`settle`); False returns the
    moment the pen lifts, while the page is still busy with the stroke."""
    box = page.locator(CANVAS).bounding_box()
    for stroke in strokes:
        path = stroke_path(box, stroke, steps)
        due = time.monotonic()
        for i, (x, y) in enumerate(path):
            if pace and i:
                due += pace
                time.sleep(max(0.0, due - time.monotonic()))
            if touch is None:
                page.mouse.move(x, y)
                if i == 0:
                    page.mouse.down()
            else:
                touch.send("Input.dispatchTouchEvent",
                           {"type": "touchMove" if i else "touchStart",
                            "touchPoints": [{"x": x, "y": y}]})
        if pace:
            time.sleep(max(0.0, due + pace - time.monotonic()))
        if touch is None:
            page.mouse.up()
        else:
            touch.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
        if wait:
            settle(page)


def wait_for_steady(page, selector: str = CANVAS, quiet: float = 0.5,
                    timeout: float = 30.0) -> None:
    """Wait until `selector` (the canvas by default) is on the page and has kept its place
    and size for `quiet` seconds. Right after a page opens, `settle` may return before the
    first script run has drawn it, and it can still move then (the page's own styles arrive a
    moment after the elements: the canvas was seen ~90 px lower for ~50 ms): a stroke aimed at
    it then lands elsewhere."""
    target = page.locator(selector).first
    target.wait_for(state="visible", timeout=timeout * 1000)
    deadline = time.monotonic() + timeout
    last, since = None, time.monotonic()
    while True:
        box = target.bounding_box()
        if box != last:
            last, since = box, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{selector} kept moving for {timeout} s: {box}")
        time.sleep(0.05)


def tap(touch, x: float, y: float, hold: float = 0.07) -> None:
    """A finger's tap at (x, y) (page CSS px): touchStart, `hold` seconds, touchEnd, through
    `touch` (a CDP session of a context with has_touch). Chromium turns it into pointer events
    and, as a phone does, synthesizes the click itself (or not: see tests/e2e/test_saving.py)."""
    touch.send("Input.dispatchTouchEvent", {"type": "touchStart",
                                            "touchPoints": [{"x": x, "y": y}]})
    time.sleep(hold)
    touch.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})


def new_device_page(browser, device):
    """A page in a fresh context emulating `device`: one of Playwright's descriptor names
    ("iPhone 13": viewport, pixel density, touch) or a viewport such as {"width": 1366,
    "height": 768} for a mouse device. Returns (page, CDP session for touch events, or None
    on a mouse device)."""
    if isinstance(device, str):
        options = dict(browser.devices[device])
        options.pop("default_browser_type")   # we run Chromium, which emulates touch too
    else:
        options = {"viewport": device}
    context = browser.new_context(**as_device(options))
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.console = ConsoleLog(page)
    touch = context.new_cdp_session(page) if options.get("has_touch") else None
    return page, touch


def clear_canvas(page) -> None:
    """Press Clear and wait until the canvas has emptied itself for the new generation."""
    from playwright.sync_api import expect

    canvas = page.locator(CANVAS)
    generation = canvas.get_attribute("data-generation")
    page.get_by_role("button", name="Clear").click()
    expect(canvas).not_to_have_attribute("data-generation", generation, timeout=60_000)
    expect(canvas).to_have_attribute("data-strokes", "0")
    settle(page)
