"""One lesson, end to end, in real browsers: the class joins, draws, teaches the model, uses it.

One server with a teacher key. A teacher at the projector (1920x1080, mouse) and three students
on a phone ("iPhone 13", a finger), a tablet ("iPad (gen 7)", a finger) and a laptop (1366x768,
mouse), each in its own browser context (its own cookies, like separate devices):

1. the students join by the address the Home page shows, then go to Draw through the sidebar;
2. they draw and save four digits each (1, 7, 4, 0, a little different every time), tapping
   the digit they meant;
3. the teacher's Class page shows every saved drawing as a tile;
4. the teacher unlocks with the one-time link the server printed in its console, teaches the
   model the class's handwriting (a fine-tune, the server's one job, on the Train page) and
   makes the result the class model;
5. the students' Draw pages, still open, switch to it without a reload (their "Read by"
   caption names it within 10 s) and read a new drawing with it;
6. the teacher reloads and is still unlocked;
7. a student's browser still cannot start training.

No page may log an unexpected console error. On failure every device's pages are saved as
screenshots in test-artifacts/.
"""
from __future__ import annotations

import re
import time
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import pytest
from playwright.sync_api import expect

from tests.e2e.browser import (ARTIFACTS, CANVAS, ConsoleLog, as_device, draw, running_app,
                                 settle)

TEACHER_KEY = "lesson-key-4711"
SAVE_INTERVAL = 1.1   # the Draw page takes one save a second per browser
SERVER_WAIT = 60_000  # ms, for anything that waits on the server
# The page's fine-tune (FineTuneConfig's defaults) of the bundled model on 12 drawings: 3
# epochs of 3,160 images (3,000 MNIST + 20 copies of the 8 drawings not held out), the 10,000
# test images scored before and after: 30-40 s on two busy cores. Generous for a loaded CI.
FINE_TUNE_WAIT = 240_000

# Digits the bundled model reads, (x, y) in 0..1 of the canvas side, a stroke per pen-down
# (the shapes of test_draw.py and test_devices.py).
DIGIT_STROKES = {
    1: [[(0.52, 0.18), (0.50, 0.84)]],
    7: [[(0.25, 0.18), (0.75, 0.18), (0.43, 0.86)], [(0.39, 0.54), (0.68, 0.54)]],
    4: [[(0.39, 0.43), (0.29, 0.71), (0.61, 0.71)], [(0.54, 0.46), (0.54, 0.93)]],
    0: [[(0.50, 0.14), (0.32, 0.25), (0.25, 0.50), (0.32, 0.77), (0.50, 0.86), (0.68, 0.77),
         (0.75, 0.50), (0.68, 0.23), (0.50, 0.14), (0.46, 0.16)]],
}
LESSON_DIGITS = (1, 7, 4, 0)   # each student draws these, in this order
# Students: (name, Playwright device descriptor or viewport)
STUDENTS = (("phone", "iPhone 13"), ("tablet", "iPad (gen 7)"),
            ("laptop", {"width": 1366, "height": 768}))
TEACHER = ("teacher", {"width": 1920, "height": 1080})

# Streamlit's front end, given an update for elements that the page does not have (a page's
# fragment redrawn after the page changed), stops: a blank page, no more updates.
CRASHED = re.compile(r"Bad delta path index")
TEACHER_LINK = re.compile(r"(\S+[?&]teacher=[A-Za-z0-9_\-]+)")
UNLOCKED = "Teacher controls unlocked in this browser"


# --- the server and the devices ------------------------------------------------------------

@pytest.fixture(scope="module")
def lesson_server(tmp_path_factory, browser):
    """(base URL, server log path): the app with a teacher key, its own lab home, training in
    a child process as in class. Its console (stdout) goes to the log, where the one-time
    teacher link appears when it serves its first page."""
    home = tmp_path_factory.mktemp("lesson-lab")
    with running_app(home, MNIST_LAB_TEACHER_KEY=TEACHER_KEY) as base:
        yield base, home / "server.log"


class Device:
    """One person's browser: a context of its own emulating their device, and its page."""

    def __init__(self, browser, name: str, device) -> None:
        if isinstance(device, str):
            options = dict(browser.devices[device])
            options.pop("default_browser_type")   # we run Chromium, which emulates touch too
        else:
            options = {"viewport": device}
        self.name = name
        self.context = browser.new_context(**as_device(options))
        self.page = self.context.new_page()
        self.page.set_default_timeout(30_000)
        self.page.console = ConsoleLog(self.page)
        # A finger (real touch events through the DevTools protocol) or the mouse.
        self.touch = (self.context.new_cdp_session(self.page) if options.get("has_touch")
                      else None)
        self.last_save = float("-inf")

    def press(self, locator) -> None:
        """Tap with a finger on touch devices, click with the mouse elsewhere."""
        if self.touch is not None:
            locator.tap()
        else:
            locator.click()

    def sidebar_link(self, label: str) -> None:
        """Go to a page through the sidebar, opening it first where it starts closed (phones)."""
        page = self.page
        link = page.locator('[data-testid="stSidebar"]').get_by_role("link", name=label,
                                                                      exact=True)
        expand = page.locator('[data-testid="stExpandSidebarButton"]')
        closed = expand.is_visible()
        if closed:   # phones start with the sidebar closed: open it
            self.press(expand)
            expect(link).to_be_in_viewport()
        self.press(link)
        settle(page)
        if closed and not expand.is_visible():
            # st.page_link, unlike Streamlit's own page list, leaves the sidebar open over the
            # page on a phone: close it, as the student has to.
            self.press(page.locator('[data-testid="stSidebarCollapseButton"] button'))
            expect(expand).to_be_visible()
            settle(page)


@pytest.fixture
def devices(browser, request):
    """Factory of Devices; on failure, a screenshot of each one's pages in test-artifacts/."""
    made: list[Device] = []

    def make(name: str, device) -> Device:
        made.append(Device(browser, name, device))
        return made[-1]

    yield make
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        for device in made:
            for i, page in enumerate(device.context.pages):
                try:
                    page.screenshot(path=ARTIFACTS / f"{request.node.name}-{device.name}-{i}.png",
                                    full_page=True)
                except Exception:   # a page that is gone has nothing to show
                    pass
    for device in made:
        device.context.close()


@contextmanager
def step(title: str, people: list[Device], log_path=None):
    """Name the lesson's step in a failure's report, with the console errors the pages had
    logged so far and, given `log_path`, the end of the server's console. Prints how long the
    step took (pytest shows it with -s, or under a failure)."""
    started = time.monotonic()
    try:
        yield
        print(f"{title}: {time.monotonic() - started:.1f} s")
    except BaseException as e:
        e.add_note(f"lesson step failed: {title}")
        for person in people:
            if person.page.console.errors:
                e.add_note(f"{person.name}'s console errors: {person.page.console.errors}")
        if log_path is not None:
            e.add_note("server console (end):\n" + log_path.read_text()[-3000:])
        raise


# --- what the pages show ----------------------------------------------------------------

def prediction(page):
    return page.locator('.st-key-prediction [data-testid="stMetricValue"]')


def read_by(page):
    """The Draw page's caption naming the model that reads the drawings."""
    return page.locator('.st-key-draw_title [data-testid="stCaptionContainer"]')


def save_button(page, digit: int):
    """The digit's button in the row under the prediction that saves the drawing."""
    return page.locator(".st-key-save_as button").filter(
        has_text=re.compile(rf"^\s*{digit}\s*$"))


def tiles(page):
    return page.locator('.st-key-class-tiles [data-testid="stImage"]')


def sidebar(page):
    return page.locator('[data-testid="stSidebar"]')


def jittered(digit: int, rng: np.random.Generator) -> list[list[tuple[float, float]]]:
    """The digit's strokes with every point moved a little: a drawing of its own (the store
    refuses an image it already has)."""
    return [[(x + rng.uniform(-0.025, 0.025), y + rng.uniform(-0.025, 0.025))
             for x, y in stroke] for stroke in DIGIT_STROKES[digit]]


def draw_digit(student: Device, digit: int, rng: np.random.Generator) -> str:
    """Draw `digit` with the student's own pointer until the page reads it; the digit read."""
    page = student.page
    strokes = jittered(digit, rng)
    expect(page.locator(CANVAS)).to_have_attribute("data-strokes", "0")
    expect(prediction(page)).to_have_count(0)
    draw(page, strokes, touch=student.touch)
    expect(page.locator(CANVAS)).to_have_attribute("data-strokes", str(len(strokes)))
    expect(prediction(page)).to_have_text(re.compile(r"^\d$"), timeout=SERVER_WAIT)
    settle(page)
    return prediction(page).inner_text()


def save_as(student: Device, digit: int) -> int:
    """One tap on the digit the student meant; the saved drawing's number."""
    page = student.page
    wait = student.last_save + SAVE_INTERVAL - time.monotonic()
    if wait > 0:   # the page's own limit: one save a second per browser
        page.wait_for_timeout(1000 * wait)
    student.press(save_button(page, digit))
    saved = page.get_by_text(re.compile(rf"Saved as a {digit} \(drawing #(\d+)\)"))
    expect(saved).to_be_visible(timeout=SERVER_WAIT)
    student.last_save = time.monotonic()
    expect(page.locator(CANVAS)).to_have_attribute("data-strokes", "0", timeout=SERVER_WAIT)
    expect(prediction(page)).to_have_count(0)
    expect(page.get_by_text("Not saved")).to_have_count(0)
    settle(page)
    return int(re.search(r"#(\d+)", saved.inner_text()).group(1))


def teacher_link_from_console(log_path, timeout: float = 60.0) -> str:
    """The one-time teacher link the server printed when it served its first page."""
    deadline = time.monotonic() + timeout
    while True:
        found = TEACHER_LINK.findall(log_path.read_text())
        if found:
            assert len(found) == 1, f"one teacher link per server, printed {found}"
            return found[0]
        assert time.monotonic() < deadline, \
            f"no teacher link in the server's console:\n{log_path.read_text()}"
        time.sleep(0.2)


def at(base: str, url: str) -> str:
    """`url` with the scheme, host and port of `base` (the console prints the LAN address)."""
    ours, printed = urlsplit(base), urlsplit(url)
    return urlunsplit((ours.scheme, ours.netloc, printed.path, printed.query, printed.fragment))


def wait_for_the_live_fine_tune(page, timeout: float = SERVER_WAIT / 1000) -> None:
    """After "Teach the model our handwriting" and its link: the Train page with the fine-tune,
    live; fail at once, saying so, if the page crashes on the way (see CRASHED)."""
    live = page.get_by_text("fine-tune ·")
    deadline = time.monotonic() + timeout
    while not (page.url.endswith("/Train") and live.is_visible()):
        crash = [e for e in page.console.errors if CRASHED.search(e)]
        assert not crash, (
            "APP BUG: teaching the model crashed the teacher's page (blank page, websocket "
            f"closed) at {page.url}: {crash[0][:300]}")
        assert time.monotonic() < deadline, "the Train page never showed the fine-tune"
        page.wait_for_timeout(250)


def expect_unlocked(page) -> None:
    expect(sidebar(page).get_by_text(UNLOCKED)).to_be_visible(timeout=SERVER_WAIT)
    expect(sidebar(page).get_by_role("button", name="Lock teacher controls")).to_be_visible()
    expect(sidebar(page).get_by_label("Teacher key", exact=True)).to_have_count(0)


# --- the lesson ------------------------------------------------------------------------------

def test_one_lesson_join_draw_teach_and_use_the_class_model(lesson_server, devices):
    base, log_path = lesson_server
    port = urlsplit(base).port
    rng = np.random.default_rng(2024)
    teacher = devices(*TEACHER)
    students = [devices(name, device) for name, device in STUDENTS]
    everyone = [teacher, *students]

    with step("0. the teacher opens the lab; the server prints a one-time teacher link", everyone):
        teacher.page.goto(base)
        settle(teacher.page)
        expect(teacher.page.get_by_role("heading", name="MNIST CNN Lab")).to_be_visible()
        # Locked: the key field is there, no teacher controls.
        expect(sidebar(teacher.page).get_by_label("Teacher key", exact=True)).to_be_attached()
        expect(sidebar(teacher.page).get_by_text(UNLOCKED)).to_have_count(0)
        link = teacher_link_from_console(log_path)

    with step("1. the students join by the Home page's address and go to Draw", everyone):
        for student in students:
            page = student.page
            page.goto(base)
            settle(page)
            shown = page.locator('[data-testid="stHeading"]').filter(
                has_text=re.compile(r"^\s*https?://"))
            expect(shown).to_have_count(1, timeout=SERVER_WAIT)
            address = shown.inner_text().strip()
            assert urlsplit(address).port == port, f"{student.name}: Home shows {address}"
            page.goto(address)
            settle(page)
            expect(page.get_by_text("Join from your device")).to_be_visible()
            student.sidebar_link("Draw")
            expect(page).to_have_url(re.compile(r"/Draw$"))
            expect(page.locator(CANVAS)).to_be_visible(timeout=SERVER_WAIT)
            expect(read_by(page)).to_contain_text("Read by Bundled", timeout=SERVER_WAIT)
            expect(read_by(page)).to_contain_text("the class model.")
            page.evaluate("() => { window.__sameDrawPage = true; }")   # gone after a reload

    with step("2. the students draw and save, tapping the digit they meant", everyone):
        saved: dict[int, int] = {}   # drawing number -> digit
        read: list[tuple[str, int, str]] = []   # (student, meant, read by the bundled model)
        for digit in LESSON_DIGITS:   # round by round: nobody waits for the save limit
            for student in students:
                read.append((student.name, digit, draw_digit(student, digit, rng)))
                number = save_as(student, digit)
                assert number not in saved, f"drawing #{number} saved twice"
                saved[number] = digit
        assert len(saved) == len(LESSON_DIGITS) * len(students) >= 10
        print("bundled model read (student, meant, read):", read)

    with step("3. the wall shows every saved drawing", everyone):
        page = teacher.page
        teacher.sidebar_link("Class")
        expect(page).to_have_url(re.compile(r"/Class$"))
        expect(tiles(page)).to_have_count(len(saved), timeout=SERVER_WAIT)
        count = page.locator('[data-testid="stMetric"]').filter(has_text="Drawings")
        expect(count.locator('[data-testid="stMetricValue"]')).to_have_text(str(len(saved)))
        shown = tiles(page).locator("img").evaluate_all("imgs => imgs.map(i => i.alt)")
        assert sorted(shown) == sorted(f"Drawing #{n}, a {d}" for n, d in saved.items())
        # Still locked: teaching the model needs the teacher.
        expect(page.get_by_text("Teaching the model: teacher only")).to_be_visible()
        expect(page.get_by_role("button", name="Teach the model our handwriting")) \
            .to_have_count(0)

    with step("4. the teacher unlocks with the console's link, teaches the model and makes "
              "the result the class model", everyone, log_path):
        page = teacher.page
        page.goto(at(base, link))
        settle(page)
        expect_unlocked(page)
        expect(page).not_to_have_url(re.compile(r"teacher="))   # the token left the address bar
        cookie = f"mnist_lab_teacher_{port}"
        page.wait_for_function("name => document.cookie.split('; ')"
                               ".some(c => c.startsWith(name + '=') && c.length > name.length + 1)",
                               arg=cookie, timeout=SERVER_WAIT)
        assert any(c["name"] == cookie and c["value"] for c in teacher.context.cookies())

        teacher.sidebar_link("Class")
        expect_unlocked(page)
        expect(tiles(page)).to_have_count(len(saved), timeout=SERVER_WAIT)
        teacher.press(page.get_by_role("button", name="Teach the model our handwriting"))
        expect(page.get_by_text("is learning the class's handwriting")).to_be_visible(
            timeout=SERVER_WAIT)
        page.wait_for_timeout(2500)    # the wall refreshes meanwhile: the page stays whole
        assert not [e for e in page.console.errors if CRASHED.search(e)]
        teacher.press(page.get_by_role("link", name="Watch it live on the Train page"))
        wait_for_the_live_fine_tune(page)
        done = page.get_by_text(re.compile(r"^Run (\S+) done: test accuracy"))
        expect(done).to_be_visible(timeout=FINE_TUNE_WAIT)
        run_id = re.match(r"Run (\S+) done", done.inner_text()).group(1)
        took = page.locator('[data-testid="stMetric"]').filter(has_text="Elapsed")
        print("fine-tuning took", took.locator('[data-testid="stMetricValue"]').inner_text())
        expect(page.get_by_role("table")).to_contain_text("Held-out class drawings")
        teacher.press(page.get_by_role("button", name="Make it the class model"))
        made_at = time.monotonic()
        fine_tuned = f"fine-tuned from bundled on {len(saved)} drawings · {run_id}"
        expect(page.get_by_text(f"The class model is now {fine_tuned}")).to_be_visible(
            timeout=SERVER_WAIT)

    with step("5. the students' open Draw pages use the new class model", everyone):
        for student in students:
            page = student.page
            left = max(10.0 - (time.monotonic() - made_at), 0.001)
            expect(read_by(page), f"{student.name}'s Draw page").to_contain_text(
                f"Read by {fine_tuned}", timeout=1000 * left)
            expect(read_by(page)).to_contain_text("the class model.")
        for student in students:
            page = student.page
            assert page.evaluate("() => window.__sameDrawPage === true"), \
                f"{student.name}'s Draw page was reloaded"
            settle(page)
            expect(prediction(page)).to_have_count(0)
            draw(page, jittered(7, rng), touch=student.touch)
            expect(prediction(page), f"{student.name} draws a 7").to_have_text(
                "7", timeout=SERVER_WAIT)
            expect(read_by(page)).to_contain_text(f"Read by {fine_tuned}")

    with step("6. the teacher reloads and is still unlocked", everyone):
        page = teacher.page
        page.reload()
        settle(page)
        expect(page).to_have_url(re.compile(r"/Train$"))
        expect_unlocked(page)
        expect(page.get_by_role("button", name="Start training")).to_be_visible(
            timeout=SERVER_WAIT)

    with step("7. a student's browser still cannot start training", everyone):
        student = students[-1]
        page = student.page
        student.sidebar_link("Train")
        expect(page).to_have_url(re.compile(r"/Train$"))
        expect(page.get_by_text("Starting a run: teacher only")).to_be_visible(
            timeout=SERVER_WAIT)
        settle(page)
        expect(page.get_by_role("button", name="Start training")).to_have_count(0)
        expect(page.get_by_role("button", name="Make it the class model")).to_have_count(0)
        expect(sidebar(page).get_by_text(UNLOCKED)).to_have_count(0)
        expect(sidebar(page).get_by_label("Teacher key", exact=True)).to_be_attached()

    with step("no page logged an unexpected console error", everyone):
        errors = {d.name: d.page.console.errors for d in everyone if d.page.console.errors}
        assert errors == {}
