"""The Inside page's "Open a neuron": tap a cell of a convolution's map (or a dense layer's
unit) and see the numbers behind it, computed by mnist_core.drawing.neuron.

The map is our own small component (neuron_cells.js): Plotly charts select a point on a mouse
click but not on a finger's tap. A tap is copied into the row and column boxes, which also work
on their own: by keyboard, for a screen reader, or where a tap is hard. It runs as a fragment,
so a tap reruns this section only, not the page's twenty pictures above.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

from mnist_core.drawing.inside import PROBABILITIES, InsideView, LayerOutput
from mnist_core.drawing.neuron import ConvNeuron, NeuronExplainer
from mnist_core.views import charts
from mnist_core.views import neuron_figures as figures
from ui import session

AGREES = 1e-4    # our arithmetic and the model's own output agree within this (float32)
UNITS_PER_ROW = 16   # a dense layer's units, as rows of squares to tap

_HERE = Path(__file__).resolve().parent
_cells = st.components.v2.component(
    "mnist_lab_neuron_cells",
    js=(_HERE / "neuron_cells.js").read_text(encoding="utf-8"),
    css=(_HERE / "neuron_cells.css").read_text(encoding="utf-8"),
)


@st.fragment
def show(view: InsideView, model) -> None:
    """The section: pick a layer, tap a neuron, read its sum."""
    st.subheader("Open a neuron")
    explainer = NeuronExplainer(model)
    layers = {la.name: la for la in explainer.openable(view)}
    if not layers:
        st.info("This model has no convolution or dense layer whose sums can be shown.")
        return
    if st.session_state.get(session.NEURON_LAYER) not in layers:
        st.session_state.pop(session.NEURON_LAYER, None)
    name = st.selectbox("Layer", list(layers), key=session.NEURON_LAYER,
                        format_func=lambda n: f"{layers[n].role} ({layers[n].shape_text})")
    layer = layers[name]
    st.html(figures.GRID_STYLE)
    if layer.layer_type == "Conv2D":
        _conv(view, explainer, layer)
    else:
        _dense(view, explainer, layer)


def _conv(view: InsideView, explainer: NeuronExplainer, layer: LayerOutput) -> None:
    h, w, channels = layer.values.shape
    _keep_in(session.NEURON_CHANNEL, channels, 0)
    channel = st.selectbox("Map (channel)", range(channels), key=session.NEURON_CHANNEL,
                           format_func=lambda c: f"map {c} of {channels}")
    values = layer.values[:, :, channel]
    strongest = np.unravel_index(int(np.argmax(values)), values.shape)
    _keep_in(session.NEURON_ROW, h, int(strongest[0]))
    _keep_in(session.NEURON_COL, w, int(strongest[1]))
    left, right = st.columns(2, gap="medium")
    with left:
        st.caption(f"Map {channel} of {layer.role}: tap a square to open that neuron.")
        tapped = cell_picker(values[:, :, None], (st.session_state[session.NEURON_ROW],
                             st.session_state[session.NEURON_COL]),
                             bool(layer.values.min() < 0), f"map {channel} of {layer.role}")
        if tapped is not None:
            st.session_state[session.NEURON_ROW], st.session_state[session.NEURON_COL] = tapped
        picked = (st.session_state[session.NEURON_ROW], st.session_state[session.NEURON_COL])
        a, b = st.columns(2)
        a.number_input("Row", 0, h - 1, key=session.NEURON_ROW)
        b.number_input("Column", 0, w - 1, key=session.NEURON_COL)
    n = explainer.conv(view, layer.name, *picked, channel)
    with right:
        _field(view, n)
    _conv_sum(n, layer)


def _field(view: InsideView, n: ConvNeuron) -> None:
    picture = figures.field_picture(view.layers[0].values[:, :, 0], n.field_rows, n.field_cols)
    if n.field_rows is None:
        text = "Your drawing (this model's layers do not let us outline what this neuron sees)."
    else:
        (r0, r1), (c0, c1) = n.field_rows, n.field_cols
        text = (f"What this neuron can see of your drawing: rows {r0}–{r1}, columns {c0}–{c1} "
                f"({r1 - r0 + 1}×{c1 - c0 + 1} of 28×28 pixels). Everything outside the box "
                "cannot change it.")
    st.image(picture.url, width=picture.width, caption=text, alt=text)


def _conv_sum(n: ConvNeuron, layer: LayerOutput) -> None:
    kh, kw, _ = n.kernel.shape
    source = "your drawing" if n.in_channels == 1 else f"the {n.in_channels} maps of the layer below"
    st.markdown(f"**Row {n.row}, column {n.col} of map {n.channel}**: a {kh}×{kw} kernel slides "
                f"over {source}. Here each weight is multiplied by the value under it, and all "
                "the products are added up.")
    if n.in_channels > len(n.channels):
        st.caption(f"It reads {n.in_channels} maps at once, with a {kh}×{kw} kernel for each: "
                   f"here are the {len(n.channels)} that add the most (or take away the most).")
    rows = [figures.kernel_row_html(
        f"map {c} of the layer below (adds {figures.number(float(n.channel_sums[c]))})"
        if n.in_channels > 1 else "your drawing", n.kernel[:, :, i], n.patch[:, :, i], n.padded)
        for i, c in enumerate(n.channels)]
    st.html("".join(rows))
    lines = []
    if n.in_channels > len(n.channels):
        lines.append(f"The other {n.in_channels - len(n.channels)} maps add "
                     f"{figures.number(n.other_channels)}.")
    lines.append(f"Sum of all products: **{n.total:.4f}**")
    lines.append(f"Plus the bias {n.bias:+.4f} = **{n.pre_activation:.4f}**" if n.has_bias
                 else "This layer has no bias: nothing is added.")
    lines.append(_activation_line(n.activation, n.output))
    lines += [f"Then **{s.role}**: {s.what} → **{s.value:.4f}**" for s in n.steps]
    model_value = n.steps[-1].model_value if n.steps else n.model_output
    last = n.steps[-1].role if n.steps else layer.role
    lines.append(_agreement(n.final, model_value, last))
    st.markdown("\n".join(f"- {line}" for line in lines))


def _dense(view: InsideView, explainer: NeuronExplainer, layer: LayerOutput) -> None:
    units = layer.values.shape[0]
    _keep_in(session.NEURON_UNIT, units, int(np.argmax(layer.values)))
    columns = min(units, UNITS_PER_ROW)
    rows = -(-units // columns)
    grid = np.zeros(rows * columns, np.float32)
    grid[:units] = layer.values
    answer = " (the network's answer: unit 0 is the digit 0, unit 1 the digit 1...)" \
        if layer.kind == PROBABILITIES else ""
    st.caption(f"The {units} units of {layer.role}{answer}, {columns} to a row: tap a square to "
               "open that neuron.")
    unit = st.session_state[session.NEURON_UNIT]
    tapped = cell_picker(grid.reshape(rows, columns, 1), divmod(unit, columns),
                         bool(layer.values.min() < 0), f"the units of {layer.role}", units)
    if tapped is not None and tapped[0] * columns + tapped[1] < units:
        st.session_state[session.NEURON_UNIT] = tapped[0] * columns + tapped[1]
    unit = st.number_input("Unit", 0, units - 1, key=session.NEURON_UNIT)
    n = explainer.dense(view, layer.name, unit)
    st.markdown(f"**Unit {unit} of {n.role}** adds up all its {n.input_count:,} inputs, each "
                "times its own weight. These inputs matter most for your drawing (largest "
                "weight × input, which is what they add to the sum):")
    st.table({"input": list(n.labels), "value": [f"{v:.4f}" for v in n.values],
              "weight": [f"{v:.4f}" for v in n.weights],
              "weight × input": [f"{v:.4f}" for v in n.products]})
    lines = []
    if n.input_count > len(n.inputs):
        lines.append(f"The other {n.input_count - len(n.inputs):,} inputs add "
                     f"{n.other_inputs:.4f}.")
    lines += [f"Sum of all {n.input_count:,} products: **{n.total:.4f}**",
              f"Plus the bias {n.bias:+.4f} = **{n.pre_activation:.4f}**",
              _activation_line(n.activation, n.output)]
    lines += [f"Then **{s.role}**: {s.what} → **{s.value:.4f}**" for s in n.steps]
    model_value = n.steps[-1].model_value if n.steps else n.model_output
    lines.append(_agreement(n.final, model_value, n.steps[-1].role if n.steps else n.role))
    st.markdown("\n".join(f"- {line}" for line in lines))


def _activation_line(name: str, value: float) -> str:
    what = {"linear": "no activation of its own: the value stays",
            "relu": "its ReLU: a negative value becomes 0",
            "softmax": "its softmax: all units' values become probabilities that add up to 1"
            }.get(name, f"its activation, {name}")
    return f"Then {what} → **{value:.4f}**"


def _agreement(ours: float, model_value: float, role: str) -> str:
    if abs(ours - model_value) <= AGREES * max(1.0, abs(model_value)):
        return (f"The network's own value for this neuron in {role}: **{model_value:.4f}**, the "
                "same as the sum above ✓")
    return (f"The network's own value in {role} is {model_value:.4f}: a little different, "
            "because this model computes with fewer digits than the sum above.")


def _keep_in(key: str, size: int, default: int) -> None:
    """A number widget's value: kept while it fits (a new layer may be smaller), else `default`."""
    value = st.session_state.get(key)
    if not isinstance(value, int) or not 0 <= value < size:
        st.session_state[key] = default


def cell_picker(values: np.ndarray, picked: tuple[int, int], signed: bool, label: str,
                count: int | None = None) -> tuple[int, int] | None:
    """(H, W, 1) values as a picture to tap, `picked` outlined; the (row, col) tapped in this
    run, else None. The value comes from the browser: anything but a cell of the picture
    (among its first `count`) is ignored."""
    h, w = values.shape[:2]
    picture = charts.picture(values, 1, signed=signed)
    result = _cells(key=session.NEURON_MAP, data={
        "url": picture.url, "rows": h, "cols": w, "count": count or h * w,
        "picked": [int(picked[0]), int(picked[1])], "width": 320 if h > 1 else 480,
        "lines": count is not None,
        "label": f"{label}: tap a square to open that neuron"},
        on_cell_change=lambda: None, width="stretch", height="content")
    cell = result.get("cell") if hasattr(result, "get") else None
    if not isinstance(cell, dict):
        return None
    row, col = cell.get("row"), cell.get("col")
    if type(row) is not int or type(col) is not int or not (0 <= row < h and 0 <= col < w):
        return None
    return row, col
