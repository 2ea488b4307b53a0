"""Fool it on a phone: a digit drawn by touch on the Draw page, then the Fool it page's
smallest change (pixels to add in green, to erase in red) and the new reading, by touch."""
import re

import pytest
from playwright.sync_api import expect

from tests.e2e.browser import (ARTIFACTS, CANVAS, draw, new_device_page, settle,
                                wait_for_steady)

SEVEN = [[(0.25, 0.18), (0.75, 0.18), (0.43, 0.86)], [(0.39, 0.54), (0.68, 0.54)]]


@pytest.fixture
def phone(browser, server, request):
    page, touch = new_device_page(browser, "iPhone 13")
    yield page, touch
    if getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=ARTIFACTS / f"{request.node.name}.png", full_page=True)
    page.context.close()


def test_a_drawing_made_by_touch_is_fooled_on_a_phone(phone, server):
    page, touch = phone
    page.goto(f"{server}/Draw")
    settle(page)
    wait_for_steady(page)
    draw(page, SEVEN, touch=touch)
    expect(page.locator('[data-testid="stMetric"]').filter(has_text="Prediction")
           .locator('[data-testid="stMetricValue"]')).to_have_text("7", timeout=60_000)
    # The Draw page links to Fool it; the same session keeps the drawing.
    page.get_by_role("link", name="Fool the network").tap()
    settle(page)
    expect(page.get_by_role("heading", name="Fool the network")).to_be_visible(timeout=60_000)
    change = page.locator('[data-testid="stAlertContentSuccess"]')
    expect(change).to_contain_text(re.compile(r"Change \d+ pixels"), timeout=60_000)
    expect(change).to_contain_text("instead of a 7")
    expect(page.get_by_text("Green: add ink. Red: erase.")).to_be_visible()
    expect(page.get_by_text(re.compile(r"Changed: read as [0-9]"))).to_be_visible()
    # Pick a digit by touch: the answer follows.
    page.locator('[role="radiogroup"][aria-label="Make the network read:"] button').filter(
        has_text=re.compile(r"^3$")).tap()
    settle(page)
    answer = page.locator('[data-testid="stAlertContentSuccess"], '
                          '[data-testid="stAlertContentWarning"]').first
    expect(answer).to_contain_text(re.compile(r"reads a \*?\*?3|it still reads a"),
                                   timeout=60_000)
    # The challenge tab's canvas takes a finger too.
    page.get_by_role("tab", name=re.compile("Challenge")).tap()
    settle(page)
    wait_for_steady(page)
    page.locator(CANVAS).scroll_into_view_if_needed()   # below the rule, on a phone
    draw(page, SEVEN, touch=touch)
    expect(page.locator(CANVAS)).to_have_attribute("data-strokes", "2")   # it kept its place
    expect(page.get_by_text("The network reads your drawing as a 7")).to_be_visible(
        timeout=60_000)
    page.get_by_role("button", name="Start", exact=True).tap()
    settle(page)
    expect(page.get_by_text("Extra ink: 0% of 25% allowed")).to_be_visible(timeout=60_000)
    page.locator(CANVAS).scroll_into_view_if_needed()   # as a student scrolls back to it
    draw(page, [[(0.3, 0.62), (0.36, 0.66)]], touch=touch)
    expect(page.get_by_text(re.compile(r"Extra ink: [1-9]\d?% of 25% allowed"))).to_be_visible(
        timeout=60_000)
    assert page.console.errors == []
