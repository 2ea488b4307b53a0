"""The Draw page on a phone, a tablet both ways, a laptop and a desktop screen.

Each device gets one emulated browser (Playwright's descriptors: viewport, pixel density,
touch) and draws a 7 the way its users do: a finger on phones and tablets (real touch events
through the DevTools protocol), the mouse elsewhere. Then the layout is checked where the old
canvas failed: the whole canvas takes strokes, nothing overflows or overlaps, the digit is in
view. One page per device serves all its tests, in file order.
"""
from __future__ import annotations

from dataclasses import dataclass

import pytest
from playwright.sync_api import expect

from tests.e2e.browser import (ARTIFACTS, CANVAS, clear_canvas, draw, new_device_page,
                                save_docs_screenshot, settle, wait_for_steady)

SEVEN = [[(0.25, 0.18), (0.75, 0.18), (0.43, 0.86)], [(0.39, 0.54), (0.68, 0.54)]]
# name: (Playwright device or viewport, screenshot for the docs)
DEVICES = {
    "phone": ("iPhone 13", "draw-phone"),
    "tablet": ("iPad (gen 7)", "draw-tablet"),
    "tablet-landscape": ("iPad (gen 7) landscape", None),
    "laptop": ({"width": 1366, "height": 768}, None),
    "desktop": ({"width": 1920, "height": 1080}, None),
}


@dataclass
class Device:
    name: str
    page: object
    touch: object | None   # CDP session for touch events, None on mouse devices

    @property
    def width(self) -> int:
        return self.page.viewport_size["width"]


@pytest.fixture(scope="module", params=list(DEVICES))
def device(request, browser, server):
    page, touch = new_device_page(browser, DEVICES[request.param][0])
    page.goto(f"{server}/Draw")
    settle(page)
    wait_for_steady(page)
    yield Device(request.param, page, touch)
    page.context.close()


@pytest.fixture(autouse=True)
def screenshot_on_failure(request):
    yield
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed and "device" in request.fixturenames:
        ARTIFACTS.mkdir(exist_ok=True)
        request.getfixturevalue("device").page.screenshot(
            path=ARTIFACTS / f"{request.node.name}.png", full_page=True)


def box(page, selector: str) -> dict:
    return page.locator(selector).first.bounding_box()


def prediction(page):
    return page.locator('[data-testid="stMetric"]').filter(has_text="Prediction")


def test_a_digit_drawn_with_the_devices_own_pointer_is_recognised(device):
    draw(device.page, SEVEN, touch=device.touch)
    expect(device.page.locator(CANVAS)).to_have_attribute("data-strokes", "2")
    expect(prediction(device.page).locator('[data-testid="stMetricValue"]')).to_have_text(
        "7", timeout=60_000)
    expect(device.page.locator('[data-testid="stImage"] img')).to_have_count(2, timeout=60_000)
    device.page.wait_for_function("() => [...document.querySelectorAll("
                                  "'[data-testid=\"stImage\"] img')].every(i => i.complete)")
    if DEVICES[device.name][1]:
        save_docs_screenshot(device.page, DEVICES[device.name][1])
    assert device.page.console.errors == []


def test_every_part_of_the_canvas_takes_strokes(device):
    """No column clips it, no toolbar or other element covers it: at a grid of points, edges
    (2 px in) included, the topmost element is the canvas."""
    hits = device.page.locator(CANVAS).evaluate("""canvas => {
        const r = canvas.getBoundingClientRect(), host = canvas.getRootNode().host, misses = [];
        const xs = [2, r.width / 4, r.width / 2, 3 * r.width / 4, r.width - 2];
        const ys = [2, 3, r.height / 4, r.height / 2, 3 * r.height / 4, r.height - 2];
        for (const dx of xs) for (const dy of ys) {
            const x = r.left + dx, y = r.top + dy;
            if (document.elementFromPoint(x, y) !== host
                || host.shadowRoot.elementFromPoint(x, y) !== canvas) misses.push([dx, dy]);
        }
        return {misses, width: r.width, right: r.right, bottom: r.bottom};
    }""")
    assert hits["misses"] == [], f"covered or clipped at {hits['misses']}"
    assert hits["width"] >= 220 and hits["right"] <= device.width
    assert hits["bottom"] <= device.page.viewport_size["height"]


def test_nothing_overflows_sideways(device):
    widths = device.page.evaluate("() => [document.documentElement.scrollWidth, innerWidth]")
    assert widths[0] <= widths[1]


def test_the_prediction_is_in_view_beside_or_right_under_the_canvas(device):
    page = device.page
    canvas, shown = box(page, CANVAS), prediction(page).bounding_box()
    digit = box(page, '[data-testid="stMetricValue"]')
    height = page.viewport_size["height"]
    # The digit itself is on screen with the canvas, without scrolling, on every device.
    assert 0 <= canvas["y"] and canvas["y"] + canvas["height"] <= height
    assert 0 <= digit["y"] and digit["y"] + digit["height"] <= height
    if device.width >= 768:     # side by side, the whole prediction in view
        assert shown["x"] >= canvas["x"] + canvas["width"]
        assert shown["y"] >= 0 and shown["y"] + shown["height"] <= height
        assert shown["x"] + shown["width"] <= device.width
    else:                       # stacked: the prediction straight under the canvas
        gap = shown["y"] - (canvas["y"] + canvas["height"])
        assert 0 <= gap <= 48, f"{gap} px between the canvas and the prediction"
        between = page.evaluate("""([top, bottom]) => [...document.querySelectorAll(
            '[data-testid="stElementContainer"]')].filter(e => {
                const r = e.getBoundingClientRect();
                return r.height > 0 && r.top >= top - 1 && r.bottom <= bottom + 1;
            }).map(e => e.innerText.slice(0, 40))""", [canvas["y"] + canvas["height"], shown["y"]])
        assert between == []


def test_the_digits_that_save_the_drawing_are_right_under_the_prediction(device):
    """The row of ten digits that saves the drawing comes straight under the prediction (its
    caption between them), whole on the screen without scrolling, each digit big enough for a
    fingertip, on every device."""
    page = device.page
    shown, row = prediction(page).bounding_box(), box(page, ".st-key-save_as")
    height = page.viewport_size["height"]
    assert 0 <= row["x"] and row["x"] + row["width"] <= device.width, row
    assert 0 <= row["y"] and row["y"] + row["height"] <= height, f"{row} on a {height} px screen"
    # Between them only the caption that says what the digits do, close to both.
    between = page.evaluate("""([top, bottom, left, right]) => [...document.querySelectorAll(
        '[data-testid="stMain"] [data-testid="stElementContainer"]')].filter(e => {
            const r = e.getBoundingClientRect();
            return r.height > 0 && r.top >= top - 1 && r.bottom <= bottom + 1
                && r.left < right && r.right > left;
        }).map(e => {
            const r = e.getBoundingClientRect();
            return {text: e.innerText, top: r.top, bottom: r.bottom};
        })""", [shown["y"] + shown["height"], row["y"], row["x"], row["x"] + row["width"]])
    assert [e["text"] for e in between] == ["Save it for the class: tap the digit you meant."]
    caption = between[0]
    above, below = caption["top"] - (shown["y"] + shown["height"]), row["y"] - caption["bottom"]
    assert 0 <= above <= 24 and 0 <= below <= 24, \
        f"{above} px from the prediction to the caption, {below} px from it to the digits"
    # Ten digits in one row, each a target a finger can hit: 40 px tall at least, and at
    # least WCAG 2.2's minimum (2.5.8): 24 px wide, or 24 px from one centre to the next.
    digits = page.locator(".st-key-save_as").get_by_role("button")
    expect(digits).to_have_count(10)
    boxes = [b.bounding_box() for b in digits.all()]
    assert [b.inner_text().strip() for b in digits.all()] == [str(d) for d in range(10)]
    for d, b in enumerate(boxes):
        assert row["y"] - 1 <= b["y"] and b["y"] + b["height"] <= row["y"] + row["height"] + 1
        assert b["height"] >= 40, f"digit {d}: {b}"
    pitch = min(b["x"] - a["x"] for a, b in zip(boxes, boxes[1:]))
    narrowest = min(b["width"] for b in boxes)
    assert narrowest >= 24 or pitch >= 24, \
        f"digits {narrowest:.1f} px wide, {pitch:.1f} px apart on a {device.width} px screen"


def test_images_and_labels_neither_overlap_nor_get_cut(device):
    page = device.page
    boxes = [b.bounding_box() for b in page.locator('[data-testid="stImage"]').all()]
    assert len(boxes) == 2
    for b in boxes:
        assert b["x"] >= 0 and b["x"] + b["width"] <= device.width
    a, b = boxes
    overlap_x = min(a["x"] + a["width"], b["x"] + b["width"]) - max(a["x"], b["x"])
    overlap_y = min(a["y"] + a["height"], b["y"] + b["height"]) - max(a["y"], b["y"])
    assert overlap_x <= 0 or overlap_y <= 0, f"images overlap: {boxes}"
    # Side by side they are the same size (a long caption once widened one of them).
    pictures = [i.bounding_box() for i in page.locator('[data-testid="stImage"] img').all()]
    assert abs(pictures[0]["width"] - pictures[1]["width"]) <= 2, pictures
    # Truncated text (an ellipsis) is wider inside than its box.
    cut = page.evaluate("""() => [...document.querySelectorAll('[data-testid="stMetric"] *, '
        + '[data-testid="stImageCaption"], [data-testid="stImageCaption"] *')
        ].filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.innerText)""")
    assert cut == []


@pytest.mark.parametrize("across", [0.5, 0.85], ids=["middle", "right"])
def test_a_stroke_starting_just_below_the_top_edge_draws(device, across):
    """The old component's invisible toolbar swallowed strokes starting 3-15 px below the
    top edge, in the middle and on the right."""
    page = device.page
    clear_canvas(page)
    side = box(page, CANVAS)["height"]
    draw(page, [[(across, 3 / side), (across, 0.8)]], touch=device.touch)
    expect(page.locator(CANVAS)).to_have_attribute("data-strokes", "1")
    top_ink = page.locator(CANVAS).evaluate("""(c, across) => {
        const x = Math.round(across * c.width), y = Math.round(4 * c.height / c.clientHeight);
        return c.getContext("2d").getImageData(x, y, 1, 1).data[0];
    }""", across)
    assert top_ink > 127
    expect(prediction(page).locator('[data-testid="stMetricValue"]')).to_have_text(
        "1", timeout=60_000)


def test_a_finger_on_the_canvas_draws_instead_of_scrolling(device):
    if device.touch is None:
        pytest.skip("a mouse does not scroll the page by dragging")
    page = device.page
    clear_canvas(page)
    draw(page, SEVEN, touch=device.touch)   # a prediction makes the page long enough to scroll
    expect(page.locator('[data-testid="stImage"] img')).to_have_count(2, timeout=60_000)
    canvas = page.locator(CANVAS)
    strokes = len(SEVEN)
    # Streamlit scrolls its main area, not the window; the canvas's place on screen tells both.
    where = """c => {const main = document.querySelector('[data-testid="stMain"]');
        return {window: scrollY, main: main.scrollTop, top: c.getBoundingClientRect().top,
                room: main.scrollHeight - main.clientHeight - main.scrollTop}}"""
    before = canvas.evaluate(where)
    if before["room"] <= 100:
        # The whole page fits on a tablet's screen now (the saving form became one row of
        # digits): make it longer, so that a scroll would show.
        canvas.evaluate("""c => document.querySelector('[data-testid="stMainBlockContainer"]')
            .style.minHeight = 3 * innerHeight + 'px'""")
        before = canvas.evaluate(where)
    assert before["room"] > 100, "the page must be able to scroll for this test to mean much"
    # An upward swipe: it scrolls the page by ~60% of the canvas anywhere else.
    draw(page, [[(0.6, 0.9), (0.6, 0.3)]], touch=device.touch, steps=20)
    expect(canvas).to_have_attribute("data-strokes", str(strokes + 1))
    after = canvas.evaluate(where)
    assert (after["window"], after["main"], after["top"]) == \
        (before["window"], before["main"], before["top"])


def test_projector_mode_shows_a_large_canvas_and_digit(browser, server):
    page, _ = new_device_page(browser, {"width": 1920, "height": 1080})
    try:
        page.goto(f"{server}/Draw?projector=1")
        settle(page)
        wait_for_steady(page)
        toggle = page.get_by_role("switch", name="Projector mode")
        expect(toggle).to_be_checked()
        assert box(page, CANVAS)["width"] >= 480
        draw(page, SEVEN)
        digit = prediction(page).locator('[data-testid="stMetricValue"]')
        expect(digit).to_have_text("7", timeout=60_000)
        assert digit.bounding_box()["height"] >= 120
        toggle.click(force=True)    # back to normal: the ordinary size, an empty canvas
        expect(toggle).not_to_be_checked()
        page.wait_for_function("c => c.getBoundingClientRect().width <= 440",
                               arg=page.locator(CANVAS).element_handle())
        expect(page.locator(CANVAS)).to_have_attribute("data-strokes", "0")
        expect(digit).to_have_count(0, timeout=60_000)
        assert page.console.errors == []
    finally:
        page.context.close()
