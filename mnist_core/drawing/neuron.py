"""Open one neuron: the numbers a convolution cell or a dense unit computes, for one drawing.

The Inside page lets a student tap one cell of a convolution's output map (or pick a dense
unit) and see the arithmetic behind it, as CNN Explainer does: the kernel's weights, the input
patch under them, their products, the sum plus the bias, and the activation. Every number is
recomputed here in numpy from the layer's weights and the layer's INPUT as the model's own
forward pass made it (`mnist_core.drawing.inside.InsideView`), and each result is paired with
the model's own output for the same cell, so the page (and the tests) can show they agree.

A convolution often has no activation and no bias of its own and is followed by batch norm
and a ReLU layer (the bundled model): those per-channel steps are followed too, each one
checked against that layer's own output, so the chain is shown honestly as sum → batch norm's
scale and shift → ReLU rather than folded into one number.

The receptive field (the pixels of the 28x28 drawing that can reach the cell) is composed
through every convolution and pooling before the layer with TensorFlow's exact "same" padding
(for a stride-2 5x5 kernel on 28 pixels TF pads 1 before and 2 after: it puts the odd one
after). Nothing here knows the presets; it works for any chain of single-input layers, and
refuses (None) what it cannot explain rather than guessing.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mnist_core.drawing import neuron_math
from mnist_core.drawing.inside import InsideView, LayerOutput

#: Input channels of a convolution shown weight by weight; the rest are summed in one line.
SHOWN_CHANNELS = 4
#: Inputs of a dense unit listed one by one (the largest weight x input first).
SHOWN_INPUTS = 10

# Layers that change nothing when classifying, or only the layout of the numbers.
_PASS_THROUGH = {"Dropout", "SpatialDropout2D", "GaussianNoise", "GaussianDropout",
                 "AlphaDropout", "ActivityRegularization"}
# Per-value (or per-position, for softmax) steps followed after a neuron's own sum.
_FOLLOWED = {"BatchNormalization", "ReLU", "Activation"}


@dataclass(frozen=True)
class Step:
    """One step after the sum: a batch norm or an activation, computed and as the model has it."""

    role: str          # "batch norm 1", "relu 1"
    what: str          # for students: "× 0.82 + 0.10 (batch norm's learnt scale and shift)"
    value: float       # what we computed
    model_value: float  # the model's own output at the same cell


@dataclass(frozen=True)
class ConvNeuron:
    """One cell (row, col) of channel `channel` of a Conv2D's output."""

    role: str                          # "conv 2"
    row: int
    col: int
    channel: int
    field_rows: tuple[int, int] | None  # receptive field on the 28x28 input, inclusive
    field_cols: tuple[int, int] | None
    channels: tuple[int, ...]          # input channels shown, largest |contribution| first
    kernel: np.ndarray                 # (kh, kw, len(channels)) weights
    patch: np.ndarray                  # (kh, kw, len(channels)) the layer's input, 0 in padding
    padded: np.ndarray                 # (kh, kw) bool: positions that fall in the padding
    channel_sums: np.ndarray           # (in_channels,) sum of products per input channel
    bias: float                        # 0 without a bias
    has_bias: bool
    activation: str                    # the layer's own: "linear", "relu", ...
    output: float                      # the layer's output we computed (after its activation)
    model_output: float                # the model's own output for the cell
    steps: tuple[Step, ...]            # batch norm, ReLU... after it

    @property
    def products(self) -> np.ndarray:
        return self.kernel * self.patch

    @property
    def total(self) -> float:
        """The sum of every product, over all input channels (shown ones or not)."""
        return float(self.channel_sums.sum())

    @property
    def other_channels(self) -> float:
        """What the channels not shown add to the sum."""
        return float(self.channel_sums.sum() - self.channel_sums[list(self.channels)].sum())

    @property
    def in_channels(self) -> int:
        return len(self.channel_sums)

    @property
    def pre_activation(self) -> float:
        return self.total + self.bias

    @property
    def final(self) -> float:
        """The value at the end of the chain (after batch norm and ReLU when they follow)."""
        return self.steps[-1].value if self.steps else self.output


@dataclass(frozen=True)
class DenseNeuron:
    """One unit of a Dense layer."""

    role: str
    unit: int
    inputs: tuple[int, ...]      # indices of the inputs listed, largest |weight x input| first
    labels: tuple[str, ...]      # what each listed input is, for students
    weights: np.ndarray          # (len(inputs),)
    values: np.ndarray           # (len(inputs),) the inputs
    input_count: int
    total: float                 # the sum of ALL products weight x input
    bias: float
    activation: str
    output: float
    model_output: float
    steps: tuple[Step, ...]

    @property
    def products(self) -> np.ndarray:
        return self.weights * self.values

    @property
    def other_inputs(self) -> float:
        return float(self.total - self.products.sum())

    @property
    def pre_activation(self) -> float:
        return self.total + self.bias

    @property
    def final(self) -> float:
        return self.steps[-1].value if self.steps else self.output


class NeuronExplainer:
    """Opens neurons of one model. Build once per model (it only indexes the layers) and share:
    every call reads the weights it needs and the drawing's `InsideView`, nothing else."""

    def __init__(self, model) -> None:
        from mnist_core.drawing.inside import role_names

        self.model = model
        shown = [la for la in model.layers if type(la).__name__ != "InputLayer"]
        self._layers = {la.name: la for la in shown}
        self._roles = dict(zip((la.name for la in shown), role_names(shown)))
        producers = {id(la.output): la.name for la in shown if _single_output(la)}
        producers[id(model.inputs[0])] = "input"
        self._input_of: dict[str, str | None] = {}
        for la in shown:
            try:
                self._input_of[la.name] = producers.get(id(la.input))
            except (AttributeError, ValueError):    # several inputs or calls: not a chain
                self._input_of[la.name] = None
        self._next: dict[str, str] = {}
        for name, source in self._input_of.items():
            if source is not None:                   # the only consumer, or none
                self._next[source] = name if source not in self._next else ""

    # --- what can be opened -------------------------------------------------------------------

    def openable(self, view: InsideView) -> list[LayerOutput]:
        """The layers of `view` whose neurons can be opened: Conv2D maps and Dense units whose
        input is known."""
        return [la for la in view.layers
                if la.values is not None and la.layer_type in ("Conv2D", "Dense")
                and self._input_values(view, la.name) is not None
                and (la.layer_type == "Dense" or la.values.ndim == 3)]

    # --- a convolution's cell -----------------------------------------------------------------

    def conv(self, view: InsideView, name: str, row: int, col: int, channel: int) -> ConvNeuron:
        """The arithmetic of output cell (row, col) of channel `channel` of Conv2D `name`."""
        layer = self._layers[name]
        x = self._input_values(view, name)
        out = _values(view, name)
        if x is None or x.ndim != 3 or out is None:
            raise ValueError(f"{name}: its input is not known, so its arithmetic cannot be shown")
        h_out, w_out, filters = out.shape
        if not (0 <= row < h_out and 0 <= col < w_out and 0 <= channel < filters):
            raise ValueError(f"{name}: no cell ({row}, {col}) in channel {channel}")
        kernel = np.asarray(layer.kernel, np.float32)            # (kh, kw, in, filters)
        kh, kw = kernel.shape[:2]
        rows, row_pad = neuron_math.window(layer, x.shape[0], row, kh, 0)
        cols, col_pad = neuron_math.window(layer, x.shape[1], col, kw, 1)
        padded = row_pad[:, None] | col_pad[None, :]
        patch = x[np.clip(rows, 0, x.shape[0] - 1)][:, np.clip(cols, 0, x.shape[1] - 1)]
        patch = np.where(padded[:, :, None], 0.0, patch).astype(np.float32)
        # Every filter at this position: softmax as a conv's own activation needs them all.
        all_sums = np.einsum("ijc,ijcf->f", patch, kernel, dtype=np.float64)
        has_bias = getattr(layer, "use_bias", False) and layer.bias is not None
        biases = np.asarray(layer.bias, np.float64) if has_bias else np.zeros(filters)
        activated = neuron_math.activate(layer, (all_sums + biases).astype(np.float32))
        channel_sums = (patch * kernel[:, :, :, channel][:, :, :]).sum(axis=(0, 1))
        order = np.argsort(-np.abs(channel_sums), kind="stable")[:SHOWN_CHANNELS]
        shown = tuple(int(c) for c in order)
        steps = self._steps(view, name, activated, lambda values: values[row, col])
        return ConvNeuron(
            role=self._roles[name], row=row, col=col, channel=channel,
            **_field(self, name, (row, row), (col, col)),
            channels=shown, kernel=kernel[:, :, list(shown), channel], patch=patch[:, :, shown],
            padded=padded, channel_sums=channel_sums.astype(np.float64),
            bias=float(biases[channel]), has_bias=bool(has_bias),
            activation=neuron_math.activation_name(layer), output=float(activated[channel]),
            model_output=float(out[row, col, channel]),
            steps=tuple(s for s in _pick(steps, channel)))

    # --- a dense unit -------------------------------------------------------------------------

    def dense(self, view: InsideView, name: str, unit: int) -> DenseNeuron:
        """The arithmetic of unit `unit` of Dense layer `name`: its inputs with the largest
        weight x input (what moves its sum most), the sum of all of them plus the bias."""
        layer = self._layers[name]
        x = self._input_values(view, name)
        out = _values(view, name)
        if x is None or out is None:
            raise ValueError(f"{name}: its input is not known, so its arithmetic cannot be shown")
        if not 0 <= unit < out.shape[-1]:
            raise ValueError(f"{name}: no unit {unit}")
        flat = x.reshape(-1)                                      # Flatten's order: row, col, ch
        kernel = np.asarray(layer.kernel, np.float32)            # (inputs, units)
        has_bias = getattr(layer, "use_bias", False) and layer.bias is not None
        biases = np.asarray(layer.bias, np.float64) if has_bias else np.zeros(kernel.shape[1])
        sums = flat.astype(np.float64) @ kernel.astype(np.float64)
        activated = neuron_math.activate(layer, (sums + biases).astype(np.float32))
        products = flat * kernel[:, unit]
        top = np.argsort(-np.abs(products), kind="stable")[:SHOWN_INPUTS]
        labels = tuple(self._input_label(view, name, x.shape, int(i)) for i in top)
        steps = self._steps(view, name, activated, lambda values: values)
        return DenseNeuron(
            role=self._roles[name], unit=unit, inputs=tuple(int(i) for i in top), labels=labels,
            weights=kernel[top, unit], values=flat[top].astype(np.float32),
            input_count=len(flat), total=float(products.astype(np.float64).sum()),
            bias=float(biases[unit]), activation=neuron_math.activation_name(layer),
            output=float(activated[unit]), model_output=float(out[unit]),
            steps=tuple(_pick(steps, unit)))

    # --- the receptive field ------------------------------------------------------------------

    def receptive_field(self, name: str, rows: tuple[int, int], cols: tuple[int, int]
                        ) -> tuple[tuple[int, int], tuple[int, int]] | None:
        """The input pixels (first, last row), (first, last column) that output rows `rows`
        and columns `cols` of layer `name` can see, through every layer before it; None where
        a layer on the way is not one this knows (then no outline is better than a wrong one)."""
        while name != "input":
            layer = self._layers.get(name)
            source = self._input_of.get(name)
            if layer is None or source is None:
                return None
            kind = type(layer).__name__
            if kind in ("Conv2D", "MaxPooling2D", "AveragePooling2D"):
                size = neuron_math.input_size(layer)
                if size is None:
                    return None
                rows = neuron_math.span(layer, size[0], rows, 0)
                cols = neuron_math.span(layer, size[1], cols, 1)
            elif kind not in _PASS_THROUGH | _FOLLOWED:
                return None
            name = source
        return rows, cols

    # --- helpers ------------------------------------------------------------------------------

    def _input_values(self, view: InsideView, name: str) -> np.ndarray | None:
        """The layer's input as the forward pass made it, walking back over layers that
        change nothing when classifying (dropout) and Flatten (the same numbers, reshaped)."""
        source = self._input_of.get(name)
        for _ in range(len(self._layers) + 1):
            if source is None:
                return None
            if source == "input":
                return view.layers[0].values
            values = _values(view, source)
            if values is not None:
                return values
            kind = type(self._layers[source]).__name__
            if kind not in _PASS_THROUGH and kind != "Flatten":
                return None
            source = self._input_of.get(source)
        return None

    def _steps(self, view: InsideView, name: str, values: np.ndarray, at) -> list[tuple]:
        """The per-channel layers that follow `name` one after another (batch norm, ReLU,
        activations): each applied to `values` (every channel at the neuron's position) and
        paired with that layer's own output there, `at` picking the position."""
        steps = []
        current = name
        while True:
            following = self._next.get(current) or ""
            layer = self._layers.get(following)
            if layer is None or type(layer).__name__ not in _FOLLOWED:
                return steps
            model_values = _values(view, following)
            if model_values is None:
                return steps
            values, what = neuron_math.apply_step(layer, values)
            steps.append((self._roles[following], what, values, at(model_values)))
            current = following

    def _input_label(self, view: InsideView, name: str, shape: tuple[int, ...], i: int) -> str:
        """What input `i` of a dense layer is: "map 5 at row 3, column 4 of pool 2",
        "map 5 of global pool 1", "unit 12 of dense 1"."""
        source = self._input_of.get(name)
        while source not in (None, "input") and _values(view, source) is None:
            source = self._input_of.get(source)        # back over Flatten and dropout
        role = "the input" if source in (None, "input") else self._roles[source]
        if len(shape) == 3:
            r, c, ch = np.unravel_index(i, shape)
            return f"map {ch} at row {r}, column {c} of {role}"
        kind = type(self._layers[source]).__name__ if source in self._layers else ""
        return f"map {i} of {role}" if kind.startswith("Global") else f"unit {i} of {role}"


def _pick(steps: list[tuple], index: int):
    for role, what, values, model_value in steps:
        yield Step(role, what[index] if isinstance(what, list) else what,
                   float(values[index]), float(model_value[index]))


def _single_output(layer) -> bool:
    try:
        return not isinstance(layer.output, (list, tuple, dict))
    except (AttributeError, ValueError):
        return False


def _values(view: InsideView, name: str) -> np.ndarray | None:
    return next((la.values for la in view.layers if la.name == name), None)


def _field(explainer: NeuronExplainer, name: str, rows, cols) -> dict:
    field = explainer.receptive_field(name, rows, cols)
    return {"field_rows": field[0] if field else None, "field_cols": field[1] if field else None}
