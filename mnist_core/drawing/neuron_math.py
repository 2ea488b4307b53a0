"""The arithmetic of one layer that opening a neuron needs (mnist_core.drawing.neuron): where a
convolution's or pooling's window falls with TensorFlow's exact padding, and the per-value steps
that follow a sum (a layer's own activation, batch norm's scale and shift, an activation layer).

TensorFlow's "same" padding: out = ceil(size / stride); the padding that takes is split with
the smaller half before, so a 5x5 stride-2 kernel on 28 pixels gets 1 before and 2 after. A
neuron shown with its padding one pixel off would not add up to the model's own value.
"""
from __future__ import annotations

import numpy as np


def input_size(layer) -> tuple[int, int] | None:
    try:
        shape = layer.input.shape
    except (AttributeError, ValueError):
        return None
    return (int(shape[1]), int(shape[2])) if len(shape) == 4 and None not in shape[1:3] else None


def geometry(layer, size: int, axis: int) -> tuple[int, int, int, int]:
    """(kernel, stride, dilation, padding before) of a conv or pooling layer along `axis`, with
    TensorFlow's "same" arithmetic: out = ceil(size / stride), and of the padding that takes,
    the smaller half goes before."""
    if type(layer).__name__ == "Conv2D":
        k, s, d = layer.kernel_size[axis], layer.strides[axis], layer.dilation_rate[axis]
    else:
        k, s, d = layer.pool_size[axis], layer.strides[axis], 1
    span = (k - 1) * d + 1
    before = 0
    if layer.padding == "same":
        out = -(-size // s)
        before = max((out - 1) * s + span - size, 0) // 2
    return k, s, d, before


def span(layer, size: int, first_last: tuple[int, int], axis: int) -> tuple[int, int]:
    """Output positions first..last -> the input positions they read, clipped to the map."""
    k, s, d, before = geometry(layer, size, axis)
    first, last = first_last
    return max(first * s - before, 0), min(last * s - before + (k - 1) * d, size - 1)


def window(layer, size: int, position: int, k: int, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """The input positions under the kernel for output `position`, and which are padding."""
    _, s, d, before = geometry(layer, size, axis)
    where = position * s - before + d * np.arange(k)
    return where, (where < 0) | (where >= size)


def activation_name(layer) -> str:
    return getattr(getattr(layer, "activation", None), "__name__", "linear") or "linear"


def activate(layer, values: np.ndarray) -> np.ndarray:
    """The layer's own activation on the pre-activations of every channel (or unit) at one
    position: the layer's function itself, so it is the model's arithmetic, not a copy."""
    if activation_name(layer) == "linear":
        return values
    return np.asarray(layer.activation(values[None]), np.float32)[0]


def apply_step(layer, values: np.ndarray) -> tuple[np.ndarray, str | list[str]]:
    """A following batch norm or activation on every channel at one position, and what it did
    for students (per channel for batch norm: its scale and shift differ per channel)."""
    kind = type(layer).__name__
    if kind == "BatchNormalization":
        n = values.shape[-1]
        gamma = np.asarray(layer.gamma, np.float64) if layer.gamma is not None else np.ones(n)
        beta = np.asarray(layer.beta, np.float64) if layer.beta is not None else np.zeros(n)
        mean = np.asarray(layer.moving_mean, np.float64)
        variance = np.asarray(layer.moving_variance, np.float64)
        scale = gamma / np.sqrt(variance + layer.epsilon)
        shift = beta - mean * scale
        out = (values * scale + shift).astype(np.float32)
        return out, [f"× {a:.4f} {'+' if b >= 0 else '−'} {abs(b):.4f} (batch norm's learnt "
                     "scale and shift for this channel)" for a, b in zip(scale, shift)]
    name = "relu" if kind == "ReLU" else activation_name(layer)
    out = np.asarray(layer(values[None]), np.float32)[0]
    what = {"relu": "ReLU: a negative value becomes 0, a positive one stays",
            "softmax": "softmax: the scores of all units become probabilities that add up to 1",
            "linear": "nothing (linear)"}.get(name, f"{name} of the value")
    return out, what
