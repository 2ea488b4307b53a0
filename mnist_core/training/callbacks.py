"""Keras callbacks of the training loop: small, one job each, per-run state set in
`on_train_begin` (so one instance could serve two runs without carrying anything over)."""
from __future__ import annotations

import math
import threading
import time

import keras
import numpy as np

from mnist_core.training.progress import Progress

EPOCH_METRICS = ("loss", "accuracy", "val_loss", "val_accuracy")


class LiveMetrics(keras.callbacks.Callback):
    """Feeds a `Progress` after every call into TensorFlow (a batch, or a group of cheap ones:
    `loop.steps_per_execution`) and every epoch, for live charts and ETAs. Each finished
    epoch's record also holds its wall `seconds` (training and validation), so a run's speed
    over whole epochs can be read from its history (as the benchmarks do)."""

    def __init__(self, progress: Progress, batch_size: int) -> None:
        super().__init__()
        self.progress, self.batch_size = progress, batch_size

    def on_epoch_begin(self, epoch, logs=None):
        self.batches = 0
        self.epoch_started = time.monotonic()
        self.progress.begin_epoch()

    def on_train_batch_end(self, batch, logs=None):
        logs = logs or {}
        # With several steps per call into TensorFlow, Keras names the last batch a full group
        # would reach, also for the epoch's shorter last group: count no further than the epoch.
        self.batches = min(batch + 1, self.params.get("steps") or batch + 1)
        self.progress.end_batch(self.batches - 1, float(logs.get("loss", np.nan)),
                                float(logs.get("accuracy", np.nan)), self.batch_size)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.model.stop_training and self.batches < (self.params.get("steps") or 0):
            return  # stopped mid-epoch: not a complete epoch (Keras still validates it)
        self.progress.end_epoch({k: float(v) for k, v in logs.items() if k in EPOCH_METRICS}
                                | {"epoch": epoch + 1,
                                   "seconds": round(time.monotonic() - self.epoch_started, 3)})


class StopOnRequest(keras.callbacks.Callback):
    """Turns a stop request from another thread into `model.stop_training`, which Keras
    checks after every batch (or group of batches): stopping is cooperative and never loses
    the weights."""

    def __init__(self, stop_event: threading.Event) -> None:
        super().__init__()
        self.stop_event = stop_event

    def on_train_batch_end(self, batch, logs=None):
        if self.stop_event.is_set():
            self.model.stop_training = True


class KeepBest(keras.callbacks.Callback):
    """Remembers the weights of the epoch with the best validation accuracy (ties: lower
    validation loss), and the last epoch's accuracy, for `loop.fit` to choose between
    them. A fine-tune passes the starting model as the first candidate, so that epochs worse
    than where it began are never kept."""

    def __init__(self, start_weights: list | None = None, start_accuracy: float = -1.0) -> None:
        super().__init__()
        self.start_weights, self.start_accuracy = start_weights, start_accuracy

    def on_train_begin(self, logs=None):
        self.best_weights = self.start_weights
        self.best_key = (self.start_accuracy, float("-inf"))
        self.last_accuracy = -1.0

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if "val_accuracy" in logs:
            key = (float(logs["val_accuracy"]), -float(logs["val_loss"]))
            self.last_accuracy = key[0]
            if key > self.best_key:
                self.best_key, self.best_weights = key, self.model.get_weights()


def clearly_better(best_accuracy: float, final_accuracy: float, images: int) -> bool:
    """Whether an earlier epoch beat the final one on validation by more than one standard
    error of an accuracy measured on `images` images (0.1% for 99.4% on 6,000).

    A smaller lead is a handful of images that another draw could reverse, and the final
    weights, where the rate schedule ends, more often score higher on the test set
    (docs/decisions/kept-weights-rule.md; docs/benchmarks.md, "Which weights does a run
    keep?")."""
    noise = math.sqrt(max(final_accuracy * (1.0 - final_accuracy), 0.0) / max(images, 1))
    return best_accuracy - final_accuracy > noise


#: The test image every run watches learn ("Watch it learn" on the Train page): a 7 with a
#: short top and a long straight stem, so close to a 1 that the tutorial CNN, trained on 12,000
#: images, read it as a 1 after its first two epochs and as a 7 from the third on (its
#: probability rising 0.09, 0.15, 0.22, 0.66, 0.84, 0.95): the ten probabilities visibly move,
#: where an easy digit would be right and sure after one epoch and the strip would show
#: nothing. Among the first test images, so that runs limited to a few hundred images (tests,
#: quick demos) watch it too.
WATCHED_TEST_DIGIT = 111


def watched_digit(x_test, y_test, x_fallback=None, y_fallback=None):
    """(image (28, 28, 1), label) that a run watches: test image WATCHED_TEST_DIGIT, or the
    first test image if the test set is shorter, or the first of the fallback images (a
    Kaggle CSV has no labelled test set: its validation images); None if there are none."""
    for x, y in ((x_test, y_test), (x_fallback, y_fallback)):
        if x is not None and y is not None and len(x) and len(y):
            index = WATCHED_TEST_DIGIT if WATCHED_TEST_DIGIT < min(len(x), len(y)) else 0
            return np.asarray(x[index], np.float32), int(y[index])
    return None


def first_conv_kernels(model) -> np.ndarray | None:
    """The first Conv2D's kernel (k, k, in, filters) as float32, or None without one."""
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            return np.array(layer.kernel, np.float32)
    return None


class EpochSnapshots(keras.callbacks.Callback):
    """Records, for "Watch it learn", once before the first epoch (epoch 0: the random start,
    the picture the others are compared with) and after every complete epoch: the first
    Conv2D's kernels and the ten probabilities of one fixed digit (`image` and its `label`,
    from `watched_digit`; the epoch 0 record also carries both, as uint8 pixels, for the page
    to show). One forward pass of one image: negligible beside an epoch."""

    def __init__(self, progress: Progress, image: np.ndarray, label: int) -> None:
        super().__init__()
        self.progress, self.label = progress, int(label)
        self.image = np.asarray(image, np.float32).reshape(1, 28, 28, 1)

    def on_train_begin(self, logs=None):
        self.batches = 0
        self.record(0, image=(self.image[0, ..., 0] * 255).round().astype(np.uint8),
                     label=self.label)

    def on_train_batch_end(self, batch, logs=None):
        self.batches = batch + 1

    def on_epoch_end(self, epoch, logs=None):
        if self.model.stop_training and self.batches < (self.params.get("steps") or 0):
            return  # stopped mid-epoch: not a complete epoch (as LiveMetrics)
        self.record(epoch + 1)

    def record(self, epoch: int, **extra) -> None:
        """Add the record of `epoch` (with `extra` fields) to the progress, from the model now."""
        probabilities = np.asarray(self.model(self.image, training=False), np.float32)[0]
        self.progress.end_learning({"epoch": epoch, "kernels": first_conv_kernels(self.model),
                                    "probabilities": probabilities, **extra})
