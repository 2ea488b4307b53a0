"""Draw real mouse strokes on the canvas and read the prediction the page shows."""
import pytest
from playwright.sync_api import expect

from tests.e2e.browser import (CANVAS, clear_canvas, draw, open_app, save_docs_screenshot,
                                settle, wait_for_steady)

# Stroke paths as drawn on the old 280x280 canvas, (x, y) in its pixels; several strokes per
# digit where people lift the pen. Different sizes and positions on purpose.
DIGITS = {
    "0 large, centred": (0, [[(140, 40), (90, 70), (70, 140), (90, 215), (140, 240), (190, 215),
                             (210, 140), (190, 65), (140, 40), (130, 45)]]),
    "1 single line, right": (1, [[(200, 60), (196, 230)]]),
    "3 small, top left": (3, [[(30, 30), (55, 20), (80, 30), (80, 50), (58, 62), (82, 75),
                               (84, 100), (58, 112), (30, 104)]]),
    "4 two strokes, bottom": (4, [[(110, 120), (80, 200), (170, 200)], [(150, 130), (150, 260)]]),
    "7 with crossbar, thin": (7, [[(70, 50), (210, 50), (120, 240)], [(110, 150), (190, 150)]]),
}


def unit(strokes):
    """280-px canvas coordinates -> 0..1 of the side, whatever size the canvas has now."""
    return [[(x / 280, y / 280) for x, y in stroke] for stroke in strokes]


def prediction(page):
    return (page.locator('[data-testid="stMetric"]').filter(has_text="Prediction")
            .locator('[data-testid="stMetricValue"]'))


def hint(page):
    return page.get_by_text("Draw a digit (0-9) on the black canvas")


def test_drawn_digits_are_recognised_and_clear_restores_the_hint(page, server):
    open_app(page, server, "Draw")
    wait_for_steady(page)
    expect(hint(page)).to_be_visible()
    expect(prediction(page)).to_have_count(0)
    for name, (digit, strokes) in DIGITS.items():
        draw(page, unit(strokes))
        expect(page.locator(CANVAS), name).to_have_attribute("data-strokes", str(len(strokes)))
        expect(prediction(page), name).to_have_text(str(digit), timeout=60_000)
        if digit == 7:
            save_docs_screenshot(page, "draw")
        clear_canvas(page)
        expect(hint(page), f"Clear after {name}").to_be_visible(timeout=60_000)
        expect(prediction(page)).to_have_count(0)
    assert page.console.errors == []


def test_strokes_are_kept_when_the_stroke_width_changes(page, server):
    """The slider (in the "Pen size" popover next to Clear) reruns the page with a new width:
    the drawing stays, drawn at that width on both sides, and the prediction follows."""
    open_app(page, server, "Draw")
    wait_for_steady(page)
    draw(page, unit(DIGITS["7 with crossbar, thin"][1]))
    expect(prediction(page)).to_have_text("7", timeout=60_000)
    thin = ink(page)
    slider = page.get_by_role("slider", name="Stroke width")
    expect(slider).to_have_count(0)            # tucked away until the popover opens
    page.get_by_role("button", name="Pen size").click()
    expect(slider).to_be_visible()
    slider.focus()
    for _ in range(15):
        page.keyboard.press("ArrowRight")
    expect(slider).to_have_value("35")
    settle(page)
    page.keyboard.press("Escape")              # the popover closes; the canvas is in view again
    expect(slider).to_be_hidden()
    page.wait_for_function(f"([c, thin]) => ({INK})(c) > 1.4 * thin",
                           arg=[page.locator(CANVAS).element_handle(), thin])
    expect(page.locator(CANVAS)).to_have_attribute("data-strokes", "2")
    expect(prediction(page)).to_have_text("7", timeout=60_000)


INK = """c => {
    const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    let ink = 0;
    for (let i = 0; i < d.length; i += 4) ink += d[i] > 127;
    return ink / (c.width * c.height);
}"""


def ink(page) -> float:
    """Share of the canvas's pixels that are white ink."""
    return page.locator(CANVAS).evaluate(INK)


@pytest.mark.parametrize("strokes", [[[(140, 140), (141, 141)]], []], ids=["dot", "nothing"])
def test_an_empty_canvas_or_a_dot_never_shows_a_prediction(page, server, strokes):
    open_app(page, server, "Draw")
    wait_for_steady(page)
    draw(page, unit(strokes))
    page.wait_for_timeout(1500)
    expect(hint(page)).to_be_visible()
    expect(prediction(page)).to_have_count(0)
