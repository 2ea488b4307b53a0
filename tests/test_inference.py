import threading

import numpy as np
import pytest

from mnist_core.views import charts
from mnist_core.drawing.inference import Predictor
from mnist_core.drawing.synthetic import drawn_digit_accuracy, drawn_digits


@pytest.mark.slow
def test_bundled_model_reaches_its_published_test_accuracy(bundled_model, mnist):
    from mnist_core.model.evaluation import evaluate

    assert evaluate(bundled_model, mnist.x_test, mnist.y_test).accuracy >= 0.993


def test_bundled_model_reads_synthetic_drawings_far_better_than_naive_resize(bundled_model):
    result = drawn_digit_accuracy(bundled_model, n=400, seed=123)
    assert result["ours"] >= 0.98
    assert result["naive"] < result["ours"] - 0.1
    assert min(result["per_digit"].values()) >= 0.9


def test_classify_gives_digit_probabilities(bundled_model):
    images, labels = drawn_digits(5, seed=11)
    predictor = Predictor(bundled_model)
    for image, label in zip(images, labels):
        p = predictor.classify(image)
        assert p.digit == label and abs(p.probabilities.sum() - 1) < 1e-4
    maps = predictor.feature_maps(p.prepared)
    assert maps.ndim == 3 and maps.shape[:2] == (28, 28)


def test_many_images_are_classified_in_bounded_batches_as_floats_or_uint8(bundled_model,
                                                                         small_mnist):
    """A forward pass holds every layer's output for all its images: the server classifies
    the test set (Analyze), a Kaggle CSV or the class's drawings BATCH_SIZE images at a time,
    with the same answers as one pass; uint8 pixels (MNIST as the server keeps it) too."""
    from mnist_core.data.dataset import compact
    from mnist_core.drawing.inference import BATCH_SIZE

    predictor = Predictor(bundled_model)
    one_pass, passes = predictor._probabilities, []
    predictor._probabilities = lambda x: (passes.append(len(x)), one_pass(x))[1]
    images = small_mnist.x_test[:300]
    probabilities = predictor.probabilities(images, batch_size=128)
    assert passes == [128, 128, 44]
    np.testing.assert_allclose(probabilities, one_pass(images).numpy(), atol=1e-6)
    pixels = compact(small_mnist).x_test[:300]
    assert pixels.dtype == np.uint8
    np.testing.assert_array_equal(predictor.probabilities(pixels, batch_size=128), probabilities)
    passes.clear()
    assert predictor.probabilities(small_mnist.x_test).shape == (1000, 10)
    assert max(passes) == BATCH_SIZE and sum(passes) == 1000
    assert predictor.probabilities(images[:0]).shape == (0, 10)


def test_empty_canvas_gives_no_prediction(bundled_model):
    p = Predictor(bundled_model).classify(np.zeros((280, 280, 4), np.uint8))
    assert p.digit is None and p.probabilities is None and p.prepared.empty


def test_concurrent_sessions_get_their_own_answers(bundled_model):
    """Thirty students at once: every thread must get the answer for its own drawing."""
    images, labels = drawn_digits(30, seed=21)
    predictor = Predictor(bundled_model)
    expected = [predictor.classify(img).digit for img in images]
    got = [None] * len(images)

    def worker(i):
        for _ in range(5):
            got[i] = predictor.classify(images[i]).digit
            assert got[i] == expected[i]

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(images))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got == expected and np.mean(np.array(expected) == labels) >= 0.9


def test_chart_builders():
    probs = np.full(10, 0.02, np.float32)
    probs[3] = 0.82
    bars = charts.probability_bars(probs)
    assert bars.data[0].marker.color[3] != bars.data[0].marker.color[0]
    cm = np.eye(10, dtype=np.int64) * 100
    cm[4, 9] = 7
    fig = charts.confusion_heatmap(cm, normalise=True)
    assert fig.data[0].text[4][9] == "6.5%" and fig.data[1].customdata[49] == "6.5%"
    assert charts.enlarge(np.ones((28, 28)), 4).shape == (112, 112)
    assert charts.feature_grid(np.random.rand(28, 28, 8), columns=4).shape == (2 * 30 * 3, 4 * 30 * 3)
    curves = charts.epoch_curves({"a": [{"epoch": 1, "loss": 1.0, "val_loss": 1.2}]}, "loss")
    assert len(curves.data) == 2


def test_epoch_curves_label_whole_epochs_only():
    """Plotly's own ticks read 1, 1.5, 2 on a 3-epoch run; epochs are whole, and a 20-epoch
    run gets every other one rather than 20 crowded labels on a phone."""
    def axis(epochs):
        history = [{"epoch": e, "accuracy": 0.9, "val_accuracy": 0.9} for e in range(1, epochs + 1)]
        return charts.epoch_curves({"a": history, "b": history[:2]}, "accuracy").layout.xaxis

    short, long = axis(3), axis(20)
    assert (short.tickmode, short.tick0, short.dtick) == ("linear", 1, 1)
    assert (long.tick0, long.dtick) == (0, 2)
    assert short.title.text is None   # the chart's title already says "per epoch"


def test_live_figures_are_built_once_per_refresh_for_all_watchers():
    """Thirty watching browsers refresh on their own clocks; the server builds the two live
    figures once per second for all of them, and at once for a new epoch or a new run."""
    from types import SimpleNamespace

    now = [0.0]
    shared = charts.SharedLiveFigures(max_age=1.0, clock=lambda: now[0])
    snap = SimpleNamespace(batch_steps=[1, 2], batch_loss=[1.0, 0.8], batch_accuracy=[0.3, 0.5],
                           batches_per_epoch=4, history=[])
    first = shared.get("run 1", snap)
    assert first[1] is None and len(first[0].data[0].x) == 2
    snap.batch_steps.append(3), snap.batch_loss.append(0.7), snap.batch_accuracy.append(0.6)
    now[0] = 0.9
    assert shared.get("run 1", snap) is first                      # another watcher, same second
    now[0] = 1.0
    later = shared.get("run 1", snap)
    assert later[0] is not first[0] and len(later[0].data[0].x) == 3
    snap.history = [{"epoch": 1, "accuracy": 0.9, "val_accuracy": 0.92}]
    with_epoch = shared.get("run 1", snap)                          # a new epoch: at once
    assert with_epoch[1] is not None and len(with_epoch[1].data) == 2
    assert shared.get("run 2", snap) is not with_epoch              # a new run: at once
