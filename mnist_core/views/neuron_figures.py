"""Figures for an opened neuron (mnist_core.drawing.neuron): the receptive field on the
drawing, and the kernel, patch and products as grids of numbers.

Built here, without Streamlit, so they are tested without a browser. The map to tap a cell of
is a plain picture (mnist_core.views.charts.picture) in the page's own component (ui/neuron.py).
"""
from __future__ import annotations

import base64
import html
import io

import numpy as np

from mnist_core.views.charts import NEGATIVE, POSITIVE, Picture

HIGHLIGHT = "#ff2d55"      # the receptive field's outline (and the opened cell's, in
                           # ui/neuron_cells.css): a colour the maps never use
FIELD_FACTOR = 11          # CSS px per pixel of the 28x28 drawing: as wide as the map beside it


def field_picture(image: np.ndarray, rows: tuple[int, int] | None,
                  cols: tuple[int, int] | None, factor: int = FIELD_FACTOR) -> Picture:
    """The 28x28 drawing, enlarged, with the receptive field outlined and what lies outside it
    dimmed; the drawing alone when the field is not known."""
    grey = (np.clip(np.asarray(image, np.float32), 0, 1) * 255).astype(np.uint8)
    rgb = np.repeat(np.kron(grey, np.ones((factor, factor), np.uint8))[:, :, None], 3, axis=2)
    if rows is not None and cols is not None:
        top, bottom = rows[0] * factor, (rows[1] + 1) * factor
        left, right = cols[0] * factor, (cols[1] + 1) * factor
        inside = np.zeros(rgb.shape[:2], bool)
        inside[top:bottom, left:right] = True
        rgb[~inside] = (rgb[~inside] * 0.35 + 40).astype(np.uint8)   # dim, paper stays visible
        colour = np.array([int(HIGHLIGHT[i:i + 2], 16) for i in (1, 3, 5)], np.uint8)
        edge = 2
        for r0, r1, c0, c1 in ((top, top + edge, left, right), (bottom - edge, bottom, left, right),
                               (top, bottom, left, left + edge), (top, bottom, right - edge, right)):
            rgb[r0:r1, c0:c1] = colour
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(rgb, "RGB").save(out, format="PNG", compress_level=1)
    url = "data:image/png;base64," + base64.b64encode(out.getvalue()).decode("ascii")
    return Picture(url, rgb.shape[1], rgb.shape[0])


def number(value: float) -> str:
    """A value short enough for a grid cell: 123, 12.3, -1.23, 0.012 (small values keep a
    third decimal: "0.00" beside a sum of 0.02 would look like a mistake)."""
    a = abs(value)
    if a == 0:
        return "0"
    text = (f"{value:.0f}" if a >= 100 else f"{value:.1f}" if a >= 10 else
            f"{value:.2f}" if a >= 0.1 else f"{value:.3f}")
    return text.replace("-", "−")


def number_grid_html(title: str, values: np.ndarray, padded: np.ndarray | None = None) -> str:
    """A (k, k) grid of numbers as an HTML table, each cell tinted by its value (orange
    positive, blue negative, scaled to the grid's largest); padding cells hatched grey."""
    v = np.asarray(values, np.float64)
    limit = float(np.abs(v).max(initial=0.0)) or 1.0
    rows = []
    for r in range(v.shape[0]):
        cells = []
        for c in range(v.shape[1]):
            x = float(v[r, c])
            if padded is not None and padded[r, c]:
                style = "background:#d8d8de;color:#666"
                text = "0"
            else:
                colour = POSITIVE if x >= 0 else NEGATIVE
                share = min(abs(x) / limit, 1.0) * 0.85
                style = f"background:rgba({colour[0]},{colour[1]},{colour[2]},{share:.2f})"
                text = number(x)
            cells.append(f'<td style="{style}">{text}</td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return (f'<div class="neuron-grid"><div class="neuron-grid-title">{html.escape(title)}</div>'
            f'<table>{"".join(rows)}</table></div>')


GRID_STYLE = """<style>
.neuron-row {display:flex; flex-wrap:wrap; gap:0.6rem; align-items:center; margin-bottom:0.6rem}
.neuron-op {font-size:1.4rem; font-weight:600}
.neuron-grid-title {font-size:0.85rem; margin-bottom:2px}
.neuron-grid table {border-collapse:collapse; font-variant-numeric:tabular-nums; margin:0}
.neuron-grid td {border:1px solid #c8c8d0; padding:2px 4px; min-width:2.6rem; height:1.6rem;
  text-align:right; font-size:0.8rem; color:#111}
</style>"""


def kernel_row_html(label: str, weights: np.ndarray, patch: np.ndarray,
                    padded: np.ndarray) -> str:
    """weights × input = products, for one input channel, as three grids in a row that wraps
    on a narrow screen."""
    products = np.asarray(weights, np.float64) * np.asarray(patch, np.float64)
    return (f'<div class="neuron-grid-title"><b>{html.escape(label)}</b></div>'
            '<div class="neuron-row">'
            + number_grid_html("weights", weights)
            + '<span class="neuron-op">×</span>'
            + number_grid_html("input (grey: padding)", patch, padded)
            + '<span class="neuron-op">=</span>'
            + number_grid_html(f"products (add up to {number(float(products.sum()))})",
                               products)
            + "</div>")
