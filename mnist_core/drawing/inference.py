"""Classifying one drawing at a time, fast and from many threads at once.

One `Predictor` per loaded model is shared by every browser session of a server. Its compiled
functions have a fixed input signature, so TensorFlow traces them once and every later call
is a plain graph execution, which is safe to run concurrently.

`classify` gives only the probabilities: the Draw page calls it on every stroke of every
student. Where the network looked (`explain`, `mnist_core.drawing.attribution`) costs more and
is asked for once per drawing shown.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from mnist_core.data.dataset import NUM_CLASSES, float_images
from mnist_core.drawing.preprocess import Prepared, to_mnist

if TYPE_CHECKING:
    from mnist_core.drawing.attribution import Attribution, Explainer
    from mnist_core.drawing.inside import InsideNetwork, InsideView


#: Images per forward pass when many are classified at once (the 10,000 test images for
#: Analyze, a Kaggle CSV, the class's drawings). A pass holds every layer's output for all of
#: its images (the bundled model's first convolution alone: 100 KB an image), and the server
#: keeps about that much afterwards: the whole test set in one pass would leave it gigabytes
#: larger, and bigger passes are no faster (docs/benchmarks.md, "How much memory does the
#: server need?").
BATCH_SIZE = 128


@dataclass(frozen=True)
class Prediction:
    prepared: Prepared                      # the 28x28 image the network saw (or empty)
    probabilities: np.ndarray | None        # (10,) float32

    @property
    def digit(self) -> int | None:
        return None if self.probabilities is None else int(self.probabilities.argmax())

    @property
    def confidence(self) -> float | None:
        return None if self.probabilities is None else float(self.probabilities.max())


class Predictor:
    def __init__(self, model) -> None:
        import tensorflow as tf

        self.model = model
        spec = tf.TensorSpec((None, 28, 28, 1), tf.float32)
        self._probabilities = tf.function(lambda x: model(x, training=False),
                                          input_signature=[spec], autograph=False)
        self._inside: InsideNetwork | None = None   # built on first use (see `inside`)
        self._inside_lock = threading.Lock()
        self._explainer: Explainer | None = None    # likewise, on first use (see `explain`)
        self._explainer_lock = threading.Lock()

    def probabilities(self, images: np.ndarray, batch_size: int = BATCH_SIZE) -> np.ndarray:
        """(N, 28, 28, 1) floats in [0, 1], or uint8 pixels 0-255 -> (N, 10), `batch_size`
        images per forward pass (see BATCH_SIZE)."""
        images = np.asarray(images)
        if len(images) == 0:     # (the model's batch norm refuses an empty batch)
            return np.zeros((0, NUM_CLASSES), np.float32)
        parts = [self._probabilities(float_images(images[start:start + batch_size])).numpy()
                 for start in range(0, len(images), batch_size)]
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def classify(self, image: np.ndarray) -> Prediction:
        """Any canvas/image array -> the prediction, or an empty result if nothing is drawn.
        Only the probabilities: this runs on every stroke of every student; where it looked
        is `explain`, asked for once per drawing shown."""
        prepared = to_mnist(image)
        if prepared.empty:
            return Prediction(prepared, None)
        return Prediction(prepared, self.probabilities(prepared.batch())[0])

    def explain(self, prepared: Prepared, method: str | None = None,
                digit: int | None = None) -> Attribution | None:
        """Where the network looked for `digit` (the predicted one when None), by `method`
        (`mnist_core.drawing.attribution.METHODS`; its default when None), or None for an empty
        drawing. Its functions are traced once per predictor, on first use, and shared."""
        if prepared.empty:
            return None
        with self._explainer_lock:
            if self._explainer is None:
                from mnist_core.drawing.attribution import Explainer

                self._explainer = Explainer(self.model)
        from mnist_core.drawing.attribution import DEFAULT_METHOD

        return self._explainer.explain(prepared.image, method or DEFAULT_METHOD, digit)

    def inside(self, prepared: Prepared) -> InsideView | None:
        """Every layer's output for a drawing (`mnist_core.drawing.inside.InsideView`), or None
        for an empty one. The forward pass that gives them is built once per predictor, on
        first use (most sessions never open the Inside page), and shared by every session."""
        if prepared.empty:
            return None
        with self._inside_lock:  # one build, however many sessions ask at once
            if self._inside is None:
                from mnist_core.drawing.inside import InsideNetwork

                self._inside = InsideNetwork(self.model)
        return self._inside.view(prepared)

    def feature_maps(self, prepared: Prepared) -> np.ndarray | None:
        """The first convolution's outputs (H, W, channels) for a drawing, or None."""
        view = self.inside(prepared)
        if view is None or view.kernels is None:
            return None
        return next(la.values for la in view.layers if la.name == view.kernels.layer_name)
