"""Figures and images the app shows, built here so they are testable without a browser."""
from __future__ import annotations

import base64
import io
import math
import threading
import time
from dataclasses import dataclass

import numpy as np
# pandas here, at import: plotly imports it lazily, and two sessions' threads doing that at
# once met a partially initialized module (a server's first live view failed).
import pandas  # noqa: F401
import plotly.graph_objects as go

CURVE_METRICS = {"loss": "Loss", "accuracy": "Accuracy"}


def enlarge(image: np.ndarray, factor: int = 8) -> np.ndarray:
    """A 28x28 float image as uint8, enlarged with nearest-neighbour so pixels stay visible."""
    pixels = (np.clip(image, 0, 1) * 255).astype(np.uint8)
    return np.kron(pixels, np.ones((factor, factor), np.uint8))


def feature_grid(maps: np.ndarray, columns: int = 8) -> np.ndarray:
    """(H, W, C) activations -> one uint8 image of C tiles, each scaled to its own range."""
    m = np.asarray(maps, np.float32)
    low, high = m.min(axis=(0, 1)), m.max(axis=(0, 1))
    span = high - low
    tiles = np.where(span > 0, (m - low) / np.where(span > 0, span, 1), 0)
    grid = _tile_grid((tiles * 255).astype(np.uint8), columns, gap=2, fill=0, trailing_gap=True)
    return np.kron(grid, np.ones((3, 3), np.uint8))


def _tile_grid(tiles: np.ndarray, columns: int, gap: int, fill: int | tuple,
               trailing_gap: bool = False) -> np.ndarray:
    """(H, W, C) or (H, W, C, 3) -> one image of the C tiles, `columns` to a row, `gap` px of
    `fill` between them (and after the last row and column with `trailing_gap`). One numpy
    reshape, no loop per channel: 128 maps cost the same few microseconds as 8."""
    h, w, c = tiles.shape[:3]
    colour = tiles.shape[3:]                      # () grey, (3,) RGB
    columns = max(1, min(columns, c))
    rows = -(-c // columns)
    cells = np.empty((rows * columns, h + gap, w + gap) + colour, np.uint8)
    cells[...] = fill
    cells[:c, :h, :w] = np.moveaxis(tiles, 2, 0)
    grid = cells.reshape((rows, columns, h + gap, w + gap) + colour).swapaxes(1, 2)
    grid = grid.reshape((rows * (h + gap), columns * (w + gap)) + colour)
    return grid if trailing_gap or gap == 0 else grid[:-gap, :-gap]


def probability_bars(probabilities: np.ndarray) -> go.Figure:
    winner = int(np.argmax(probabilities))
    fig = go.Figure(go.Bar(
        x=[str(d) for d in range(10)], y=probabilities,
        marker_color=["#e4572e" if d == winner else "#7f8c9a" for d in range(10)],
        text=[f"{100 * p:.1f}%" if p >= 0.01 else "" for p in probabilities],
        textposition="outside", hovertemplate="digit %{x}: %{y:.2%}<extra></extra>"))
    fig.update_layout(height=260, margin=dict(l=10, r=10, t=10, b=10), yaxis_range=[0, 1.15],
                      yaxis_tickformat=".0%", xaxis_title="digit", xaxis_type="category",
                      showlegend=False)
    return fig


def confusion_heatmap(confusion: np.ndarray, normalise: bool) -> go.Figure:
    """Rows: true digit, columns: predicted digit. Off-diagonal cells are the mistakes."""
    counts = confusion.astype(np.float64)
    values = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1) if normalise else counts
    text = [[f"{v:.1%}" if normalise else f"{int(v)}" for v in row] for row in values]
    # Colour by log count so that a handful of mistakes is visible next to ~1,000 correct.
    shade = np.log1p(counts)
    digits = [str(d) for d in range(10)]
    fig = go.Figure(go.Heatmap(
        z=shade, x=digits, y=digits, text=text, texttemplate="%{text}", colorscale="Blues",
        showscale=False, hoverinfo="skip"))
    # Heatmap cells cannot be selected in Streamlit; an invisible marker on every cell can.
    # Clicking one selects point (x = predicted, y = true).
    xs, ys = np.meshgrid(range(10), range(10))
    fig.add_scatter(x=[str(v) for v in xs.ravel()], y=[str(v) for v in ys.ravel()],
                    mode="markers", marker=dict(size=34, symbol="square", opacity=0.01),
                    customdata=np.array(text).ravel(), showlegend=False,
                    hovertemplate="true %{y}, predicted %{x}: %{customdata}<extra></extra>")
    fig.update_layout(height=480, margin=dict(l=10, r=10, t=60, b=10), clickmode="event+select",
                      xaxis=dict(title="predicted digit", side="top", type="category",
                                 range=[-0.5, 9.5]),
                      yaxis=dict(title="true digit", type="category", range=[9.5, -0.5]))
    return fig


#: The most points per curve of the live per-batch chart: about two per pixel of its width.
#: Every watching browser redraws it at each refresh of the live view; with all of a run's
#: batches (thousands) a browser on the server's own machine, redrawing every second, takes a
#: good share of a core from the training.
LIVE_POINTS = 400


def batch_curves(steps: list[int], losses: list[float], accuracies: list[float],
                 batches_per_epoch: int, max_points: int = LIVE_POINTS) -> go.Figure:
    """Per-batch running loss and accuracy at the run's batch counts `steps`; x in epochs so it
    lines up with the epoch chart. At most `max_points` per curve, evenly spread, the latest
    batch always included (the values are running means within each epoch: already smooth)."""
    x = np.asarray(steps, float) / max(batches_per_epoch, 1)
    losses, accuracies = np.asarray(losses, float), np.asarray(accuracies, float)
    if len(x) > max_points:
        keep = np.unique(np.linspace(0, len(x) - 1, max_points).round().astype(int))
        x, losses, accuracies = x[keep], losses[keep], accuracies[keep]
    # Plain dicts into the constructor: the live view rebuilds this every second while a run
    # trains, and `update_layout` takes several times as long, on the server's cores that the
    # training needs.
    return go.Figure(data=[
        dict(type="scatter", x=x, y=losses, name="loss", mode="lines"),
        dict(type="scatter", x=x, y=accuracies, name="accuracy", mode="lines", yaxis="y2"),
    ], layout=dict(
        height=300, margin=dict(l=10, r=10, t=30, b=10), title="Per batch",
        xaxis=dict(title="epoch"), yaxis=dict(title="loss"),
        # Its own round ticks (0-100% in quarters), not ticks aligned to the loss axis's
        # gridlines (which read 0.039, 0.236, ...).
        yaxis2=dict(title="accuracy", overlaying="y", side="right", range=[0, 1],
                    tickmode="linear", tick0=0, dtick=0.25, tickformat=".0%", showgrid=False),
        legend=dict(orientation="h", y=-0.25)))


class SharedLiveFigures:
    """The live view's two figures, built at most once per `max_age` seconds for every watching
    browser together. Each watcher's live view refreshes every 2 s on its own clock; building
    the two figures is a large part of what each refresh costs the server, and a class
    watching would take that from the training many times a second (docs/benchmarks.md, "What
    do students watching a run cost?"). A watcher sees curves at most `max_age` older than its
    figures above them; a new run or a new epoch rebuilds at once."""

    def __init__(self, max_age: float = 1.0, clock=time.monotonic) -> None:
        self.max_age, self._clock = max_age, clock
        self._lock = threading.Lock()
        self._key, self._built_at, self._figures = None, float("-inf"), (None, None)

    def get(self, run_key: object, snap) -> tuple[go.Figure, go.Figure | None]:
        """(per-batch figure, per-epoch figure or None before the first epoch) for `snap`, a
        progress snapshot of the run that `run_key` names. The figures are shared: read only."""
        key = (run_key, len(snap.history))
        with self._lock:   # concurrent watchers wait for one build rather than each building
            if key != self._key or self._clock() - self._built_at >= self.max_age:
                self._figures = (
                    batch_curves(snap.batch_steps, snap.batch_loss, snap.batch_accuracy,
                                 snap.batches_per_epoch),
                    epoch_curves({"run": snap.history}, "accuracy") if snap.history else None)
                self._key, self._built_at = key, self._clock()
            return self._figures


def epoch_curves(histories: dict[str, list[dict]], metric: str) -> go.Figure:
    """Train vs validation `metric` per epoch for one or several runs (name -> history)."""
    traces = []
    for name, history in histories.items():
        epochs = [h["epoch"] for h in history]
        prefix = f"{name} " if len(histories) > 1 else ""
        traces += [dict(type="scatter", x=epochs, y=[h.get(metric) for h in history],
                        mode="lines+markers", name=f"{prefix}train"),
                   dict(type="scatter", x=epochs, y=[h.get(f"val_{metric}") for h in history],
                        mode="lines+markers", name=f"{prefix}validation", line=dict(dash="dash"))]
    # Whole epochs only (Plotly's own ticks read 1, 1.5, 2...), at most ~10 labels; no axis
    # title, the chart's title says "per epoch" (on a phone the axis title ran into the legend).
    last = max((h["epoch"] for history in histories.values() for h in history), default=1)
    step = max(1, math.ceil(last / 10))
    # Plain dicts into the constructor, as in `batch_curves`: rebuilt every second while a run
    # trains (`add_scatter` and `update_layout` are slow).
    return go.Figure(data=traces, layout=dict(
        height=300, margin=dict(l=10, r=10, t=30, b=10),
        title=f"{CURVE_METRICS.get(metric, metric)} per epoch",
        xaxis=dict(tickmode="linear", tick0=1 if step == 1 else 0, dtick=step),
        legend=dict(orientation="h", y=-0.15)))


# --- the Inside page: every layer's output, the first kernels ---------------------------------

POSITIVE = (255, 150, 40)     # orange: positive values at the layer's largest magnitude (RGB)
NEGATIVE = (50, 140, 255)     # blue: negative values
GAP = (235, 236, 240)         # light grey between tiles, so that black (all-zero) tiles stay apart
TILE_PX = 42                  # smallest shown tile side, in CSS px
_LEVELS = 127                 # levels per sign; index 2 * _LEVELS + 1 = 255 is the gap


def _palettes() -> tuple[bytes, bytes]:
    """256-colour palettes (PNG "P" images: one byte a pixel, half the encoding time of RGB):
    grey 0..254 black to white, or signed 0..254 blue..black..orange; 255 the gap colour."""
    grey = np.repeat(np.linspace(0, 255, 2 * _LEVELS + 1)[:, None], 3, axis=1)
    s = np.linspace(-1, 1, 2 * _LEVELS + 1)[:, None]
    signed = np.clip(s, 0, 1) * POSITIVE + np.clip(-s, 0, 1) * NEGATIVE
    return tuple(np.vstack([p, [GAP]]).round().astype(np.uint8).tobytes() for p in (grey, signed))


GREY_PALETTE, SIGNED_PALETTE = _palettes()


@dataclass(frozen=True)
class Picture:
    """A PNG ready for st.image: `url` is a data: URL (st.image passes it on untouched, so the
    server encodes each image once, small); the browser enlarges it to `width` CSS px, which
    the page shows pixel-sharp (image-rendering: pixelated)."""

    url: str
    width: int
    height: int


def grid_columns(channels: int) -> int:
    """Tiles per row: all of them up to 8, 8 up to 32 (4 rows at most), 16 beyond."""
    return channels if channels <= 8 else 8 if channels <= 32 else 16


def palette_indices(values: np.ndarray, signed: bool | None = None) -> tuple[np.ndarray, bytes]:
    """Float values -> (uint8 palette indices of the same shape, the palette), 0 black.

    One scale for a whole layer (its largest magnitude), not one per map, so that a dark map
    is a channel that barely fired rather than noise blown up to full contrast. Non-negative
    values (after ReLU, pooling; the input) are grey, white at the largest; values with a sign
    (or `signed=True`) are orange when positive and blue when negative.
    """
    v = np.asarray(values, np.float32)
    limit = float(np.abs(v).max(initial=0.0))
    scaled = v * (1 / limit) if limit > 0 else np.zeros_like(v)
    if v.min(initial=0.0) < 0 if signed is None else signed:
        return (np.clip(scaled, -1, 1) * _LEVELS + (_LEVELS + 0.5)).astype(np.uint8), SIGNED_PALETTE
    return (np.clip(scaled, 0, 1) * (2 * _LEVELS) + 0.5).astype(np.uint8), GREY_PALETTE


def picture(tiles: np.ndarray, columns: int, tile_px: int = TILE_PX,
            signed: bool | None = None) -> Picture:
    """(H, W, C) values as a grid of C tiles, each shown at least `tile_px` CSS px wide."""
    h, w = tiles.shape[:2]
    indices, palette = palette_indices(tiles, signed)
    grid = _tile_grid(indices, columns, gap=1, fill=2 * _LEVELS + 1)
    scale = max(1, -(-tile_px // max(h, w)))                   # whole CSS px per value
    return Picture(png_data_url(grid, palette), grid.shape[1] * scale, grid.shape[0] * scale)


def maps_picture(maps: np.ndarray) -> Picture:
    """A layer's (H, W, C) output as one picture of its C maps (28x28 maps at 3x, 7x7 at 6x)."""
    return picture(maps, grid_columns(maps.shape[2]), tile_px=max(TILE_PX, 3 * maps.shape[0]))


def kernels_picture(weights: np.ndarray) -> Picture:
    """A Conv2D kernel (k, k, in, filters) as a grid of its in x filters small tiles, scaled
    symmetrically around 0 (orange positive, blue negative, black 0)."""
    k1, k2, channels, filters = weights.shape
    tiles = np.asarray(weights, np.float32).reshape(k1, k2, channels * filters)
    return picture(tiles, grid_columns(filters) if channels == 1 else filters, signed=True)


def png_data_url(indices: np.ndarray, palette: bytes) -> str:
    """uint8 (H, W) palette indices -> a data: URL of a fast-compressed palette PNG."""
    from PIL import Image

    image = Image.fromarray(np.ascontiguousarray(indices, np.uint8), "P")
    image.putpalette(palette)
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=1)
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode("ascii")


def activation_bars(values: np.ndarray) -> go.Figure:
    """A 1-D layer output as one bar per unit, orange above 0 and blue below.

    Built from plain dicts with a numeric colour scale: Plotly validates a list of 128 colour
    strings and `update_layout` slowly (several times this way's time)."""
    v = np.asarray(values, np.float32).ravel()
    bars = dict(type="bar", x=np.arange(len(v)), y=v, hovertemplate="unit %{x}: %{y:.3f}"
                "<extra></extra>", marker=dict(color=(v >= 0).astype(np.int8), cmin=0, cmax=1,
                colorscale=[[0, "rgb%s" % (NEGATIVE,)], [1, "rgb%s" % (POSITIVE,)]],
                line_width=0))
    return go.Figure(data=[bars], layout=dict(
        height=180, margin=dict(l=10, r=10, t=10, b=10), bargap=0.1, showlegend=False,
        xaxis=dict(title="unit"), yaxis=dict(zeroline=True)))


def layer_figure(layer) -> Picture | go.Figure | None:
    """What the Inside page shows for one `mnist_core.drawing.inside.LayerOutput`: a Picture of its
    maps, bars for a vector, the digit bars for the probabilities, None when it repeats the
    layer above."""
    from mnist_core.drawing.inside import INPUT, MAPS, PROBABILITIES, VECTOR

    if layer.kind in (INPUT, MAPS):
        return maps_picture(layer.values)
    if layer.kind == VECTOR:
        return activation_bars(layer.values)
    if layer.kind == PROBABILITIES:
        return probability_bars(layer.values)
    return None


def attribution_overlay(image: np.ndarray, values: np.ndarray, signed: bool,
                        factor: int = 8) -> np.ndarray:
    """RGB: where the network looked (`mnist_core.drawing.attribution`), over the digit.

    The digit stays visible in dim grey with sharp pixels; the map is laid on it smoothly
    (bilinear), so that a projector and a phone show blobs, not a grid. Signed maps use the
    Inside page's colours: orange where the ink helped the answer, blue where it spoke against
    it; an unsigned map is orange only. Opacity follows the map's strength."""
    import cv2

    side = image.shape[0] * factor
    pixels = np.kron(np.clip(image, 0, 1).astype(np.float32), np.ones((factor, factor), np.float32))
    grey = np.repeat((0.12 + 0.38 * pixels)[..., None], 3, axis=-1)
    smooth = cv2.resize(np.asarray(values, np.float32), (side, side),
                        interpolation=cv2.INTER_LINEAR)
    rgb = grey
    for colour, strength in ((POSITIVE, np.clip(smooth, 0, 1)),
                             (NEGATIVE, np.clip(-smooth, 0, 1) if signed else None)):
        if strength is None:
            continue
        alpha = strength[..., None]   # linear: faint areas stay faint, strong ones win
        rgb = rgb * (1 - alpha) + np.asarray(colour, np.float32) / 255 * alpha
    return (np.clip(rgb, 0, 1) * 255).astype(np.uint8)
