import numpy as np
import pytest

from mnist_core.evaluation import confusion_matrix, score


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
    from mnist_core.evaluation import kaggle_submission

    class Always7:
        def probabilities(self, images):
            p = np.zeros((len(images), 10), np.float32)
            p[:, 7] = 1
            return p

    header = ",".join(f"pixel{i}" for i in range(784))
    path = tmp_path / "test.csv"
    path.write_text(header + "\n" + "\n".join(",".join(["0"] * 784) for _ in range(3)) + "\n")
    assert kaggle_submission(Always7(), path) == "ImageId,Label\n1,7\n2,7\n3,7\n"
