"""Real-browser fixtures: a Streamlit server on a free port and Debian's Chromium via Playwright.

The server runs `streamlit run streamlit_app.py` with its own temporary lab home, exactly as a
user starts it. Pages record browser console errors; a failing test leaves a screenshot in
test-artifacts/. The helpers the tests call (drawing, settling, devices) are in browser.py.
"""
from __future__ import annotations

import pytest

from tests.e2e.browser import (ARTIFACTS, CHROMIUM, CHROMIUM_FLAGS, ConsoleLog, as_device,
                               require_browser, running_app)


@pytest.fixture(scope="session")
def server_home(tmp_path_factory):
    """The lab home of the `server` fixture's app (its runs, and the class's drawings in
    lab.sqlite3): tests look into the store as the server sees it."""
    return tmp_path_factory.mktemp("e2e-lab")


@pytest.fixture(scope="session")
def server(server_home):
    """Base URL of a running app; stopped (and its lab home deleted) after the session."""
    require_browser()
    with running_app(server_home) as base:
        yield base


@pytest.fixture(scope="session")
def browser(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        b.devices = p.devices  # Playwright's phone and tablet descriptors, for test_devices.py
        yield b
        b.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture
def new_page(browser, request):
    """Factory for pages (each in its own browser context, like separate students)."""
    contexts = []

    def make():
        context = browser.new_context(**as_device({"viewport": {"width": 1400, "height": 1000}}))
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.console = ConsoleLog(page)
        return page

    yield make
    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    if failed:
        ARTIFACTS.mkdir(exist_ok=True)
        for i, context in enumerate(contexts):
            for j, page in enumerate(context.pages):
                try:
                    page.screenshot(path=ARTIFACTS / f"{request.node.name}-{i}-{j}.png",
                                    full_page=True)
                except Exception:  # a page the test crashed on purpose has nothing to show
                    pass
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page):
    return new_page()
