import numpy as np
import pytest

from mnist_core.model.evaluation import confusion_matrix, score


def _probs(predicted, confidence):
    p = np.full((len(predicted), 10), 0.0, np.float32)
    for i, (d, c) in enumerate(zip(predicted, confidence)):
        p[i] = (1 - c) / 9
        p[i, d] = c
    return p


def test_metrics_on_a_known_case():
    labels = np.array([0, 0, 1, 1, 2, 2])
    predicted = [0, 1, 1, 1, 2, 0]
    result = score(_probs(predicted, [0.9, 0.6, 0.8, 0.7, 0.9, 0.95]), labels)
    assert result.accuracy == pytest.approx(4 / 6)
    assert result.confusion[0].tolist()[:3] == [1, 1, 0]
    assert result.confusion[2].tolist()[:3] == [1, 0, 1]
    assert result.precision[1] == pytest.approx(2 / 3) and result.recall[1] == 1.0
    assert result.f1[0] == pytest.approx(0.5)
    assert result.precision[5] == 0 and result.recall[5] == 0  # absent class: 0, not NaN
    # most confidently wrong first: index 5 (0.95) before index 1 (0.6)
    assert result.misclassified().tolist() == [5, 1]
    assert result.cell(0, 1).tolist() == [1]
    expected_loss = -np.mean(np.log([0.9, (1 - 0.6) / 9, 0.8, 0.7, 0.9, (1 - 0.95) / 9]))
    assert result.loss == pytest.approx(expected_loss, rel=1e-5)
    table = result.per_class_table()
    assert table[2]["support"] == 2 and len(table) == 10


def test_confusion_matrix_counts_everything():
    rng = np.random.default_rng(0)
    y, p = rng.integers(0, 10, 500), rng.integers(0, 10, 500)
    cm = confusion_matrix(y, p)
    assert cm.sum() == 500 and np.trace(cm) == (y == p).sum()


def test_zero_images_is_an_error():
    with pytest.raises(ValueError):
        score(np.zeros((0, 10)), np.zeros(0))


def test_kaggle_submission_from_test_csv(tmp_path):
    from mnist_core.model.evaluation import kaggle_submission

    class Always7:
        def probabilities(self, images):
            p = np.zeros((len(images), 10), np.float32)
            p[:, 7] = 1
            return p

    header = ",".join(f"pixel{i}" for i in range(784))
    path = tmp_path / "test.csv"
    path.write_text(header + "\n" + "\n".join(",".join(["0"] * 784) for _ in range(3)) + "\n")
    assert kaggle_submission(Always7(), path) == "ImageId,Label\n1,7\n2,7\n3,7\n"


def _five_mistakes():
    """Truth, answers and confidences with mistakes of several kinds (index: true → read)."""
    labels = np.array([4, 4, 4, 7, 1, 9, 4])
    predicted = [9, 9, 4, 1, 7, 4, 1]
    return score(_probs(predicted, [0.6, 0.95, 0.99, 0.8, 0.7, 0.5, 0.9]), labels)


def test_mistakes_filters_by_true_and_predicted_digit_in_confidence_order():
    result = _five_mistakes()
    assert result.mistake_count == 6 and result.total == 7
    assert result.mistakes().tolist() == [1, 6, 3, 4, 0, 5] == result.misclassified().tolist()
    assert result.mistakes(true=4).tolist() == [1, 6, 0]
    assert result.mistakes(predicted=9).tolist() == [1, 0]
    assert result.mistakes(true=4, predicted=9).tolist() == [1, 0]
    assert result.mistakes(true=4, predicted=9, most_confident_first=False).tolist() == [0, 1]
    assert result.mistakes(true=4, predicted=4).tolist() == []    # right answers never show
    assert result.mistakes(true=0).tolist() == []


def test_gallery_gives_ready_pictures_and_captions_and_says_how_many_were_left_out():
    from mnist_core.views.gallery import drawing_picture, gallery

    result = _five_mistakes()
    images = np.zeros((7, 28, 28, 1), np.float32)
    images[1, 0, 0, 0] = 1.0
    shown = gallery(result, images, result.mistakes(true=4), limit=2, scale=3)
    assert [p.shape for p in shown.images] == [(84, 84), (84, 84)]
    assert shown.images[0].dtype == np.uint8 and shown.images[0][:3, :3].min() == 255
    assert shown.captions == ["true 4 → 9 (95%)", "true 4 → 1 (90%)"]
    assert shown.total == 3 and shown.note == "Showing 2 of 3."
    everything = gallery(result, images, result.mistakes(true=4))
    assert len(everything.images) == 3 and everything.note is None
    empty = gallery(result, images, result.mistakes(true=0))
    assert empty.images == [] and empty.captions == [] and empty.note is None

    pixels = np.rint(images * 255).astype(np.uint8)   # MNIST as the server keeps it
    same = gallery(result, pixels, result.mistakes(true=4))
    assert all(np.array_equal(a, b) for a, b in zip(same.images, everything.images))
    assert same.captions == everything.captions

    drawing = np.zeros((28, 28), np.uint8)
    drawing[27, 27] = 255
    picture = drawing_picture(drawing, scale=4)
    assert picture.shape == (112, 112) and picture[-4:, -4:].min() == 255
    assert picture[:-4, :].max() == 0
