"""The random rotation, zoom and shift that training applies to each batch, as one resampling.

Keras' RandomRotation, RandomZoom and RandomTranslation each resample every image, so the
three cost three bilinear passes and blur each digit three times. Here the three are composed
into one affine map per image, applied in one pass, as Keras' old `ImageDataGenerator`, the
Kaggle tutorial's augmenter, also did: about a third of the work. On two cores the
augmentation runs beside the training steps, so the saving is training time
(docs/benchmarks.md, "Which settings make training faster?"). The distributions are Keras'
layers': an angle uniform in +-degrees, one zoom factor for both axes uniform in 1 +- zoom
(above 1 zooms out), shifts uniform in +- shift of the image's size on each axis; bilinear,
black outside the image.
"""
from __future__ import annotations

import math
from typing import Callable

from mnist_core.training.config import Augmentation


def augmenter(aug: Augmentation, seed: int) -> Callable:
    """`jitter(images)`: (N, H, W, 1) float32 -> the same, each image moved by its own random
    draw. Usable eagerly and inside a tf.data `map`. A jitter of size 0 is not
    drawn; with none left the images pass through untouched, without a resampling."""
    import tensorflow as tf

    if aug.rotation_degrees == 0 and aug.zoom == 0 and aug.shift == 0:
        return lambda images: images
    draws = tf.random.Generator.from_seed(seed)

    def jitter(images):
        images = tf.convert_to_tensor(images, tf.float32)
        size = tf.shape(images)[1:3]
        height, width = tf.cast(size[0], tf.float32), tf.cast(size[1], tf.float32)
        u = draws.uniform((tf.shape(images)[0], 4), -1.0, 1.0)
        return tf.raw_ops.ImageProjectiveTransformV3(
            images=images, transforms=transforms(tf, u, aug, height, width), output_shape=size,
            fill_value=0.0, interpolation="BILINEAR", fill_mode="CONSTANT")

    return jitter


def transforms(xp, u, aug: Augmentation, height, width):
    """(N, 8) projective transforms (output pixel -> input pixel, as TensorFlow's and Keras'
    `affine_transform` read them) from (N, 4) uniform draws in [-1, 1): angle, zoom, shift
    across, shift down, for images `height` x `width` (floats). `xp` is the array module: `tf`
    here, `jax.numpy` in bench/presets_on_jax.py, so both backends jitter alike."""
    angle = u[:, 0] * math.radians(aug.rotation_degrees)
    zoom = 1.0 + u[:, 1] * aug.zoom
    dx, dy = u[:, 2] * aug.shift * width, u[:, 3] * aug.shift * height
    # Each output pixel p reads input pixel centre + zoom * R(angle) (p - centre) - shift.
    cx, cy = (width - 1) / 2, (height - 1) / 2
    cos, sin = xp.cos(angle) * zoom, xp.sin(angle) * zoom
    zero = xp.zeros_like(cos)
    return xp.stack([cos, -sin, cx - cos * cx + sin * cy - dx,
                     sin, cos, cy - sin * cx - cos * cy - dy, zero, zero], axis=1)
