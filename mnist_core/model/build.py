"""Keras models from architecture specs. No I/O here; the training module decides what to do
with the model.

A `ModelSpec` (mnist_core.model.spec) is data; this module is the only place that turns it into
layers, one whitelisted type at a time, so nothing in a spec is ever evaluated as code.
"""
from __future__ import annotations

import threading
from functools import lru_cache

from mnist_core.model.spec import INPUT_SHAPE, LayerSpec, ModelSpec, keras_name


def _layer(spec: LayerSpec, is_output: bool):
    from keras import layers

    p = dict(spec.params)
    if spec.type == "conv2d":
        return layers.Conv2D(p["filters"], p["kernel"], strides=p["stride"],
                             padding=p["padding"], activation=p["activation"],
                             use_bias=p["use_bias"])
    if spec.type == "maxpool":
        return layers.MaxPooling2D(p["pool"])
    if spec.type == "avgpool":
        return layers.AveragePooling2D(p["pool"])
    if spec.type == "batchnorm":
        return layers.BatchNormalization(momentum=p["momentum"])
    if spec.type == "activation":
        return layers.Activation(p["activation"])
    if spec.type == "dropout":
        return layers.Dropout(p["rate"])
    if spec.type == "flatten":
        return layers.Flatten()
    if spec.type == "gap":
        return layers.GlobalAveragePooling2D()
    if spec.type == "dense":
        # The softmax output stays float32 under mixed precision: stable probabilities.
        return layers.Dense(p["units"], activation=p["activation"],
                            dtype="float32" if is_output else None)
    raise ValueError(f"no builder for layer type '{spec.type}'")  # unreachable: specs are checked


def _build(spec: ModelSpec):
    import keras

    spec.table()  # refuses anything that cannot reach 10 classes
    last = len(spec.layers) - 1
    # Functional, not Sequential: Keras reloads a saved Sequential by calling every layer
    # again for each one added, and a layer called many times has no single output for the
    # Inside page, the neuron view and the digit map to read.
    inputs = keras.Input(INPUT_SHAPE)
    x = inputs
    for i, layer_spec in enumerate(spec.layers):
        x = _layer(layer_spec, i == last)(x)
    return keras.Model(inputs, x, name=keras_name(spec.name) or "custom")


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
    """"auto" -> mixed_bfloat16 on a CPU that computes bfloat16 natively (AVX512-BF16/AMX),
    where it trains faster; float32 elsewhere: emulated bfloat16 is slower than float32, and
    on a GPU these small networks train no faster in bfloat16 while compiling longer
    (docs/benchmarks.md, "Precision, `fast`'s design, steps per execution")."""
    if precision in ("float32", "mixed_bfloat16"):
        return precision
    if precision != "auto":
        raise ValueError(f"precision must be auto, float32 or mixed_bfloat16, not '{precision}'")
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        return "float32"
    return "mixed_bfloat16" if cpu_has_bf16() else "float32"


def build_model(spec: ModelSpec, precision: str = "float32") -> keras.Model:
    """Build `spec` with layers computing in `precision` (softmax always in float32).

    Keras layers take the global dtype policy when they are constructed, so the policy is set
    only around construction, under a lock, and restored: other threads are unaffected.
    """
    import keras

    with _policy_lock:
        previous = keras.config.dtype_policy()
        keras.config.set_dtype_policy(precision)
        try:
            return _build(spec)
        finally:
            keras.config.set_dtype_policy(previous)


def parameter_count(model) -> int:
    return int(sum(int(w.numpy().size) for w in model.weights if w.trainable))


def reseed_dropout(model, seed: int) -> None:
    """Dropout draws from a generator seeded when the model was loaded (from Python's random
    state, different in every process): reseed it, or the same seed gives another model."""
    import keras

    for i, layer in enumerate(model.layers):
        generator = getattr(layer, "seed_generator", None)
        if generator is not None:
            generator.state.assign(keras.ops.convert_to_tensor(
                [seed * 1000 + i, 0], dtype=generator.state.dtype))
