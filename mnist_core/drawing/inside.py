"""What happens inside the network for one drawing: every layer's output, in model order.

The Inside page shows, for the current drawing, what each layer of the active model makes of
it (convolution and pooling maps, dense activations, the final probabilities) and the first
convolution's kernels. It must work for any model the lab can load, Sequential or functional,
with or without convolutions, so nothing here knows the presets: layers are described by what
their outputs look like (maps, a vector, the probabilities).

All outputs come from ONE forward pass: a Keras model with every shown layer's output as an
output, compiled once per loaded model with a fixed input signature (like `Predictor`), so a
classroom of sessions can call it concurrently and TensorFlow traces it once.

Layers that change nothing when classifying (Dropout and the other training-only noise layers)
and Flatten (the same numbers in one row) are listed in their place, honestly, as the same as
the layer above, without computing or drawing anything for them.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mnist_core.drawing.preprocess import Prepared

# What a layer's output is drawn as.
INPUT = "input"                  # the 28x28 image the network saw
MAPS = "maps"                    # (H, W, C) feature maps: a grid of C tiles
VECTOR = "vector"                # (n,) activations: bars
PROBABILITIES = "probabilities"  # the model's output, (10,): one bar per digit
SAME = "same"                    # nothing new to draw: identical to the layer above (note why)

# Layers that are the identity at inference (training=False): they add noise or drop units
# only while training. Matched by class name so Keras versions without one of them still work.
_IDENTITY_AT_INFERENCE = {
    "Dropout": "same as above (dropout is off when classifying)",
    "SpatialDropout1D": "same as above (dropout is off when classifying)",
    "SpatialDropout2D": "same as above (dropout is off when classifying)",
    "SpatialDropout3D": "same as above (dropout is off when classifying)",
    "AlphaDropout": "same as above (dropout is off when classifying)",
    "GaussianDropout": "same as above (dropout is off when classifying)",
    "GaussianNoise": "same as above (noise is only added while training)",
    "ActivityRegularization": "same as above (it only adds to the training loss)",
}

# One line per layer type on what it does, for students; unknown types get none.
_WHAT_IT_DOES = {
    "Conv2D": "each filter slides over its input; a map lights up where the filter's pattern is",
    "MaxPooling2D": "keeps the largest value of each patch: smaller maps, same channels",
    "AveragePooling2D": "averages each patch: smaller maps, same channels",
    "BatchNormalization": "rescales each channel with statistics learnt in training",
    "ReLU": "negative values become 0",
    "GlobalAveragePooling2D": "the average of each map: one number per channel",
    "GlobalMaxPooling2D": "the largest value of each map: one number per channel",
    "Dense": "each unit adds up all its inputs, each with a learnt weight",
    "Softmax": "turns scores into probabilities that add up to 1",
}


# What students call each kind of layer: "conv 1", "pool 2", "dense 1", instead of Keras'
# names ("conv2d_7", "re_lu_7"), which count every layer the process ever built.
_ROLES = {
    "Conv2D": "conv", "MaxPooling2D": "pool", "AveragePooling2D": "pool",
    "GlobalAveragePooling2D": "global pool", "GlobalMaxPooling2D": "global pool",
    "BatchNormalization": "batch norm", "ReLU": "relu", "Softmax": "softmax", "Dense": "dense",
    "Flatten": "flatten", "Dropout": "dropout", "SpatialDropout2D": "dropout",
}


def role_names(layers: list) -> list[str]:
    """Each layer's name by its role, numbered per role in model order: "conv 1", "relu 1",
    "conv 2", "pool 1", "dense 1". An Activation layer is named by its function ("relu 2");
    a kind of layer we have no word for by its lower-case type."""
    counts: dict[str, int] = {}
    names = []
    for layer in layers:
        kind = type(layer).__name__
        role = _ROLES.get(kind, kind.lower())
        if kind == "Activation":
            role = getattr(getattr(layer, "activation", None), "__name__", "") or "activation"
        counts[role] = counts.get(role, 0) + 1
        names.append(f"{role} {counts[role]}")
    return names


@dataclass(frozen=True)
class LayerOutput:
    """One entry of the listing: a layer (or the input) and what it made of the drawing."""

    index: int                    # position in the listing, from 0 (the input)
    name: str                     # the layer's name in the model ("conv2d_7"), "input"
    layer_type: str               # its class ("Conv2D"), "Input"
    kind: str                     # INPUT, MAPS, VECTOR, PROBABILITIES or SAME
    shape: tuple[int, ...]        # output shape without the batch axis, e.g. (28, 28, 32)
    values: np.ndarray | None     # float32 output of that shape; None for SAME
    note: str = ""                # what the layer does, or why it shows nothing new
    role: str = "input"           # what students call it: "conv 1" (see `role_names`)

    @property
    def shape_text(self) -> str:
        """The shape as students read it: "28×28×32", "128"."""
        return "×".join(str(n) for n in self.shape)

    @property
    def title(self) -> str:
        return f"{self.index}. {self.role} ({self.layer_type})"

    @property
    def caption(self) -> str:
        """Shape, then what the layer does: "28×28×32 · negative values become 0"."""
        return self.shape_text + (f" · {self.note}" if self.note else "")


@dataclass(frozen=True)
class Kernels:
    """The first Conv2D's weights: (k, k, input channels, filters), float32."""

    layer_name: str
    weights: np.ndarray

    @property
    def caption(self) -> str:
        k1, k2, channels, filters = self.weights.shape
        per = "" if channels == 1 else f" per input channel ({channels})"
        return (f"{filters} kernels of {k1}×{k2} weights{per} in conv 1, the first "
                "convolution: orange weights add the pixel under them, blue ones subtract it")


@dataclass(frozen=True)
class InsideView:
    """Everything the Inside page shows for one drawing."""

    layers: tuple[LayerOutput, ...]   # the input first, the probabilities last
    kernels: Kernels | None           # None: the model has no Conv2D

    @property
    def probabilities(self) -> np.ndarray:
        """(10,): the model's answer, the same numbers `Predictor.probabilities` gives."""
        return next(la.values for la in self.layers if la.kind == PROBABILITIES)


@dataclass(frozen=True)
class _Step:
    """How one layer is listed: its output index in the forward pass, or None for SAME."""

    name: str
    layer_type: str
    shape: tuple[int, ...]
    output: int | None
    note: str
    is_output: bool = False       # gives the model's output: the probabilities
    role: str = ""


class InsideNetwork:
    """Every layer's output for a drawing, from one compiled forward pass of `model`.

    Build once per loaded model (it traces TensorFlow's function, a fraction of a second) and
    share:
    `view` is safe to call from many threads at once.
    """

    def __init__(self, model) -> None:
        import keras
        import tensorflow as tf

        self.model = model
        self._steps, tensors = _plan(model)
        self.kernels = first_kernels(model)
        extractor = keras.Model(model.inputs[0], tensors)  # one input, not a list: no warning
        spec = tf.TensorSpec((None, 28, 28, 1), tf.float32)

        def forward(x):
            # float32 whatever the model computes in (mixed bfloat16 models): numpy needs it.
            return [tf.cast(t, tf.float32) for t in extractor(x, training=False)]

        self._forward = tf.function(forward, input_signature=[spec], autograph=False)
        self._forward(tf.zeros((1, 28, 28, 1)))  # trace now, not in a student's request

    @property
    def layer_count(self) -> int:
        """Entries in every view: the input plus one per layer."""
        return len(self._steps) + 1

    def view(self, prepared: Prepared) -> InsideView:
        """The listing for one drawing (ValueError for an empty one: nothing to show)."""
        outputs = [o.numpy()[0] for o in self._forward(prepared.batch())]
        image = prepared.image.astype(np.float32)
        layers = [LayerOutput(0, "input", "Input", INPUT, (28, 28, 1), image[:, :, None],
                              "the drawing as the network sees it (ink 1, paper 0)")]
        for i, step in enumerate(self._steps):
            values = None if step.output is None else outputs[step.output]
            kind = (SAME if values is None else PROBABILITIES if step.is_output
                    else MAPS if values.ndim >= 2 else VECTOR)
            if kind == MAPS and values.ndim != 3:   # (H, W) or deeper: shown as H x W maps
                values = values.reshape(values.shape[0], values.shape[1], -1)
            note = ("the probability of each digit: the network's answer"
                    if kind == PROBABILITIES else step.note)
            layers.append(LayerOutput(i + 1, step.name, step.layer_type, kind, step.shape,
                                      values, note, step.role))
        return InsideView(tuple(layers), self.kernels)


def _plan(model) -> tuple[list[_Step], list]:
    """The listing's layers in model order, and the tensors the forward pass must return.

    InputLayer is left out (the listing starts with the drawing itself). Layers without one
    output to show (a layer used twice in a functional model, or one with several outputs) are
    listed as SAME, with a note saying so, rather than guessed. The model's output layer is
    always computed: it is the answer.
    """
    steps: list[_Step] = []
    tensors: list = []
    answer = model.outputs[0]
    shown = [la for la in model.layers if type(la).__name__ != "InputLayer"]
    for layer, role in zip(shown, role_names(shown)):
        kind = type(layer).__name__
        try:   # Keras gives a shared layer's first call here: not "its" output, so none
            tensor = layer.output if len(getattr(layer, "_inbound_nodes", ())) <= 1 else None
        except (AttributeError, ValueError):
            tensor = None
        if tensor is None or isinstance(tensor, (list, tuple, dict)):
            steps.append(_Step(layer.name, kind, (), None,
                               "used more than once or with several outputs: not shown",
                               role=role))
            continue
        shape = tuple(int(n) if n is not None else 0 for n in tensor.shape[1:])
        is_output = tensor is answer
        if not is_output and (kind in _IDENTITY_AT_INFERENCE or kind == "Flatten"):
            note = _IDENTITY_AT_INFERENCE.get(
                kind, f"the same numbers as above, in one row of {int(np.prod(shape)):,}")
            steps.append(_Step(layer.name, kind, shape, None, note, role=role))
            continue
        steps.append(_Step(layer.name, kind, shape, len(tensors), _describe(layer), is_output,
                           role))
        tensors.append(tensor)
    if not any(step.is_output for step in steps):
        raise ValueError("no layer of the model gives its output: nothing to show as the answer")
    return steps, tensors


def _describe(layer) -> str:
    kind = type(layer).__name__
    if kind == "Activation":
        name = getattr(getattr(layer, "activation", None), "__name__", "")
        return {"relu": "negative values become 0", "softmax": _WHAT_IT_DOES["Softmax"]}.get(
            name, f"applies {name} to each value" if name else "")
    text = _WHAT_IT_DOES.get(kind, "")
    activation = getattr(getattr(layer, "activation", None), "__name__", "linear")
    if kind in ("Conv2D", "Dense") and activation == "relu":
        text += "; then ReLU: negative values become 0"
    elif kind in ("Conv2D", "Dense") and activation not in ("linear", ""):
        text += f"; then {activation}"
    return text


def first_kernels(model) -> Kernels | None:
    """The first Conv2D's kernels (k, k, in, filters) in model order, or None without one."""
    import keras

    conv = next((la for la in model.layers if isinstance(la, keras.layers.Conv2D)), None)
    if conv is None:
        return None
    return Kernels(conv.name, np.asarray(conv.kernel, np.float32))
