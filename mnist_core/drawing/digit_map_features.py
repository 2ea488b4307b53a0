"""What the network "thinks" of an image just before it answers: its last hidden layer.

The digit map places images by the numbers the model computes right before its final Dense
layer (the one that turns them into the ten digit scores). Those numbers are what the answer is
made from, so images the model finds alike have alike numbers there. This works for any model
the builder can make, Sequential or functional: the last Dense layer is found by type, and its
input is the hidden layer, whatever came before it (global pooling, Flatten, another Dense).

Two choices, both explained where they are made:
- features are scaled to length 1 (cosine similarity): a thick-penned drawing makes every
  feature larger without changing which features fire, and it is which features fire that
  says what digit it looks like;
- a hidden layer wider than `MAX_WIDTH` (Flatten straight into the output) is reduced by a
  fixed random projection inside the compiled pass, which keeps distances between images
  nearly unchanged (Johnson-Lindenstrauss) while 70,000 of them still fit in memory.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from mnist_core.data.dataset import float_images

#: Images per forward pass: every layer's output for all of them is held at once (see
#: mnist_core.drawing.inference.BATCH_SIZE); larger passes are no faster on a CPU.
BATCH_SIZE = 128
#: The most numbers per image kept: wider hidden layers are randomly projected to this many.
MAX_WIDTH = 256
#: Seed of that projection: the same model always gives the same map.
PROJECTION_SEED = 36


class NoHiddenLayer(ValueError):
    """The model has no Dense layer with something before it: nothing to place images by."""


def hidden_layer_input(model):
    """The tensor entering the model's last Dense layer (its "last hidden layer")."""
    import keras

    dense = [la for la in model.layers if isinstance(la, keras.layers.Dense)]
    if not dense:
        raise NoHiddenLayer("this model has no Dense layer, so it has no last hidden layer "
                            "to draw a map from")
    layer = dense[-1]
    try:   # a layer used twice has no single input: refuse rather than guess which
        if len(getattr(layer, "_inbound_nodes", ())) > 1:
            raise ValueError
        tensor = layer.input
    except (AttributeError, ValueError):
        raise NoHiddenLayer("the model's last Dense layer is used more than once: it has no "
                            "single hidden layer to draw a map from") from None
    if isinstance(tensor, (list, tuple, dict)):
        raise NoHiddenLayer("the model's last Dense layer has several inputs")
    return tensor


class HiddenFeatures:
    """A compiled pass from a 28x28 image to its last-hidden-layer features, length 1.

    Built once per model (tracing takes a fraction of a second) and shared: `__call__` is safe
    from many threads at once, like `Predictor`.
    """

    def __init__(self, model) -> None:
        import keras
        import tensorflow as tf

        tensor = hidden_layer_input(model)
        extractor = keras.Model(model.inputs[0], tensor)
        self.hidden_width = int(np.prod([n or 1 for n in tensor.shape[1:]]))
        projection = random_projection(self.hidden_width)
        self.width = self.hidden_width if projection is None else projection.shape[1]
        matrix = None if projection is None else tf.constant(projection)

        def forward(x):
            h = tf.cast(extractor(x, training=False), tf.float32)
            h = tf.reshape(h, (tf.shape(h)[0], self.hidden_width))
            if matrix is not None:
                h = tf.matmul(h, matrix)
            return tf.math.l2_normalize(h, axis=1, epsilon=1e-12)

        spec = tf.TensorSpec((None, 28, 28, 1), tf.float32)
        self._forward = tf.function(forward, input_signature=[spec], autograph=False)
        self._forward(tf.zeros((1, 28, 28, 1)))   # trace now, not in a student's request

    def __call__(self, images: np.ndarray) -> np.ndarray:
        """(N, 28, 28[, 1]) uint8 or float images -> (N, width) float32 features of length 1."""
        images = float_images(images)
        if len(images) == 0:
            return np.zeros((0, self.width), np.float32)
        return self._forward(images).numpy()

    def of_many(self, images: np.ndarray, progress: Callable[[int], None] | None = None,
                cancelled: Callable[[], bool] | None = None) -> np.ndarray:
        """Features of many images, `BATCH_SIZE` a pass; `progress(n)` after each pass with
        the images done so far. Returns early (fewer rows) once `cancelled()` is true."""
        out = np.empty((len(images), self.width), np.float32)
        for start in range(0, len(images), BATCH_SIZE):
            if cancelled is not None and cancelled():
                return out[:start]
            stop = min(start + BATCH_SIZE, len(images))
            out[start:stop] = self(images[start:stop])
            if progress is not None:
                progress(stop)
        return out


def random_projection(width: int) -> np.ndarray | None:
    """None for a hidden layer of at most MAX_WIDTH numbers; else a fixed (width, MAX_WIDTH)
    Gaussian matrix scaled by 1/sqrt(MAX_WIDTH), so lengths are kept on average."""
    if width <= MAX_WIDTH:
        return None
    rng = np.random.default_rng(PROJECTION_SEED)
    return (rng.standard_normal((width, MAX_WIDTH)) / np.sqrt(MAX_WIDTH)).astype(np.float32)
