"""Scoring a model on labelled images: the numbers behind the Analyze page and `evaluate`."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mnist_core.data.dataset import NUM_CLASSES


@dataclass(frozen=True)
class Evaluation:
    probabilities: np.ndarray      # (N, 10) float32
    labels: np.ndarray             # (N,) int64, the truth
    predictions: np.ndarray        # (N,) int64
    accuracy: float
    loss: float                    # mean categorical cross-entropy
    confusion: np.ndarray          # (10, 10) int64; rows = true digit, columns = predicted
    precision: np.ndarray          # (10,) per class
    recall: np.ndarray
    f1: np.ndarray

    @property
    def confidence(self) -> np.ndarray:
        return self.probabilities.max(axis=1)

    @property
    def total(self) -> int:
        """How many images were scored."""
        return len(self.labels)

    @property
    def mistake_count(self) -> int:
        return int(np.count_nonzero(self.predictions != self.labels))

    def misclassified(self) -> np.ndarray:
        """Indices of wrong predictions, most confidently wrong first (the instructive ones)."""
        wrong = np.flatnonzero(self.predictions != self.labels)
        return wrong[np.argsort(-self.confidence[wrong], kind="stable")]

    def mistakes(self, true: int | None = None, predicted: int | None = None,
                 most_confident_first: bool = True) -> np.ndarray:
        """Indices of wrong predictions, optionally only of true digit `true` and/or read as
        `predicted` (None: any), ordered by confidence: the most confident mistakes are the
        instructive ones, the least confident the near misses."""
        wrong = self.misclassified()
        if true is not None:
            wrong = wrong[self.labels[wrong] == true]
        if predicted is not None:
            wrong = wrong[self.predictions[wrong] == predicted]
        return wrong if most_confident_first else wrong[::-1]

    def cell(self, true_digit: int, predicted_digit: int) -> np.ndarray:
        """Indices of images of `true_digit` classified as `predicted_digit`."""
        return np.flatnonzero((self.labels == true_digit) & (self.predictions == predicted_digit))

    def per_class_table(self) -> list[dict]:
        support = self.confusion.sum(axis=1)
        return [{"digit": d, "precision": float(self.precision[d]), "recall": float(self.recall[d]),
                 "f1": float(self.f1[d]), "support": int(support[d])} for d in range(NUM_CLASSES)]


def predict_probabilities(model, images: np.ndarray, batch_size: int = 1000) -> np.ndarray:
    """(N, 28, 28, 1) float32 -> (N, 10) probabilities, in batches to bound memory."""
    images = np.asarray(images, dtype=np.float32)
    if len(images) == 0:
        return np.zeros((0, NUM_CLASSES), np.float32)
    out = [np.asarray(model(images[i:i + batch_size], training=False), dtype=np.float32)
           for i in range(0, len(images), batch_size)]
    return np.concatenate(out)


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray) -> np.ndarray:
    return np.bincount(labels * NUM_CLASSES + predictions,
                       minlength=NUM_CLASSES ** 2).reshape(NUM_CLASSES, NUM_CLASSES)


def score(probabilities: np.ndarray, labels: np.ndarray) -> Evaluation:
    """All metrics from predicted probabilities and true labels (no model needed)."""
    labels = np.asarray(labels, dtype=np.int64)
    if len(labels) == 0:
        raise ValueError("cannot evaluate on zero images")
    predictions = probabilities.argmax(axis=1).astype(np.int64)
    cm = confusion_matrix(labels, predictions)
    tp = np.diag(cm).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.nan_to_num(tp / cm.sum(axis=0))
        recall = np.nan_to_num(tp / cm.sum(axis=1))
        f1 = np.nan_to_num(2 * precision * recall / (precision + recall))
    picked = probabilities[np.arange(len(labels)), labels]
    loss = float(-np.mean(np.log(np.clip(picked, 1e-7, 1.0))))
    return Evaluation(probabilities, labels, predictions, float(np.mean(predictions == labels)),
                      loss, cm, precision, recall, f1)


def evaluate(model, images: np.ndarray, labels: np.ndarray) -> Evaluation:
    return score(predict_probabilities(model, images), labels)


def traced_evaluator(model):
    """`evaluate(x, y)` -> Evaluation for `model`, through one traced function: several times
    faster than eager calls for the 10,000 test images, and it reads the model's variables, so
    it stays valid while they are trained or restored (a fine-tune scores before, during and
    after)."""
    import tensorflow as tf

    spec = tf.TensorSpec((None, 28, 28, 1), tf.float32)
    forward = tf.function(lambda x: model(x, training=False), input_signature=[spec],
                          autograph=False)

    def evaluate(x, y):
        x = np.asarray(x, np.float32)
        return score(np.concatenate([forward(x[i:i + 1000]).numpy()
                                     for i in range(0, len(x), 1000)]), y)
    return evaluate


def kaggle_submission(predictor, test_csv) -> str:
    """Kaggle Digit Recognizer `submission.csv` (ImageId,Label) for an uploaded `test.csv`."""
    from mnist_core.data.kaggle import read_kaggle_csv

    images, _ = read_kaggle_csv(test_csv, labelled=False)
    labels = predictor.probabilities(images).argmax(axis=1)
    rows = "\n".join(f"{i},{int(d)}" for i, d in enumerate(labels, start=1))
    return f"ImageId,Label\n{rows}\n"
