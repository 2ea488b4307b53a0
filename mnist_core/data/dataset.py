"""MNIST in memory: the `Dataset` every loader returns and every training reads, and the
conversions between its compact (uint8) and float32 forms.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

IMAGE_SHAPE = (28, 28, 1)
NUM_CLASSES = 10


class DataError(Exception):
    """A data source is missing, corrupt or malformed; the message says how to fix it."""


@dataclass(frozen=True)
class Dataset:
    """Images as float32 in [0, 1] with shape (N, 28, 28, 1); labels as int64 in 0..9.

    `x_test`/`y_test` are None when the source has no labelled test set (a Kaggle train.csv).
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray | None
    y_test: np.ndarray | None
    source: str

    def limit(self, n: int | None) -> "Dataset":
        """The first `n` training images (and at most `n` test images): quick runs for tests."""
        if not n:
            return self
        cut = lambda a: None if a is None else a[:n]  # noqa: E731
        return Dataset(self.x_train[:n], self.y_train[:n], cut(self.x_test), cut(self.y_test),
                       f"{self.source} (first {n})")


def to_float_images(pixels: np.ndarray) -> np.ndarray:
    """uint8 (N, 28, 28) or (N, 784) -> float32 (N, 28, 28, 1) in [0, 1].

    One pass into a preallocated array: the same values as `float32(pixels) / 255` without
    a float32 temporary of all the images (less memory, and a little faster: what it costs is
    mostly the OS handing out fresh memory)."""
    pixels = np.asarray(pixels)
    images = np.empty(pixels.shape, np.float32)
    np.divide(pixels, np.float32(255), out=images, dtype=np.float32)
    return images.reshape((-1, *IMAGE_SHAPE))


def float_images(images: np.ndarray) -> np.ndarray:
    """Images as float32 in [0, 1], (N, 28, 28, 1): uint8 pixels as `to_float_images` makes
    them, float images as they are. For code that takes MNIST whether or not it is `compact`."""
    images = np.asarray(images)
    if images.dtype == np.uint8:
        return to_float_images(images)
    return np.asarray(images, np.float32).reshape((-1, *IMAGE_SHAPE))


def compact(dataset: Dataset) -> Dataset:
    """The dataset with its images as uint8 when that is exact (MNIST's are k/255): a quarter
    of the bytes, to keep in a server (55 MB instead of 220 MB for MNIST) or send to a training
    child; `expanded` gives back the very same float32 images. Images that are not exactly
    k/255 (or already uint8) are left as they are."""
    def small(x, chunk=2048):
        if x is None or x.dtype != np.float32:
            return x
        pixels = np.empty(x.shape, np.uint8)
        # Small temporaries, a chunk at a time, not copies of MNIST: in a thread (the server
        # reads MNIST in one) glibc keeps large ones in its heap for good.
        for start in range(0, len(x), chunk):
            part = x[start:start + chunk]
            scaled = np.rint(part * np.float32(255))
            if scaled.size and (scaled.min() < 0 or scaled.max() > 255):
                return x
            pixels[start:start + chunk] = scaled
            if not np.array_equal(pixels[start:start + chunk].astype(np.float32) / 255.0, part):
                return x
        return pixels

    return Dataset(small(dataset.x_train), dataset.y_train, small(dataset.x_test),
                   dataset.y_test, dataset.source)


def expanded(dataset: Dataset) -> Dataset:
    """The reverse of `compact`: float32 images in [0, 1] (the same values as before
    compacting); a dataset whose images are float already is returned as it is."""
    def big(x):
        return float_images(x) if x is not None and x.dtype == np.uint8 else x

    if all(x is None or x.dtype != np.uint8 for x in (dataset.x_train, dataset.x_test)):
        return dataset
    return Dataset(big(dataset.x_train), dataset.y_train, big(dataset.x_test), dataset.y_test,
                   dataset.source)


def split_validation(x: np.ndarray, y: np.ndarray, fraction: float, seed: int = 0):
    """Hold out a reproducible random `fraction` of (x, y): returns (x_tr, y_tr, x_val, y_val)."""
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"validation fraction must be in [0, 1), got {fraction}")
    n_val = int(round(len(x) * fraction))
    if fraction > 0 and (n_val < 1 or n_val >= len(x)):
        raise ValueError(f"validation fraction {fraction} leaves no data on one side of "
                         f"{len(x)} images")
    order = np.random.default_rng(seed).permutation(len(x))
    val, train = order[:n_val], order[n_val:]
    return x[train], y[train], x[val], y[val]
