"""Live training seen from several browsers (its curves and "Watch it learn"), the confusion
matrix, and every page's health."""
import re

import pytest
from playwright.sync_api import expect

from tests.e2e.browser import open_app, save_docs_screenshot, separate_chromium, settle

BATCH_CHART_END = """() => {
  const plot = document.querySelector('.js-plotly-plot');
  // _fullData holds the decoded arrays (Plotly.py sends numpy data base64-encoded)
  const trace = plot && plot._fullData && plot._fullData[0];
  return trace && trace.x && trace.x.length ? trace.x[trace.x.length - 1] : 0;
}"""


CLASS_MODEL = "Class model: Bundled (best)"


def model_picker(page):
    """The sidebar's "Model" selectbox; its value is the picked model's label."""
    return page.locator('[data-testid="stSidebar"]').get_by_role("combobox", name="Model")


def wait_for_growth(page, times: int = 2, timeout_ms: int = 60_000) -> list[float]:
    """Sample the live per-batch chart until its curve has reached further (its last point,
    in epochs) `times` times. (The chart shows at most 400 points, so not its length.)"""
    seen = [page.evaluate(BATCH_CHART_END)]
    waited = 0
    while len(seen) <= times and waited < timeout_ms:
        page.wait_for_timeout(500)
        waited += 500
        points = page.evaluate(BATCH_CHART_END)
        if points > seen[-1]:
            seen.append(points)
    return seen


def start_run(page) -> None:
    """fast preset, all 60,000 images, 6 epochs of batch 32: a few minutes on two cores,
    long enough to look at from several browsers (each look waits for two or three live
    refreshes, 2 s apart) before the test stops it early."""
    for label, value in (("Epochs", "6"), ("Batch size", "32")):
        field = page.get_by_label(label, exact=True)   # not its "Help for ..." button
        field.fill(value)
        field.press("Enter")
        settle(page)
    page.get_by_role("button", name="Start training").click()


def test_live_training_is_shared_survives_reload_and_finishes(new_page, server, tmp_path):
    watcher = new_page()                               # a student already on the Train form
    open_app(watcher, server, "Train")
    teacher = new_page()
    open_app(teacher, server, "Train")
    start_run(teacher)
    expect(teacher.get_by_text("fast · running")).to_be_visible(timeout=30_000)
    # ...switches to the live run by itself, without a reload (bench: within ~1-2 s)
    expect(watcher.get_by_text("fast · running")).to_be_visible(timeout=15_000)
    expect(watcher.get_by_role("button", name="Start training")).to_have_count(0)
    growth = wait_for_growth(teacher)
    assert len(growth) >= 3 and growth == sorted(growth), growth  # the chart grew twice
    save_docs_screenshot(teacher, "train")

    teacher.reload()                                   # a reload finds the same job running
    expect(teacher.get_by_text("fast · running")).to_be_visible(timeout=30_000)

    student = new_page()                               # another browser sees it too...
    open_app(student, server, "Train")
    expect(student.get_by_text("fast · running")).to_be_visible(timeout=30_000)
    expect(student.get_by_role("button", name="Start training")).to_have_count(0)  # ...no Start
    assert len(wait_for_growth(student, times=1)) >= 2
    # Watch it learn: a browser that joins late sees the strip from the random start on.
    expect(student.get_by_text("Watch it learn")).to_be_visible()
    expect(student.get_by_text("epoch 0", exact=True)).to_be_visible()

    with separate_chromium(teacher.context.browser, tmp_path) as (crashed, process):
        open_app(crashed, server, "Train")              # a third student's browser...
        expect(crashed.get_by_text("fast · running")).to_be_visible(timeout=30_000)
        process.kill()                                  # ...crashes (SIGKILL, no goodbye)
        process.wait(timeout=30)
    assert len(wait_for_growth(student, times=2)) >= 3  # the others' views go on

    student.get_by_role("button", name="Stop training").click()   # stopping asks first
    student.get_by_role("button", name="Yes, stop").click()
    expect(teacher.get_by_role("button", name="Make it the class model")).to_be_visible(
        timeout=60_000)
    expect(teacher.get_by_role("button", name="Use it in this browser")).to_be_visible()
    expect(teacher.get_by_text("stopped: test accuracy")).to_be_visible()
    expect(student.get_by_role("button", name="Start training")).to_be_visible(timeout=30_000)

    # A tiny run (1,000 images, 1 epoch) runs to its natural end.
    slider = teacher.get_by_role("slider", name="Training images")
    slider.focus()
    teacher.keyboard.press("Home")
    epochs = teacher.get_by_label("Epochs", exact=True)
    epochs.fill("1")
    epochs.press("Enter")
    settle(teacher)
    teacher.get_by_role("button", name="Start training").click()
    expect(teacher.get_by_text("done: test accuracy")).to_be_visible(timeout=120_000)
    # Its strip, drawn live, ends with the kernels after its one epoch.
    expect(teacher.get_by_text("epoch 1", exact=True)).to_be_visible()
    for p in (teacher, student, watcher):
        assert p.console.errors == []

    # The student uses the new model in their browser only: the sidebar shows it at once, the
    # Draw page reads with it, a reload keeps it; the class model stays the bundled one.
    done = student.get_by_text("done: test accuracy")
    expect(done).to_be_visible(timeout=30_000)
    run_id = re.search(r"Run (\S+) done", done.inner_text()).group(1)
    expect(model_picker(student)).to_have_value(CLASS_MODEL)
    student.get_by_role("button", name="Use it in this browser").click()
    settle(student)
    picked, wrong = re.compile(f"^fast · {run_id}"), []
    for moment in ("right after the click", "after a reload", "on the Draw page"):
        if moment == "after a reload":
            student.reload()
            settle(student)
        elif moment == "on the Draw page":
            student.locator('[data-testid="stSidebar"]').get_by_role("link", name="Draw").click()
            settle(student)
            caption = student.get_by_text("Read by")
            try:
                expect(caption).to_have_text(
                    re.compile(rf"Read by fast · {run_id}.*, picked in this browser\."))
            except AssertionError:
                wrong.append(f"{moment}: {caption.inner_text()!r}")
        try:
            expect(model_picker(student)).to_have_value(picked)
        except AssertionError:
            wrong.append(f"{moment}: {model_picker(student).input_value()!r}")
    assert wrong == [], f"the model picked ({run_id}) is not shown or used: {wrong}"
    expect(model_picker(teacher)).to_have_value(CLASS_MODEL)
    assert student.console.errors == []


def test_selecting_a_confusion_cell_filters_the_gallery(page, server):
    open_app(page, server, "Analyze")
    heatmap = page.locator(".js-plotly-plot .nsewdrag").first
    expect(heatmap).to_be_visible(timeout=60_000)
    save_docs_screenshot(page, "analyze")
    box = heatmap.bounding_box()
    # Cells are a 10x10 grid: true digit 4 (row), predicted 9 (column).
    page.mouse.click(box["x"] + box["width"] * 9.5 / 10, box["y"] + box["height"] * 4.5 / 10)
    expect(page.get_by_role("heading", name="True 4, predicted 9")).to_be_visible(timeout=30_000)
    captions = page.get_by_text("true 4 → 9", exact=False)
    expect(captions.first).to_be_visible()
    assert page.console.errors == []


@pytest.mark.parametrize("link", [None, "Train", "Analyze", "Draw", "Class"])
def test_every_page_renders_without_errors(page, server, link):
    open_app(page, server, link)
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    expect(page.locator('[data-testid="stException"]')).to_have_count(0)
    if link is None:
        save_docs_screenshot(page, "home")
    assert page.console.errors == []
