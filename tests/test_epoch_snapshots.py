""""Watch it learn": the EpochSnapshots callback records epoch 0 (random weights) and every
finished epoch's first-layer kernels and the watched digit's probabilities, bounded, and the
strip's pictures are drawn on one scale per kernel across epochs."""
import numpy as np

from mnist_core.training.callbacks import (
    WATCHED_TEST_DIGIT,
    first_conv_kernels,
    watched_digit,
)
from mnist_core.training.loop import train
from mnist_core.training.presets import preset_config
from mnist_core.training.progress import MAX_LEARNING_RECORDS, Progress
from mnist_core.views import charts
from mnist_core.views import learning as charts_learning


def test_a_run_records_epoch_0_and_each_epoch(synthetic_digits):
    progress = Progress()
    result = train(preset_config("fast", epochs=2, limit=600, seed=0), synthetic_digits, progress)
    learning = progress.snapshot().learning
    assert [r["epoch"] for r in learning] == [0, 1, 2]
    for record in learning:
        assert record["kernels"].shape == (5, 5, 1, 16)      # fast's first Conv2D
        assert record["probabilities"].shape == (10,)
        assert abs(float(record["probabilities"].sum()) - 1) < 1e-4
    start = learning[0]
    # The watched digit is test image WATCHED_TEST_DIGIT, carried once, as pixels.
    assert start["label"] == int(synthetic_digits.y_test[WATCHED_TEST_DIGIT])
    assert start["image"].shape == (28, 28) and start["image"].dtype == np.uint8
    expected = (synthetic_digits.x_test[WATCHED_TEST_DIGIT, ..., 0] * 255).round()
    assert np.array_equal(start["image"], expected.astype(np.uint8))
    assert "image" not in learning[1]
    # The kernels moved, and the last record is what the model ended with (or an earlier
    # epoch's, had an earlier epoch been kept).
    assert not np.allclose(start["kernels"], learning[2]["kernels"])
    final = first_conv_kernels(result.model)
    assert any(np.allclose(final, r["kernels"]) for r in learning[1:])
    # It learned: the watched digit's own probability rose from the random start.
    label = start["label"]
    assert learning[2]["probabilities"][label] > start["probabilities"][label]


def test_a_model_without_convolution_records_only_the_digit(synthetic_digits):
    progress = Progress()
    train(preset_config("dense-only", epochs=1, limit=300, seed=0), synthetic_digits, progress)
    learning = progress.snapshot().learning
    assert [r["epoch"] for r in learning] == [0, 1]
    assert all(r["kernels"] is None for r in learning)
    assert charts_learning.learning_kernels(learning) == []
    assert charts_learning.learning_probabilities(learning) is not None


def test_the_records_are_bounded_and_keep_the_start():
    progress = Progress()
    for epoch in range(MAX_LEARNING_RECORDS + 9):
        progress.end_learning({"epoch": epoch, "kernels": None,
                               "probabilities": np.full(10, 0.1, np.float32)})
    epochs = [r["epoch"] for r in progress.snapshot().learning]
    assert len(epochs) == MAX_LEARNING_RECORDS
    assert epochs[0] == 0 and epochs[1] == 10 and epochs[-1] == MAX_LEARNING_RECORDS + 8


def test_the_watched_digit_falls_back_to_what_a_run_has():
    x = np.arange(5 * 28 * 28, dtype=np.float32).reshape(5, 28, 28, 1)
    y = np.arange(5)
    image, label = watched_digit(x, y)           # a test set shorter than the index: the first
    assert label == 0 and np.array_equal(image, x[0])
    assert watched_digit(None, None, x[3:], y[3:])[1] == 3   # no test set (Kaggle): validation
    assert watched_digit(None, None) is None
    long_x = np.zeros((WATCHED_TEST_DIGIT + 1, 28, 28, 1), np.float32)
    long_y = np.arange(WATCHED_TEST_DIGIT + 1)
    assert watched_digit(long_x, long_y)[1] == WATCHED_TEST_DIGIT


def _record(epoch: int, scale: float) -> dict:
    kernels = np.zeros((3, 3, 1, 4), np.float32)
    kernels[1, 1, 0, :] = scale * np.array([1, -1, 0.5, 2])
    return {"epoch": epoch, "kernels": kernels,
            "probabilities": np.eye(10, dtype=np.float32)[epoch % 10]}


def test_the_kernels_are_drawn_on_one_scale_per_kernel_across_epochs():
    learning = [_record(0, 0.1), _record(1, 1.0)]
    shown = charts_learning.learning_kernels(learning)
    assert [epoch for epoch, _ in shown] == [0, 1]
    assert all(isinstance(p, charts.Picture) for _, p in shown)
    indices = charts_learning.learning_kernel_indices(learning)
    # The same kernel is ten times fainter at epoch 0 than at epoch 1, not equally bright.
    start, end = indices[0][1, 1], indices[1][1, 1]
    mid = charts_learning.LEARNING_MID
    assert abs(int(end[0]) - mid) > 5 * abs(int(start[0]) - mid)
    assert int(end[1]) < mid < int(end[0])       # negative blue, positive orange


def test_long_runs_show_a_bounded_choice_of_epochs_with_the_start_and_the_latest():
    learning = [_record(e, 1.0) for e in range(40)]
    epochs = [e for e, _ in charts_learning.learning_kernels(learning)]
    assert len(epochs) == charts_learning.LEARNING_COLUMNS and epochs[0] == 0 and epochs[-1] == 39
    figure = charts_learning.learning_probabilities(learning, label=3)
    assert list(figure.data[0].x) == list(range(40))   # every epoch's probabilities


def test_every_watcher_shares_one_build_per_new_record(monkeypatch):
    builds = []
    real = charts_learning.learning_kernels
    monkeypatch.setattr(charts_learning, "learning_kernels",
                        lambda records: builds.append(len(records)) or real(records))
    shared = charts_learning.SharedLearningViews()
    start = _record(0, 0.1) | {"image": np.full((28, 28), 255, np.uint8), "label": 7}
    learning = [start]
    first = shared.get("run", learning, 3)
    assert shared.get("run", list(learning), 3) is first        # thirty watchers, one build
    assert first.label == 7 and first.digit.width == 112 and [e for e, _ in first.kernels] == [0]
    assert list(first.probabilities.layout.xaxis.range) == [-0.5, 3.5]   # all planned epochs
    learning.append(_record(1, 1.0))
    assert [e for e, _ in shared.get("run", learning, 3).kernels] == [0, 1]
    assert shared.get("another run", learning, 3) is not first
    assert builds == [1, 2, 2]
