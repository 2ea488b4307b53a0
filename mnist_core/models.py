"""Architecture presets: each builds an uncompiled Keras model and carries its default
hyperparameters. No I/O here; the training module decides what to do with the model.

Measured figures in the descriptions come from `bench/presets.py` on the 2-core CI machine
(see docs/benchmarks.md); update both together.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable

INPUT_SHAPE = (28, 28, 1)


@dataclass(frozen=True)
class Augmentation:
    """Random geometric jitter applied to training batches only (never to validation/test)."""

    rotation_degrees: float = 10.0
    zoom: float = 0.1
    shift: float = 0.1


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    build: Callable[[], "keras.Model"]
    epochs: int
    batch_size: int
    learning_rate: float
    augmentation: Augmentation | None = field(default_factory=Augmentation)
    #: "constant" keeps Adam's rate; "one-cycle" warms up then anneals (faster convergence).
    schedule: str = "constant"
    label_smoothing: float = 0.0


def _tutorial() -> keras.Model:
    import keras
    from keras import layers

    # The Kaggle tutorial's CNN, layer for layer. 28x28x1 -> 14x14x8 -> 7x7x16 -> 784 -> 256 -> 10
    return keras.Sequential([
        keras.Input(INPUT_SHAPE),
        layers.Conv2D(8, 5, padding="same", activation="relu"),
        layers.MaxPooling2D(2),
        layers.Dropout(0.25),
        layers.Conv2D(16, 3, padding="same", activation="relu"),
        layers.MaxPooling2D(2, strides=2),
        layers.Dropout(0.25),
        layers.Flatten(),
        layers.Dense(256, activation="relu"),
        layers.Dropout(0.5),
        layers.Dense(10, activation="softmax", dtype="float32"),
    ], name="tutorial")


def _keras_example() -> keras.Model:
    import keras
    from keras import layers

    # keras-io "Simple MNIST convnet": 28 -> 26 -> 13 -> 11 -> 5 ; 5*5*64 = 1600 -> 10
    return keras.Sequential([
        keras.Input(INPUT_SHAPE),
        layers.Conv2D(32, 3, activation="relu"),
        layers.MaxPooling2D(2),
        layers.Conv2D(64, 3, activation="relu"),
        layers.MaxPooling2D(2),
        layers.Flatten(),
        layers.Dropout(0.5),
        layers.Dense(10, activation="softmax", dtype="float32"),
    ], name="keras_example")


def _conv_bn(x, filters: int, kernel: int, strides: int = 1):
    from keras import layers

    x = layers.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization(momentum=0.9)(x)  # 0.99 lags on short classroom runs
    return layers.ReLU()(x)


def _fast() -> keras.Model:
    import keras
    from keras import layers

    # Plain convolutions (batch norm cost 30% more time per epoch on CPU for +0.1%) trained
    # with a warm-up/cosine rate: 99.2% in 3 epochs. 28 -> 26 -> 13 -> 11 -> 5; 1600 -> 128 -> 10
    return keras.Sequential([
        keras.Input(INPUT_SHAPE),
        layers.Conv2D(32, 3, activation="relu"),
        layers.MaxPooling2D(2),
        layers.Conv2D(64, 3, activation="relu"),
        layers.MaxPooling2D(2),
        layers.Flatten(),
        layers.Dropout(0.3),
        layers.Dense(128, activation="relu"),
        layers.Dense(10, activation="softmax", dtype="float32"),
    ], name="fast")


def _best() -> keras.Model:
    import keras
    from keras import layers

    # Strided-convolution CNN in the style of the best single Kaggle MNIST models:
    # 28 -> 14 (learned downsampling) -> 7, batch norm everywhere, dropout between stages.
    inputs = keras.Input(INPUT_SHAPE)
    x = _conv_bn(inputs, 32, 3)
    x = _conv_bn(x, 32, 3)
    x = _conv_bn(x, 32, 5, strides=2)            # 14x14x32
    x = layers.Dropout(0.4)(x)
    x = _conv_bn(x, 64, 3)
    x = _conv_bn(x, 64, 3)
    x = _conv_bn(x, 64, 5, strides=2)            # 7x7x64
    x = layers.Dropout(0.4)(x)
    x = _conv_bn(x, 128, 4)
    x = layers.GlobalAveragePooling2D()(x)       # 128
    x = layers.Dropout(0.4)(x)
    outputs = layers.Dense(10, activation="softmax", dtype="float32")(x)
    return keras.Model(inputs, outputs, name="best")


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset("tutorial", "The original Kaggle tutorial CNN (Conv 8-16, Dense 256): 205k "
               "parameters, 98.7% test accuracy, 4 s/epoch on 2 CPU cores.",
               _tutorial, epochs=10, batch_size=250, learning_rate=1e-3),
        Preset("keras-example", "Keras' official simple MNIST convnet (Conv 32-64): 35k "
               "parameters, 99.1%, 4 s/epoch.",
               _keras_example, epochs=15, batch_size=128, learning_rate=1e-3,
               augmentation=None),
        Preset("fast", "Ours, shortest time to 99% on a CPU (warm-up + cosine rate): 225k "
               "parameters, 99.15% in 3 epochs, 5 s/epoch.",
               _fast, epochs=3, batch_size=128, learning_rate=3e-3, augmentation=None,
               schedule="one-cycle"),
        Preset("best", "Ours, highest accuracy (batch-norm CNN, augmentation, label smoothing): "
               "326k parameters, 99.66%, 39 s/epoch.",
               _best, epochs=20, batch_size=128, learning_rate=3e-3, schedule="one-cycle",
               label_smoothing=0.05),
    )
}
DEFAULT_PRESET = "fast"


def get_preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset '{name}'; choose one of: {', '.join(PRESETS)}") from None


_policy_lock = threading.Lock()


@lru_cache(maxsize=1)
def cpu_has_bf16() -> bool:
    """AVX512-BF16 or AMX: bfloat16 maths is native here and mixed precision pays off."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_precision(precision: str = "auto") -> str:
    """"auto" -> mixed_bfloat16 where the hardware computes bfloat16 natively (GPU, or a CPU
    with AVX512-BF16/AMX: 1.2-1.8x faster training here), float32 elsewhere (emulated bfloat16
    is slower than float32)."""
    if precision in ("float32", "mixed_bfloat16"):
        return precision
    if precision != "auto":
        raise ValueError(f"precision must be auto, float32 or mixed_bfloat16, not '{precision}'")
    import tensorflow as tf

    return "mixed_bfloat16" if tf.config.list_physical_devices("GPU") or cpu_has_bf16() else "float32"


def build_model(name: str, precision: str = "float32") -> keras.Model:
    """Build preset `name` with layers computing in `precision` (softmax always in float32).

    Keras layers take the global dtype policy when they are constructed, so the policy is set
    only around construction, under a lock, and restored: other threads are unaffected.
    """
    import keras

    preset = get_preset(name)
    with _policy_lock:
        previous = keras.config.dtype_policy()
        keras.config.set_dtype_policy(precision)
        try:
            return preset.build()
        finally:
            keras.config.set_dtype_policy(previous)


def parameter_count(model) -> int:
    return int(sum(int(w.numpy().size) for w in model.weights if w.trainable))
