"""Draw real mouse strokes on the canvas and read the prediction the page shows."""
import numpy as np
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import open_app, save_docs_screenshot, settle

# Stroke paths on the 280x280 canvas, (x, y) in canvas pixels; several strokes per digit where
# people lift the pen. Different sizes and positions on purpose.
DIGITS = {
    "0 large, centred": (0, [[(140, 40), (90, 70), (70, 140), (90, 215), (140, 240), (190, 215),
                             (210, 140), (190, 65), (140, 40), (130, 45)]]),
    "1 single line, right": (1, [[(200, 60), (196, 230)]]),
    "3 small, top left": (3, [[(30, 30), (55, 20), (80, 30), (80, 50), (58, 62), (82, 75),
                               (84, 100), (58, 112), (30, 104)]]),
    "4 two strokes, bottom": (4, [[(110, 120), (80, 200), (170, 200)], [(150, 130), (150, 260)]]),
    "7 with crossbar, thin": (7, [[(70, 50), (210, 50), (120, 240)], [(110, 150), (190, 150)]]),
}


def draw(page, strokes, steps_per_segment: int = 8) -> None:
    canvas = page.locator("canvas.upper-canvas")
    box = canvas.bounding_box()
    for stroke in strokes:
        page.mouse.move(box["x"] + stroke[0][0], box["y"] + stroke[0][1])
        page.mouse.down()
        for (x0, y0), (x1, y1) in zip(stroke, stroke[1:]):
            for t in np.linspace(0, 1, steps_per_segment)[1:]:
                page.mouse.move(box["x"] + x0 + (x1 - x0) * t, box["y"] + y0 + (y1 - y0) * t)
        page.mouse.up()
        settle(page)


def clear(page) -> None:
    """Press Clear and wait until the fresh canvas has replaced the old one."""
    old = page.locator("canvas.upper-canvas").element_handle()
    page.get_by_role("button", name="Clear").click()
    page.wait_for_function("canvas => !canvas.isConnected", arg=old, timeout=60_000)
    expect(page.locator("canvas.upper-canvas")).to_be_visible()
    settle(page)
    page.wait_for_timeout(500)  # let the new canvas bind its mouse handlers


def prediction(page):
    return (page.locator('[data-testid="stMetric"]').filter(has_text="Prediction")
            .locator('[data-testid="stMetricValue"]'))


def hint(page):
    return page.get_by_text("Draw a digit (0-9) on the black canvas")


def test_drawn_digits_are_recognised_and_clear_restores_the_hint(page, server):
    open_app(page, server, "Draw")
    expect(hint(page)).to_be_visible()
    expect(prediction(page)).to_have_count(0)
    for name, (digit, strokes) in DIGITS.items():
        draw(page, strokes)
        expect(prediction(page), name).to_have_text(str(digit), timeout=60_000)
        if digit == 7:
            save_docs_screenshot(page, "draw")
        clear(page)
        expect(hint(page), f"Clear after {name}").to_be_visible(timeout=60_000)
        expect(prediction(page)).to_have_count(0)
    assert page.console.errors == []


@pytest.mark.parametrize("strokes", [[[(140, 140), (141, 141)]], []], ids=["dot", "nothing"])
def test_an_empty_canvas_or_a_dot_never_shows_a_prediction(page, server, strokes):
    open_app(page, server, "Draw")
    draw(page, strokes)
    page.wait_for_timeout(1500)
    expect(hint(page)).to_be_visible()
    expect(prediction(page)).to_have_count(0)
