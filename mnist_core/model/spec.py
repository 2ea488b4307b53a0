"""An architecture as data: an ordered list of whitelisted layers with their parameters.

A `ModelSpec` is plain JSON (`to_dict`/`from_dict`) and is never evaluated as code: only the
layer types in `LAYER_TYPES` exist, every field is checked for type and range, and a spec
from a run record or a model card that was edited into something else is refused with the
layer and the reason. Shapes and parameter counts are worked out here in pure Python, so a
student's stack is explained ("layer 5: 2x2 pooling of a 1x1 map") before TensorFlow is even
imported; `mnist_core.model.build.build` turns a valid spec into a Keras model.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from mnist_core.untrusted import short

INPUT_SHAPE = (28, 28, 1)
NUM_CLASSES = 10

# Caps and their reasons, shown to students next to the builder.
MAX_LAYERS = 32
MAX_PARAMETERS = 5_000_000
CAPS = {
    "layers": (MAX_LAYERS, "plain stacks deeper than this (no skip connections) stop learning "
               "well, and every layer adds time on a CPU; the deepest preset, best, has 26"),
    "parameters": (MAX_PARAMETERS, "a bigger model takes minutes per epoch on a 2-core laptop, "
                   "and its file (20 MB) slows loading for every student; 300k parameters "
                   "already reach 99.6%"),
}
ACTIVATIONS = ("relu", "elu", "gelu", "tanh", "sigmoid", "linear", "softmax")


@dataclass(frozen=True)
class Field:
    """One parameter of a layer type: its kind, allowed values and default."""

    name: str
    kind: type                       # int, float, str or bool
    default: Any
    low: float | None = None
    high: float | None = None
    choices: tuple | None = None
    help: str = ""

    def check(self, value: Any, where: str) -> Any:
        """The value if it is allowed; SpecError naming `where` and this field otherwise."""
        wrong_kind = (isinstance(value, bool) and self.kind is not bool) or not (
            isinstance(value, self.kind) or (self.kind is float and isinstance(value, int)))
        if wrong_kind:
            kind = {int: "a whole number", float: "a number", str: "text",
                    bool: "true or false"}[self.kind]
            raise SpecError(f"{where}: {self.name} must be {kind}, not {short(value)}")
        if isinstance(value, float) and not math.isfinite(value):
            raise SpecError(f"{where}: {self.name} must be a finite number, not {value}")
        if self.choices is not None and value not in self.choices:
            raise SpecError(f"{where}: {self.name} must be one of {', '.join(map(str, self.choices))}"
                            f", not {short(value)}")
        # Compared before any float(): an integer of 400 digits is simply out of range, where
        # float() or {:g} of it would raise OverflowError.
        if self.low is not None and self.high is not None and not self.low <= value <= self.high:
            shown = f"{value:g}" if isinstance(value, float) else short(value)
            raise SpecError(f"{where}: {self.name} must be between {self.low:g} and "
                            f"{self.high:g}, not {shown}" + (f" ({self.help})" if self.help
                                                             else ""))
        return float(value) if self.kind is float else value


@dataclass(frozen=True)
class LayerType:
    name: str                        # the "type" in JSON
    label: str                       # what students see
    fields: tuple[Field, ...] = ()
    about: str = ""


def _activation(default: str) -> Field:
    return Field("activation", str, default, choices=ACTIVATIONS)


LAYER_TYPES: dict[str, LayerType] = {t.name: t for t in (
    LayerType("conv2d", "Conv2D", (
        Field("filters", int, 32, 1, 512, help="how many patterns this layer looks for"),
        Field("kernel", int, 3, 1, 7, help="the side of the square window, in pixels"),
        Field("stride", int, 1, 1, 4, help="how far the window moves each step"),
        Field("padding", str, "valid", choices=("valid", "same")),
        _activation("relu"),
        Field("use_bias", bool, True)),
        "slides small learned filters over the image: each output map shows where one "
        "pattern occurs"),
    LayerType("maxpool", "MaxPool", (Field("pool", int, 2, 2, 4),),
              "keeps the strongest answer in each pool x pool window: halves the map"),
    LayerType("avgpool", "AvgPool", (Field("pool", int, 2, 2, 4),),
              "averages each pool x pool window: halves the map, smoothly"),
    LayerType("batchnorm", "BatchNorm", (Field("momentum", float, 0.99, 0.0, 0.999),),
              "rescales each channel to a steady range: deeper stacks train faster"),
    LayerType("activation", "Activation", (_activation("relu"),),
              "applies a function to every value (after a BatchNorm, for example)"),
    LayerType("dropout", "Dropout", (Field("rate", float, 0.25, 0.0, 0.9),),
              "switches off a random share of values while training: less memorising"),
    LayerType("flatten", "Flatten", (), "lays the maps out as one long vector for Dense"),
    LayerType("gap", "GlobalAveragePooling", (),
              "averages each map to one number: a vector of one value per channel"),
    LayerType("dense", "Dense", (
        Field("units", int, 128, 1, 4096, help="how many neurons"),
        _activation("relu")),
        "every input connected to every neuron"),
)}


class SpecError(ValueError):
    """A spec that cannot be built: the message names the layer and the field or reason."""


#: The names TensorFlow takes for a model: it trains and predicts under a root name scope named
#: after it (tensorflow/python/framework/ops.py, _VALID_OP_NAME_REGEX), less "/", which Keras
#: refuses in any name (keras/src/ops/operation.py).
_KERAS_NAME = re.compile(r"[A-Za-z0-9.][A-Za-z0-9_.\\>-]*")


def keras_name(name: str) -> str:
    """The name a spec's Keras model gets (mnist_core.model.build): its name with every character
    but ASCII letters, digits and _ made _, so that "fast (edited)" is "fast__edited_"."""
    return re.sub(r"[^A-Za-z0-9_]", "_", name)


def _check_name(name: Any) -> str:
    """`name` if it is 1 to 40 characters of text that Keras and TensorFlow take as a model's
    name (see `keras_name`); SpecError otherwise, before any data is read: TensorFlow itself
    refuses a name like "-dash" only when training starts."""
    if not isinstance(name, str) or not 0 < len(name) <= 40:
        raise SpecError("the architecture's name must be text of 1 to 40 characters")
    if not _KERAS_NAME.fullmatch(keras_name(name)):
        raise SpecError(f"the architecture's name must start with a letter or digit (A-Z, a-z, "
                        f"0-9; Keras names the model after it), not {short(name)}")
    return name


@dataclass(frozen=True)
class LayerSpec:
    type: str
    params: tuple[tuple[str, Any], ...] = ()

    def get(self, name: str) -> Any:
        return dict(self.params)[name]

    @property
    def label(self) -> str:
        return LAYER_TYPES[self.type].label

    def describe(self) -> str:
        """"Conv2D 32 3x3 relu", "Dropout 0.25": one short line for tables and run lists."""
        p = dict(self.params)
        if self.type == "conv2d":
            extra = (f" stride {p['stride']}" if p["stride"] != 1 else "") + \
                    (" same" if p["padding"] == "same" else "")
            return f"Conv2D {p['filters']} {p['kernel']}x{p['kernel']}{extra} {p['activation']}"
        if self.type in ("maxpool", "avgpool"):
            return f"{self.label} {p['pool']}x{p['pool']}"
        if self.type == "dense":
            return f"Dense {p['units']} {p['activation']}"
        if self.type == "dropout":
            return f"Dropout {p['rate']:g}"
        if self.type == "activation":
            return f"Activation {p['activation']}"
        return self.label

    def to_dict(self) -> dict:
        return {"type": self.type, **dict(self.params)}


def layer(type: str, **params) -> LayerSpec:
    """A checked layer with defaults filled in: layer("conv2d", filters=32)."""
    return _parse_layer({"type": type, **params}, "layer")


@dataclass(frozen=True)
class LayerRow:
    """One line of the builder's table."""

    index: int                       # 1-based, as students count
    description: str
    output_shape: tuple[int, ...]
    parameters: int                  # learned (trainable) parameters, as in Keras' summary


@dataclass(frozen=True)
class ModelSpec:
    name: str
    layers: tuple[LayerSpec, ...]

    # --- JSON ---------------------------------------------------------------------------------

    def to_dict(self) -> dict:
        return {"name": self.name, "layers": [l.to_dict() for l in self.layers]}

    @classmethod
    def from_dict(cls, data: Any) -> "ModelSpec":
        """Parse and check untrusted JSON data; SpecError with the reason if anything is off.

        The result is also checked as a whole (shapes, caps, 10 classes at the end), so a
        ModelSpec that exists can always be built."""
        if not isinstance(data, dict):
            raise SpecError(f"an architecture must be an object with name and layers, not "
                            f"{type(data).__name__}")
        unknown = set(data) - {"name", "layers"}
        if unknown:
            raise SpecError(f"unknown architecture field(s): {', '.join(sorted(unknown))}")
        name = _check_name(data.get("name", "custom"))
        layers = data.get("layers")
        if not isinstance(layers, list) or not layers:
            raise SpecError("an architecture needs a non-empty list of layers")
        if len(layers) > MAX_LAYERS:
            raise SpecError(f"{len(layers)} layers is more than the {MAX_LAYERS} allowed: "
                            f"{CAPS['layers'][1]}")
        try:
            spec = cls(name, tuple(_parse_layer(l, f"layer {i}")
                                   for i, l in enumerate(layers, 1)))
        except (TypeError, ArithmeticError, RecursionError) as e:   # a reason, not a traceback
            raise SpecError(f"this architecture cannot be read: {str(e)[:200]}") from None
        spec.table()   # shapes, caps and the 10-class ending
        return spec

    # --- shapes and parameters ----------------------------------------------------------------

    def table(self) -> list[LayerRow]:
        """Each layer's output shape and parameters, or SpecError naming the first layer that
        cannot work and why."""
        if len(self.layers) > MAX_LAYERS:
            raise SpecError(f"{len(self.layers)} layers is more than the {MAX_LAYERS} allowed: "
                            f"{CAPS['layers'][1]}")
        shape: tuple[int, ...] = INPUT_SHAPE
        rows = []
        for i, spec in enumerate(self.layers, 1):
            shape, params = _output(spec, shape, f"layer {i} ({spec.label})")
            rows.append(LayerRow(i, spec.describe(), shape, params))
        last = self.layers[-1]
        if shape != (NUM_CLASSES,) or last.type != "dense" or last.get("activation") != "softmax":
            raise SpecError(
                f"the last layer must be Dense with {NUM_CLASSES} units and softmax, to give "
                f"one probability per digit; this stack ends with {last.describe()} giving "
                f"{_shape_text(shape)}")
        total = sum(r.parameters for r in rows)
        if total > MAX_PARAMETERS:
            raise SpecError(f"{total:,} parameters is more than the {MAX_PARAMETERS:,} allowed: "
                            f"{CAPS['parameters'][1]}")
        return rows

    def parameter_count(self) -> int:
        return sum(r.parameters for r in self.table())

    def multiply_adds(self) -> int:
        """Multiply-adds of one image's forward pass through the convolutions and Dense layers
        (pooling, batch norm and activations are cheap beside them): the work of a training
        step, which a parameter count does not tell (a 3x3 kernel is applied at every pixel)."""
        total = 0
        for spec, row in zip(self.layers, self.table()):
            if spec.type == "conv2d":      # each weight (not the biases) at every output pixel
                biases = spec.get("filters") if spec.get("use_bias") else 0
                total += row.output_shape[0] * row.output_shape[1] * (row.parameters - biases)
            elif spec.type == "dense":
                total += row.parameters - spec.get("units")
        return total

    def summary(self) -> str:
        """"Conv2D 32 3x3 relu → MaxPool 2x2 → ... (225,034 parameters)"."""
        return " → ".join(l.describe() for l in self.layers) + \
            f" ({self.parameter_count():,} parameters)"


def _parse_layer(data: Any, where: str) -> LayerSpec:
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        raise SpecError(f"{where}: must be an object with a \"type\"")
    kind = LAYER_TYPES.get(data["type"])
    if kind is None:
        raise SpecError(f"{where}: '{data['type'][:40]}' is not a layer type this lab builds "
                        f"(allowed: {', '.join(LAYER_TYPES)})")
    where = f"{where} ({kind.label})"
    known = {f.name for f in kind.fields}
    unknown = set(data) - known - {"type"}
    if unknown:
        raise SpecError(f"{where}: unknown field(s) {', '.join(sorted(map(str, unknown)))}"
                        + (f" (allowed: {', '.join(sorted(known))})" if known else ""))
    params = tuple((f.name, f.check(data.get(f.name, f.default), where)) for f in kind.fields)
    return LayerSpec(kind.name, params)


def _shape_text(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape)) if len(shape) == 3 else f"a vector of {shape[0]}"


def _output(spec: LayerSpec, shape: tuple[int, ...], where: str) -> tuple[tuple[int, ...], int]:
    """(output shape, parameter count) of one layer on an input of `shape`."""
    p = dict(spec.params)
    is_map = len(shape) == 3
    if spec.type in ("conv2d", "maxpool", "avgpool", "gap", "flatten") and not is_map:
        raise SpecError(f"{where}: needs an image-like map (height x width x channels), but "
                        f"gets {_shape_text(shape)}; put it before Flatten/GlobalAveragePooling")
    if spec.type == "conv2d":
        h, w, c = shape
        k, s = p["kernel"], p["stride"]
        if p["padding"] == "valid" and k > min(h, w):
            raise SpecError(f"{where}: a {k}x{k} window does not fit a {h}x{w} map "
                            "(use padding 'same', a smaller kernel, or less pooling before it)")
        if p["padding"] == "same":
            h, w = math.ceil(h / s), math.ceil(w / s)
        else:
            h, w = (h - k) // s + 1, (w - k) // s + 1
        params = k * k * c * p["filters"] + (p["filters"] if p["use_bias"] else 0)
        return (h, w, p["filters"]), params
    if spec.type in ("maxpool", "avgpool"):
        h, w, c = shape
        k = p["pool"]
        if k > min(h, w):
            raise SpecError(f"{where}: {k}x{k} pooling of a {h}x{w} map (nothing left to pool; "
                            "remove a pooling layer or use a stride-1 convolution before it)")
        return (h // k, w // k, c), 0
    if spec.type == "gap":
        return (shape[2],), 0
    if spec.type == "flatten":
        return (shape[0] * shape[1] * shape[2],), 0
    if spec.type == "batchnorm":
        return shape, 2 * shape[-1]      # learned scale and shift (running mean/variance are
                                         # kept too, but not learned: Keras' non-trainable)
    if spec.type == "dense":
        if is_map:
            raise SpecError(f"{where}: Dense needs a vector, but gets a {_shape_text(shape)} map; "
                            "put Flatten or GlobalAveragePooling before it")
        return (p["units"],), shape[0] * p["units"] + p["units"]
    return shape, 0                      # dropout, activation
