"""Fooling the network: the fewest pixels of ink to add or erase so that a model reads a
drawing as another digit (the "Fool it" page).

The method is a greedy saliency-map attack, chosen because its changes are sparse and easy to
read on a 28x28 picture: every step computes, for each pixel, how much setting it fully to
white (add ink) or black (erase) would raise `log p(target) - max log p(other)`, and flips
the few pixels with the largest gain. All steps run inside one TensorFlow graph with a fixed
input signature, traced once per model and shared by every session, like
`mnist_core.drawing.inference.Predictor`. Then changes that are not needed are undone
(`_prune`). The work is bounded: at most `MAX_STEPS` steps of `PIXELS_PER_STEP` pixels, and a
result says honestly when no fooling was found within that.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from mnist_core.data.dataset import NUM_CLASSES

#: Pixels flipped per step: one at a time reads best but costs a gradient per pixel; three
#: keeps the changes sparse and the answer fast.
PIXELS_PER_STEP = 3
#: Steps before giving up: at most MAX_STEPS * PIXELS_PER_STEP pixels (about 1 in 8 of the
#: 28x28 field) change, so every answer costs a fixed, small amount of server time.
MAX_STEPS = 32
#: Rounds of undoing unneeded changes; each is one gradient and a few one-image passes.
PRUNE_ROUNDS = 3
#: "Any other digit": the attack then lowers the drawing's own digit until another wins.
ANY_OTHER = -1


@dataclass(frozen=True)
class Fooling:
    """The answer for one drawing and one target digit."""
    original: np.ndarray          # (28, 28) float32 in [0, 1], the drawing as the network saw it
    changed: np.ndarray           # (28, 28) float32 in [0, 1], the fooling drawing
    original_digit: int           # what the model read before
    target: int                   # the digit asked for, or ANY_OTHER
    digit: int                    # what the model reads on `changed`
    probabilities: np.ndarray     # (10,) float32, the model's on `changed`
    steps: int                    # attack steps used (at most MAX_STEPS)

    @property
    def fooled(self) -> bool:
        """The model reads the asked digit (or, for ANY_OTHER, any digit but the original)."""
        if self.target == ANY_OTHER:
            return self.digit != self.original_digit
        return self.digit == self.target and self.target != self.original_digit

    @property
    def added(self) -> np.ndarray:
        """(28, 28) bool: pixels given more ink."""
        return self.changed > self.original + 1e-6

    @property
    def erased(self) -> np.ndarray:
        """(28, 28) bool: pixels that lost ink."""
        return self.changed < self.original - 1e-6

    @property
    def pixels_changed(self) -> int:
        return int(self.added.sum() + self.erased.sum())

    @property
    def ink_changed(self) -> float:
        """How much ink moved, in whole pixels' worth (a pixel from black to white is 1)."""
        return float(np.abs(self.changed - self.original).sum())

    @property
    def ink_share(self) -> float:
        """`ink_changed` as a share of the drawing's own ink."""
        return self.ink_changed / max(float(self.original.sum()), 1e-6)


class Fooler:
    """The attack for one model, shared by every session (thread-safe: graph calls only)."""

    def __init__(self, model) -> None:
        import tensorflow as tf

        self.model = model
        images = tf.TensorSpec((None, 28, 28, 1), tf.float32)
        targets = tf.TensorSpec((None,), tf.int32)

        def margin(x, target):
            # Positive once the model is fooled. For a digit t: log p(t) - the largest other
            # log p. For -(d + 1), "anything but d": the largest other log p - log p(d).
            logp = tf.math.log(model(x, training=False) + 1e-12)
            aim = tf.where(target >= 0, target, -target - 1)
            hot = tf.one_hot(aim, NUM_CLASSES)
            mine = tf.reduce_sum(logp * hot, axis=1)
            other = tf.reduce_max(logp - hot * 1e9, axis=1)
            return tf.where(target >= 0, mine - other, other - mine)

        @tf.function(input_signature=[images, targets], autograph=False)
        def attack(x, target):
            def step(i, x, frozen):
                with tf.GradientTape() as tape:
                    tape.watch(x)
                    m = margin(x, target)
                grad = tape.gradient(m, x)
                gain_add = tf.where((x < 1.0) & ~frozen, grad * (1.0 - x), -np.inf)
                gain_erase = tf.where((x > 0.0) & ~frozen, -grad * x, -np.inf)
                add = gain_add >= gain_erase
                gain = tf.reshape(tf.maximum(gain_add, gain_erase), (-1, 28 * 28))
                kth = tf.math.top_k(gain, PIXELS_PER_STEP).values[:, -1:]
                pick = tf.reshape((gain >= kth) & (gain > 0.0), tf.shape(x))
                pick &= tf.reshape(m <= 0.0, (-1, 1, 1, 1))   # a fooled image stays as it is
                x = tf.where(pick, tf.where(add, 1.0, 0.0), x)
                return i + 1, x, frozen | pick

            # The loop ends early once every image is fooled.
            _, x, _ = tf.while_loop(
                lambda i, x, frozen: tf.reduce_any(margin(x, target) <= 0.0),
                step, (tf.constant(0), x, tf.zeros_like(x, tf.bool)),
                maximum_iterations=MAX_STEPS)
            return x, model(x, training=False)

        @tf.function(input_signature=[images, targets], autograph=False)
        def margin_gradient(x, target):
            with tf.GradientTape() as tape:
                tape.watch(x)
                m = margin(x, target)
            return tape.gradient(m, x)

        self._attack = attack
        self._margin_gradient = margin_gradient
        self._probabilities = tf.function(lambda x: model(x, training=False),
                                          input_signature=[images], autograph=False)
        # One attack at a time: the first call traces the graph once, and on a laptop's two
        # cores attacks run side by side would only share the CPU, each slower.
        self._lock = threading.Lock()

    def probabilities(self, images: np.ndarray) -> np.ndarray:
        return self._probabilities(np.asarray(images, np.float32).reshape(-1, 28, 28, 1)).numpy()

    def fool(self, image: np.ndarray, target: int) -> Fooling:
        """The smallest change of ink found that makes the model read `target` (a digit, or
        ANY_OTHER) on `image` ((28, 28) floats in [0, 1], as the network sees a drawing)."""
        if target != ANY_OTHER and not 0 <= int(target) < NUM_CLASSES:
            raise ValueError(f"target must be a digit 0-9 or ANY_OTHER, not {target!r}")
        original = np.clip(np.asarray(image, np.float32).reshape(28, 28), 0.0, 1.0)
        before = self.probabilities(original)[0]
        digit = int(before.argmax())
        if target == digit:   # nothing to change: it already reads that digit
            return Fooling(original, original, digit, int(target), digit, before, 0)
        aim = -digit - 1 if target == ANY_OTHER else int(target)
        with self._lock:
            changed, probs = self._attack(original.reshape(1, 28, 28, 1),
                                          np.asarray([aim], np.int32))
        changed, probs = changed.numpy()[0, :, :, 0], probs.numpy()[0]
        steps = int(np.ceil((np.abs(changed - original) > 1e-6).sum() / PIXELS_PER_STEP))
        if _reads(probs[None], aim)[0]:
            changed = self._prune(original, changed, aim)
        after = self.probabilities(changed)[0]
        return Fooling(original, changed, digit, int(target), int(after.argmax()), after,
                       min(steps, MAX_STEPS))

    def _prune(self, original: np.ndarray, changed: np.ndarray, aim: int) -> np.ndarray:
        """Undo changes that are not needed, keeping the model fooled (`aim` as in the
        attack: a digit, or -(d + 1) for anything but d). Each round ranks the changed pixels
        by how little undoing each would cost (the margin's gradient, one backward pass), then
        finds by bisection how many of the least needed can be undone together (a few
        single-image passes): bounded work, however many pixels changed."""
        flat_original = original.ravel()
        for _ in range(PRUNE_ROUNDS):
            flat = changed.ravel().copy()
            where = np.flatnonzero(np.abs(flat - flat_original) > 1e-6)
            if len(where) < 2:
                break
            grad = self._margin_gradient(changed.reshape(1, 28, 28, 1),
                                         np.asarray([aim], np.int32)).numpy().ravel()
            # First-order change of the margin when a pixel goes back: higher is less needed.
            order = where[np.argsort(-(grad[where] * (flat_original[where] - flat[where])))]
            lo, hi = 0, len(order)   # undoing `lo` is known to keep it fooled
            while lo < hi:
                k = (lo + hi + 1) // 2
                trial = flat.copy()
                trial[order[:k]] = flat_original[order[:k]]
                if _reads(self.probabilities(trial), aim)[0]:
                    lo = k
                else:
                    hi = k - 1
            if lo == 0:
                break
            flat[order[:lo]] = flat_original[order[:lo]]
            changed = flat.reshape(28, 28)
        return changed


def _margins(probabilities: np.ndarray, aim: int) -> np.ndarray:
    """How far each image is past fooling (positive: fooled), as the attack measures it."""
    logp = np.log(probabilities + 1e-12)
    digit = aim if aim >= 0 else -aim - 1
    mine, other = logp[:, digit], np.delete(logp, digit, axis=1).max(axis=1)
    return mine - other if aim >= 0 else other - mine


def _reads(probabilities: np.ndarray, aim: int) -> np.ndarray:
    """(N,) bool: which images the model reads as asked."""
    read = probabilities.argmax(axis=1)
    return read == aim if aim >= 0 else read != -aim - 1


#: Colours of the change picture: ink added (green), ink erased (red), on the grey drawing.
ADDED_RGB = (40, 200, 90)
ERASED_RGB = (235, 60, 50)


def change_picture(fooling: Fooling, factor: int = 10) -> np.ndarray:
    """The drawing in grey, enlarged `factor` times, with the pixels to add in green and the
    pixels to erase in red: (28 * factor, 28 * factor, 3) uint8."""
    grey = (0.55 * fooling.original * 255).astype(np.uint8)
    rgb = np.repeat(grey[..., None], 3, axis=2)
    rgb[fooling.added] = ADDED_RGB
    rgb[fooling.erased] = ERASED_RGB
    return np.kron(rgb, np.ones((factor, factor, 1), np.uint8))
