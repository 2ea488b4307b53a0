"""What a fine-tune trains on: the class's drawings, some held out, repeated among a replay of
MNIST training images, every digit weighted alike (`training_mix`).

- Held out: 25% of each digit's drawings (at least one) are kept out of training and measure
  the result. A digit with a single drawing cannot be both taught and tested: that drawing is
  used for training and is not evaluated (the result says how many digits that concerns).
- Replay: 20 MNIST training images per class drawing, at least 3,000 (at most all 60,000), so
  that the model does not forget MNIST.
- The class drawings are repeated (the copies lightly rotated, scaled and shifted) so that they
  make up about 15% of each epoch: fewer, and a few dozen drawings drown in the replay; more
  costs accuracy on MNIST's test set for no gain on the drawings (docs/benchmarks.md, "Does
  teaching the model the class's handwriting work?").
- Every digit gets the same total weight in the loss: forty drawings of 1 must teach the shape
  of a 1, not that 1s are common (which turns MNIST 7s near the boundary into 1s).
- When nothing is held out (every digit has a single drawing), the best epoch is chosen on
  1,000 MNIST training images outside the replay.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mnist_core.data.dataset import Dataset, float_images

REPLAY_PER_DRAWING = 20
MIN_REPLAY = 3000
DRAWING_SHARE = 0.15      # of each epoch's images, by repeating (augmented) class drawings
MAX_COPIES = 20
MNIST_VALIDATION = 1000   # only when nothing is held out


@dataclass
class TrainingMix:
    """A fine-tune's images, float32 (N, 28, 28, 1), and labels."""
    x_fit: np.ndarray              # replayed MNIST images, then the drawings and their copies
    y_fit: np.ndarray
    x_held: np.ndarray             # held-out drawings (may be none)
    y_held: np.ndarray
    x_val: np.ndarray              # what chooses the best epoch: the held-out drawings, else
    y_val: np.ndarray              # MNIST images outside the replay
    replay: int                    # MNIST images replayed
    train_only_digits: list[int]   # digits with a single drawing: trained on, not evaluated


def training_mix(x: np.ndarray, labels: np.ndarray, dataset: Dataset, *,
                 held_out_fraction: float, replay: int | None, augment: bool,
                 seed: int, drawing_share: float = DRAWING_SHARE) -> TrainingMix:
    """The mix for drawings `x` (float (N, 28, 28)) with `labels`, replaying MNIST training
    images of `dataset` (`replay` of them, None: `replay_size`'s rule); the copies jittered if
    `augment`. Everything random follows `seed`."""
    rng = np.random.default_rng(seed)
    train_idx, held_idx, single = split_held_out(labels, held_out_fraction, seed)
    x_held, y_held = x[held_idx][..., None], labels[held_idx]
    n_replay = replay_size(len(labels), len(dataset.x_train), replay)
    order = rng.permutation(len(dataset.x_train))
    replay_idx = np.sort(order[:n_replay])
    # MNIST may be uint8 (a server keeps it `compact`): only the images used become floats.
    x_replay, y_replay = float_images(dataset.x_train[replay_idx]), dataset.y_train[replay_idx]
    if len(y_held):
        x_val, y_val = x_held, y_held
    else:  # nothing held out: pick the best epoch on MNIST images outside the replay
        val_idx = np.sort(order[n_replay:n_replay + MNIST_VALIDATION])
        x_val, y_val = float_images(dataset.x_train[val_idx]), dataset.y_train[val_idx]

    x_draw, y_draw = x[train_idx], labels[train_idx]
    copies = int(np.clip(round(drawing_share / (1 - drawing_share) * n_replay / len(y_draw)),
                         1, MAX_COPIES))
    x_parts = [x_draw] + [jitter(x_draw, rng) if augment else x_draw
                          for _ in range(copies - 1)]
    x_fit = np.concatenate([x_replay, np.concatenate(x_parts)[..., None]])
    y_fit = np.concatenate([y_replay, np.tile(y_draw, copies)])
    return TrainingMix(x_fit, y_fit, x_held, y_held, x_val, y_val, n_replay, single)


def split_held_out(labels: np.ndarray, fraction: float, seed: int
                   ) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """(train indices, held-out indices, digits with a single drawing), stratified by digit:
    `fraction` of each digit's drawings rounded, at least 1, and always at least one left for
    training; a digit with one drawing is only trained on."""
    rng = np.random.default_rng(seed)
    train, held, single = [], [], []
    for digit in range(10):
        idx = np.flatnonzero(labels == digit)
        if len(idx) == 0:
            continue
        if len(idx) == 1:
            train.append(idx)
            single.append(digit)
            continue
        k = min(len(idx) - 1, max(1, round(fraction * len(idx))))
        idx = rng.permutation(idx)
        held.append(idx[:k])
        train.append(idx[k:])
    return _joined(train), _joined(held), single


def _joined(parts: list[np.ndarray]) -> np.ndarray:
    return np.sort(np.concatenate(parts)) if parts else np.zeros(0, np.int64)


def replay_size(drawings: int, available: int, replay: int | None = None) -> int:
    wanted = max(REPLAY_PER_DRAWING * drawings, MIN_REPLAY) if replay is None else replay
    return int(min(wanted, available))


def jitter(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Light augmentation of (N, 28, 28) float images: rotate +-10 degrees, scale 0.9-1.1,
    shift +-2 px (what a drawing varies by anyway)."""
    import cv2

    out = np.empty_like(images)
    for i, image in enumerate(images):
        matrix = cv2.getRotationMatrix2D((13.5, 13.5), rng.uniform(-10, 10), rng.uniform(0.9, 1.1))
        matrix[:, 2] += rng.uniform(-2, 2, 2)
        out[i] = cv2.warpAffine(image, matrix, (28, 28), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return out


def balancing_weights(labels: np.ndarray) -> np.ndarray:
    """Per-image weights that give every digit present the same total weight.

    Drawings are usually lopsided (forty 1s, a few of everything else); unweighted, their
    copies would teach the model that 1s are simply more common, and MNIST 7s near the 1/7
    boundary would start to read as 1s. Balanced, the model learns the new shapes, not a new
    prior."""
    counts = np.bincount(labels, minlength=10).astype(np.float64)
    present = counts > 0
    per_digit = len(labels) / present.sum()
    weights = np.zeros(10)
    weights[present] = per_digit / counts[present]
    return weights[labels].astype(np.float32)


def weighted_pipeline(x, y, batch_size: int, seed: int, one_hot: bool):
    """A fine-tune's training data: (image, label, `balancing_weights`) -> shuffle -> batch ->
    one-hot labels if `one_hot` -> prefetch, the autotuner off (as `loop.dataset_pipeline`)."""
    import tensorflow as tf

    from mnist_core.training.loop import without_autotune

    ds = tf.data.Dataset.from_tensor_slices((x, y, balancing_weights(y)))
    ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True).batch(batch_size)
    if one_hot:
        ds = ds.map(lambda a, b, w: (a, tf.one_hot(b, 10), w))
    return without_autotune(ds.prefetch(tf.data.AUTOTUNE))
