"""The command line as a user runs it: real subprocesses, exit codes, JSON on stdout."""
import json
import os

import cv2
import numpy as np
import pytest

from mnist_core.drawing.synthetic import drawn_digits
from tests.helpers import assert_clean_error, run_cli


@pytest.mark.slow
def test_evaluate_json_on_the_bundled_model():
    proc = run_cli("evaluate", "--json", "--limit", "2000")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["model"] == "bundled" and out["images"] == 2000
    assert out["test_accuracy"] > 0.98 and 0 < out["test_loss"] < 0.2
    assert proc.stderr == ""  # TensorFlow's start-up noise is kept out of the terminal


@pytest.mark.slow
def test_predict_json_one_line_per_image(tmp_path):
    images, labels = drawn_digits(3, seed=5)
    paths = []
    for i, img in enumerate(images):
        paths.append(str(tmp_path / f"digit{i}.png"))
        cv2.imwrite(paths[-1], img[..., 0])
    blank = str(tmp_path / "blank.png")
    cv2.imwrite(blank, np.zeros((50, 50), np.uint8))
    proc = run_cli("predict", "--json", *paths, blank)
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [line["path"] for line in lines] == paths + [blank]
    assert [line["digit"] for line in lines[:3]] == labels.tolist()
    assert all(len(line["probabilities"]) == 10 for line in lines[:3])
    assert lines[3]["digit"] is None and lines[3]["probabilities"] is None


@pytest.mark.slow
def test_predict_bad_file_is_a_one_line_error(tmp_path):
    bad = tmp_path / "notes.png"
    bad.write_text("not an image")
    assert_clean_error(run_cli("predict", str(bad)), "not a readable image")


@pytest.mark.slow
def test_train_then_list_runs_then_evaluate_that_run():
    proc = run_cli("train", "--preset", "fast", "--limit", "400", "--epochs", "1", "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["status"] == "done" and os.path.exists(result["model_file"])
    runs = [json.loads(line) for line in run_cli("runs", "--json").stdout.splitlines()]
    assert [r["id"] for r in runs] == [result["run_id"]]
    proc = run_cli("evaluate", "--model", result["run_id"], "--json", "--limit", "200")
    assert proc.returncode == 0 and json.loads(proc.stdout)["model"] == result["run_id"]


@pytest.mark.parametrize("args, fragment", [
    (("train", "--epochs", "0"), "Epochs must be"),
    (("train", "--lr", "nan"), "Learning rate must be from 0.000001 to 1"),
    (("train", "--lr", "10"), "Learning rate must be"),
    # These three start TensorFlow (or read MNIST) before they can refuse: seconds each.
    pytest.param(("train", "--batch-size", "2000", "--limit", "1000"),
                 "larger than the 900 training", marks=pytest.mark.slow),
    pytest.param(("train", "--data", "/nonexistent/mnist"), "MNIST was not found",
                 marks=pytest.mark.slow),
    pytest.param(("evaluate", "--model", "no-such-run"), "neither", marks=pytest.mark.slow),
])
def test_bad_input_exits_2_without_traceback(args, fragment):
    assert_clean_error(run_cli(*args), fragment)


def test_runs_on_an_empty_home_says_how_to_start():
    proc = run_cli("runs")
    assert proc.returncode == 0 and "no runs yet" in proc.stdout
