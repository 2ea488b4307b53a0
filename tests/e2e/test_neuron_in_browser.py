"""Open a neuron on the Inside page in a real browser: draw a 7 on the Draw page, follow its
link to Inside, then tap (a finger on an emulated iPhone 13) or click (a laptop's mouse) one
cell of a convolution's map and read that neuron's numbers (ui/neuron.py).

The map is our own component (ui/neuron_cells.js): a tap must open the cell under the finger,
not another, also where the browser synthesizes no click for the tap.
"""
import pytest
from playwright.sync_api import expect

from tests.e2e.browser import (draw, new_device_page, save_docs_screenshot, settle, tap,
                               wait_for_steady)

SEVEN = [[(0.25, 0.18), (0.75, 0.18), (0.43, 0.86)], [(0.39, 0.54), (0.68, 0.54)]]
DEVICES = {"iPhone 13": "iPhone 13", "laptop": {"width": 1366, "height": 768}}


def press(touch, locator) -> None:
    """Tap with a finger on a touch device, click with the mouse elsewhere."""
    if touch is None:
        locator.click()
    else:
        locator.tap()


def go_inside(page, touch) -> None:
    """To the Inside page through the sidebar, as a student goes (opening it on a phone)."""
    link = page.locator('[data-testid="stSidebar"]').get_by_role("link", name="Inside",
                                                                  exact=True)
    expand = page.locator('[data-testid="stExpandSidebarButton"]')
    if expand.is_visible():
        press(touch, expand)
        expect(link).to_be_in_viewport()
    press(touch, link)
    settle(page)
    collapse = page.locator('[data-testid="stSidebarCollapseButton"] button')
    if touch is not None and collapse.is_visible():   # it stays open over the page on a phone
        press(touch, collapse)
        settle(page)


@pytest.mark.parametrize("device", list(DEVICES))
def test_a_tap_on_a_map_cell_opens_that_neuron(browser, server, device):
    page, touch = new_device_page(browser, DEVICES[device])
    try:
        page.goto(f"{server}/Draw")
        settle(page)
        wait_for_steady(page)
        draw(page, SEVEN, touch=touch)
        prediction = page.locator('[data-testid="stMetric"]').filter(has_text="Prediction")
        expect(prediction.locator('[data-testid="stMetricValue"]')).to_have_text(
            "7", timeout=60_000)
        go_inside(page, touch)
        expect(page.get_by_role("heading", name="Open a neuron")).to_be_visible(timeout=60_000)
        settle(page)

        # conv 1, map 0: 28x28 cells. Tap a cell that is not the one opened at first.
        plot = page.locator(".st-key-neuron_map .cells img")   # in the component's shadow root
        expect(plot).to_be_visible(timeout=30_000)
        plot.scroll_into_view_if_needed()
        row = int(page.get_by_role("spinbutton", name="Row", exact=True).input_value())
        row, col = (5 if row > 14 else 22), 9
        box = plot.bounding_box()
        x = box["x"] + (col + 0.5) / 28 * box["width"]
        y = box["y"] + (row + 0.5) / 28 * box["height"]
        if touch is None:
            page.mouse.click(x, y)
        else:
            tap(touch, x, y)
        opened = page.get_by_text(f"Row {row}, column {col} of map 0")
        expect(opened).to_be_visible(timeout=60_000)
        expect(page.get_by_role("spinbutton", name="Row", exact=True)).to_have_value(str(row))
        expect(page.get_by_role("spinbutton", name="Column", exact=True)).to_have_value(str(col))
        expect(page.get_by_text("the same as the sum above ✓")).to_be_visible()
        field = f"rows {row - 1}–{row + 1}, columns {col - 1}–{col + 1}"
        expect(page.get_by_text(field)).to_be_visible()
        expect(page.locator(".neuron-grid table")).to_have_count(3)   # weights, input, products
        settle(page)
        opened.scroll_into_view_if_needed()
        save_docs_screenshot(page, f"inside-neuron-{device.replace(' ', '-').lower()}")
        assert page.console.errors == []
    finally:
        page.context.close()
