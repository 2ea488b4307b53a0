"""Kaggle CSV uploads through the browser: a submission file, and a malformed train.csv."""
from playwright.sync_api import expect

from tests.e2e.browser import open_app, settle

PIXELS = ",".join(f"pixel{i}" for i in range(784))


def test_kaggle_test_csv_gives_a_submission_download(page, server, tmp_path):
    csv = tmp_path / "test.csv"
    csv.write_text(PIXELS + "\n" + "\n".join(",".join(["0"] * 784) for _ in range(3)) + "\n")
    open_app(page, server, "Analyze")
    page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(str(csv))
    settle(page)
    button = page.get_by_role("button", name="Download submission.csv")
    expect(button).to_be_visible(timeout=60_000)
    with page.expect_download() as download:
        button.click()
    text = open(download.value.path()).read()
    assert text.splitlines()[0] == "ImageId,Label" and len(text.splitlines()) == 4


def test_malformed_train_csv_is_refused_naming_row_and_column(page, server, tmp_path):
    csv = tmp_path / "train.csv"
    rows = ["3," + ",".join(["0"] * 784), "7," + ",".join(["0"] * 783 + ["300"])]
    csv.write_text("label," + PIXELS + "\n" + "\n".join(rows) + "\n")
    open_app(page, server, "Train")
    page.get_by_text("Upload Kaggle train.csv").click()
    settle(page)
    page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(str(csv))
    settle(page)
    page.get_by_role("button", name="Start training").click()
    expect(page.get_by_text("row 2 (line 3), column pixel783: value 300")).to_be_visible(
        timeout=60_000)
    expect(page.get_by_role("button", name="Start training")).to_be_visible()  # nothing started
    assert page.console.errors == []


def test_a_200_mb_upload_is_rejected_by_the_size_limit(page, server, tmp_path):
    big = tmp_path / "train.csv"
    with open(big, "wb") as f:
        f.truncate(200 * 1024 * 1024)  # sparse: no 200 MB written to disk
    open_app(page, server, "Train")
    page.get_by_text("Upload Kaggle train.csv").click()
    settle(page)
    page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(str(big))
    expect(page.get_by_text("MB or smaller", exact=False)).to_be_visible(timeout=30_000)
