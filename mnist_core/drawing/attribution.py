"""Where the network looked: three maps of one drawing, for one digit, readable by a class.

- **Covering patches** (occlusion, the default): cover a small square of the drawing with
  black, at every place where it hides some ink, and see how much the digit's probability
  drops. MNIST's background is black (0), so "covered" means "this ink rubbed out": a patch
  over empty background changes nothing and is not even computed. Signed: covering ink that
  made the network say the digit lowers its probability (orange); covering ink that spoke against
  it raises it (blue). This is the default because it is the one a class can read on a
  projector and a phone: a few solid blobs ON the strokes, in the digit's own shape, with one
  plain meaning ("rub this out and it is less sure"), and it answers "why not a 7?" with the
  ink that stops it being one (docs/where-it-looked.md, with the three side by side).
- **Smoothed gradient** (SmoothGrad): the gradient averaged over noisy copies of the drawing;
  fewer speckles than the plain gradient, still spread over the background around the ink.
- **Gradient**: which pixels, changed a tiny bit, change the probability most. Speckled over
  the whole 28x28, as it always was; kept to compare.

Every map is computed in one batched call of a function traced once per model with a fixed
input signature, so one `Explainer` serves every session of a server from many threads.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

OCCLUSION = "occlusion"
SMOOTHGRAD = "smoothgrad"
GRADIENT = "gradient"
METHODS = (OCCLUSION, SMOOTHGRAD, GRADIENT)
DEFAULT_METHOD = OCCLUSION

PATCH = 6           # px: a patch hides about a third of a stroke's length, not the whole digit
STRIDE = 3          # px between patches: half the passes of stride 2 (the 300 ms budget)
NOISY_COPIES = 32   # SmoothGrad's copies: more gives no visibly smoother map on MNIST
NOISE = 0.2         # SmoothGrad's noise, as a share of the ink range (its paper: 10-20%)
FIELD = 28


@dataclass(frozen=True)
class Attribution:
    """One map: `values` (28, 28) float32, in [-1, 1] when `signed` (occlusion) else in [0, 1],
    scaled so that the strongest pixel is 1; `strongest` is that pixel's unscaled value (for
    occlusion: the largest change of probability, 0-1)."""

    method: str
    digit: int
    probability: float     # of `digit`, for the drawing as drawn
    values: np.ndarray
    signed: bool
    strongest: float


def patch_corners(size: int = FIELD, patch: int = PATCH, stride: int = STRIDE) -> list[int]:
    """Top (or left) edges of the patches along one side; the last one ends at the edge."""
    corners = list(range(0, size - patch + 1, stride))
    return corners if corners[-1] == size - patch else corners + [size - patch]


def occluded_copies(image: np.ndarray, patch: int = PATCH, stride: int = STRIDE):
    """The drawing with one patch blacked out, for every patch that hides some ink:
    ((N, 28, 28) copies, [(top, left)] of each)."""
    corners = [(r, c) for r in patch_corners(image.shape[0], patch, stride)
               for c in patch_corners(image.shape[1], patch, stride)
               if image[r:r + patch, c:c + patch].any()]
    copies = np.repeat(image[None], len(corners), axis=0)
    for copy, (r, c) in zip(copies, corners):
        copy[r:r + patch, c:c + patch] = 0.0
    return copies, corners


def spread_over_pixels(changes: np.ndarray, corners, shape=(FIELD, FIELD),
                       patch: int = PATCH) -> np.ndarray:
    """Each pixel: the mean change of the patches that cover it (0 where none with ink does)."""
    total, count = np.zeros(shape, np.float64), np.zeros(shape, np.float64)
    for change, (r, c) in zip(changes, corners):
        total[r:r + patch, c:c + patch] += change
    for r in patch_corners(shape[0], patch, STRIDE):
        for c in patch_corners(shape[1], patch, STRIDE):
            count[r:r + patch, c:c + patch] += 1
    return (total / np.maximum(count, 1)).astype(np.float32)


def _scaled(values: np.ndarray) -> tuple[np.ndarray, float]:
    strongest = float(np.abs(values).max())
    return (values / strongest if strongest > 0 else values).astype(np.float32), strongest


class Explainer:
    """The three maps for one model; thread-safe once built (plain graph executions)."""

    def __init__(self, model) -> None:
        import tensorflow as tf

        batch = tf.TensorSpec((None, FIELD, FIELD, 1), tf.float32)
        digit = tf.TensorSpec((), tf.int32)
        self._probabilities = tf.function(lambda x: model(x, training=False),
                                          input_signature=[batch], autograph=False)

        @tf.function(input_signature=[batch, digit], autograph=False)
        def gradients(x, d):
            # Of the digit's probability, for each image of the batch (their sum: images are
            # independent in inference, so each image's gradient is its own).
            with tf.GradientTape() as tape:
                tape.watch(x)
                chosen = tf.reduce_sum(model(x, training=False)[:, d])
            return tape.gradient(chosen, x)

        self._gradients = gradients

    def explain(self, image: np.ndarray, method: str = DEFAULT_METHOD,
                digit: int | None = None, seed: int = 0) -> Attribution:
        """The map of `method` for a prepared (28, 28) drawing in [0, 1] and `digit` (the
        predicted one when None). `seed` fixes SmoothGrad's noise: the same drawing always
        gives the same map."""
        if method not in METHODS:
            raise ValueError(f"unknown method {method!r}: one of {', '.join(METHODS)}")
        image = np.asarray(image, np.float32).reshape(FIELD, FIELD)
        probs = self._probabilities(image[None, :, :, None]).numpy()[0]
        digit = int(probs.argmax()) if digit is None else int(digit)
        if not 0 <= digit < len(probs):
            raise ValueError(f"digit {digit} is not one of 0-{len(probs) - 1}")
        if method == OCCLUSION:
            values = self.occlusion(image, digit, float(probs[digit]))
        elif method == SMOOTHGRAD:
            values = self.smoothgrad_shown(image, digit, seed=seed)
        else:
            values = self.gradient(image, digit)
        scaled, strongest = _scaled(values)
        return Attribution(method, digit, float(probs[digit]), scaled, method == OCCLUSION,
                           strongest)

    def occlusion(self, image: np.ndarray, digit: int, probability: float) -> np.ndarray:
        """(28, 28): how much the digit's probability drops (>0) or rises (<0) when the
        patches over each pixel are blacked out. One forward pass for all patches."""
        copies, corners = occluded_copies(image)
        if not corners:
            return np.zeros_like(image)
        covered = self._probabilities(copies[..., None]).numpy()[:, digit]
        spread = spread_over_pixels(probability - covered, corners, image.shape)
        # Patches STRIDE apart leave steps STRIDE px wide; a light blur shows blobs instead.
        return cv2.GaussianBlur(spread, (5, 5), 1.0)

    def gradient(self, image: np.ndarray, digit: int) -> np.ndarray:
        """(28, 28) >= 0: the plain gradient's size, lightly blurred (raw, it is single
        speckled pixels; the blur shows regions)."""
        grad = self._gradients(image[None, :, :, None], digit).numpy()[0, :, :, 0]
        return cv2.GaussianBlur(np.abs(grad), (3, 3), 0.8)

    def smoothgrad(self, image: np.ndarray, digit: int, copies: int = NOISY_COPIES,
                   noise: float = NOISE, seed: int = 0) -> np.ndarray:
        """(28, 28) >= 0: the size of the mean gradient over `copies` noisy copies, in one
        batched call. With `noise` 0 it is the plain gradient, unblurred."""
        rng = np.random.default_rng(seed)
        batch = image[None] + rng.normal(0, noise, (copies,) + image.shape).astype(np.float32)
        grads = self._gradients(batch[..., None], digit).numpy()[..., 0]
        return np.abs(grads.mean(axis=0))

    def smoothgrad_shown(self, image: np.ndarray, digit: int, seed: int = 0) -> np.ndarray:
        """SmoothGrad as shown: lightly blurred like the gradient, so the two compare fairly."""
        return cv2.GaussianBlur(self.smoothgrad(image, digit, seed=seed), (3, 3), 0.8)
