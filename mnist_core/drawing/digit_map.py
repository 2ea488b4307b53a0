"""The digit map: the 10,000 MNIST test digits as the model sees them, flattened to 2-D, and a
student's drawing placed among them with its nearest training digits.

Why a linear projection (Fisher's LDA), not t-SNE or UMAP (measured in docs/benchmarks.md,
"How fast is the digit map?"): the features of 70,000 images already take most of the time a
map may cost on 2 cores, and t-SNE of the 10,000 test points would more than double it (and
add scikit-learn and openTSNE). LDA is a few small matrix sums in numpy; it keeps digits apart
almost as well as t-SNE by the measure used there (same-digit share of each dot's 10 nearest
map neighbours), far better than PCA; and, being a plain matrix, it places a new drawing
EXACTLY where its features say: the star is never an approximation. What it shows is honest
too: digits the network finds alike (4 and 9; 0 and 6) sit near each other.

Nearest training digits are found by cosine similarity of the features (they have length 1,
see digit_map_features): which features fire, not how strongly.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Training digits shown beside the drawing.
NEIGHBOURS = 8
#: Ridge added to the within-digit spread, as a share of its average variance: keeps the
#: solve stable when some features never fire (dead ReLUs) or a class has few images.
RIDGE = 1e-3


@dataclass(frozen=True)
class Projection:
    """x -> (x - mean) @ directions: 2-D map positions from features."""

    mean: np.ndarray          # (width,) float32
    directions: np.ndarray    # (width, 2) float32

    def __call__(self, features: np.ndarray) -> np.ndarray:
        return ((np.asarray(features, np.float32) - self.mean) @ self.directions).astype(
            np.float32)


def fit_projection(features: np.ndarray, labels: np.ndarray) -> Projection:
    """Fisher's linear discriminant: the two directions that spread the digits' centres
    furthest apart compared with how spread out each digit is, in numpy only.

    Whitening by the within-digit spread and then taking the two main directions of the
    whitened digit centres is the textbook LDA solution, without scipy."""
    x = np.asarray(features, np.float64)
    labels = np.asarray(labels)
    mean = x.mean(axis=0)
    within = np.zeros((x.shape[1], x.shape[1]))
    centres, counts = [], []
    for digit in np.unique(labels):
        part = x[labels == digit]
        centre = part.mean(axis=0)
        within += (part - centre).T @ (part - centre)
        centres.append(centre - mean)
        counts.append(len(part))
    within /= len(x)
    within += RIDGE * max(np.trace(within) / len(within), 1e-12) * np.eye(len(within))
    values, vectors = np.linalg.eigh(within)
    whiten = vectors / np.sqrt(np.maximum(values, 1e-12))          # (width, width)
    spread = np.asarray(centres) * np.sqrt(np.asarray(counts, np.float64))[:, None]
    _, _, vt = np.linalg.svd(spread @ whiten, full_matrices=False)
    directions = whiten @ vt[:2].T
    if directions.shape[1] < 2:   # a single digit: no second direction to find
        directions = np.hstack([directions, np.zeros((len(directions), 2 - directions.shape[1]))])
    positions = (x - mean) @ directions
    scale = positions.std(axis=0)
    directions = directions / np.where(scale > 0, scale, 1)  # about unit spread on each axis
    return Projection(mean.astype(np.float32), directions.astype(np.float32))


@dataclass(frozen=True)
class Placement:
    """Where a drawing lands: its map position and its nearest training digits."""

    xy: np.ndarray            # (2,)
    neighbours: np.ndarray    # (NEIGHBOURS,) indices into the training set, nearest first
    similarity: np.ndarray    # their cosine similarity, 1 = the same features


@dataclass(frozen=True)
class DigitMap:
    """One model's map. `positions` and `test_labels` are the points drawn; `train_features`
    (length 1 each) find a drawing's nearest training digits."""

    key: str
    positions: np.ndarray       # (n_test, 2) float32
    test_labels: np.ndarray     # (n_test,) uint8
    train_features: np.ndarray  # (n_train, width) float32, rows of length 1
    train_labels: np.ndarray    # (n_train,) uint8
    projection: Projection

    def place(self, features: np.ndarray, k: int = NEIGHBOURS) -> Placement:
        """One drawing's features (width,) -> its Placement: an exact projection and the k
        most similar training digits (one matrix-vector product over all of them)."""
        f = np.asarray(features, np.float32).reshape(-1)
        similarity = self.train_features @ f
        k = min(k, len(similarity))
        top = np.argpartition(-similarity, k - 1)[:k] if k else np.zeros(0, np.int64)
        top = top[np.argsort(-similarity[top], kind="stable")]
        return Placement(self.projection(f[None])[0], top, similarity[top])

    def digit_centres(self) -> dict[int, np.ndarray]:
        """Each digit's middle on the map (the median point): where its label is written, so
        the map reads without telling colours apart."""
        return {int(d): np.median(self.positions[self.test_labels == d], axis=0)
                for d in np.unique(self.test_labels)}


def neighbour_agreement(positions: np.ndarray, labels: np.ndarray, k: int = 10,
                        sample: int | None = 2000, seed: int = 0) -> float:
    """The share of each point's k nearest map neighbours that are the same digit (on a
    sample of points, against all): how well the 2-D map keeps the digits apart."""
    positions, labels = np.asarray(positions, np.float32), np.asarray(labels)
    rows = np.arange(len(positions))
    if sample is not None and sample < len(rows):
        rows = np.random.default_rng(seed).choice(rows, sample, replace=False)
    same = 0
    for start in range(0, len(rows), 500):
        part = rows[start:start + 500]
        d = ((positions[part, None, :] - positions[None, :, :]) ** 2).sum(axis=2)
        d[np.arange(len(part)), part] = np.inf
        near = np.argpartition(d, k, axis=1)[:, :k]
        same += int((labels[near] == labels[part, None]).sum())
    return same / (len(rows) * k)


def build_map(key: str, train_features: np.ndarray, train_labels: np.ndarray,
              test_features: np.ndarray, test_labels: np.ndarray) -> DigitMap:
    """A DigitMap from features already computed (see digit_map_features.HiddenFeatures).
    The projection is learnt from the training digits only, so the test digits drawn are
    placed exactly as a new drawing is: by a map they had no say in."""
    projection = fit_projection(train_features, train_labels)
    return DigitMap(key, projection(test_features), np.asarray(test_labels, np.uint8),
                    np.ascontiguousarray(train_features, np.float32),
                    np.asarray(train_labels, np.uint8), projection)
