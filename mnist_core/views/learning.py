""""Watch it learn" on the Train page: the first layer's kernels and one test digit's ten
probabilities after every epoch of a run (records from mnist_core.training.callbacks
.EpochSnapshots), drawn for a phone and a projector alike.

The kernels are drawn with one colour scale per kernel across all epochs shown (its largest
magnitude in any of them), not one per epoch: a fresh network's kernels are small random
numbers, and a trained one's larger, shaped strokes. Scaled per epoch, the random start would
look as bold as the end and the strip would hide the growth; on one scale a class sees faint
noise turn into clear edge and stroke detectors. Per kernel (not one scale for the whole layer)
so that a kernel that stays small is still visible.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

from mnist_core.views.charts import GREY_PALETTE, SIGNED_PALETTE, Picture, png_data_url

#: Kernel pictures in the strip at most: epoch 0, the latest, and evenly spaced ones between
#: (two rows of four on a phone, one row on a laptop). The probabilities show every epoch.
LEARNING_COLUMNS = 8
#: The palette index of 0 in SIGNED_PALETTE (black); below it blue, above it orange.
LEARNING_MID = 127
_LEVELS, _GAP_INDEX = 127, 255
KERNEL_TILE_PX = 20      # CSS px per kernel tile (at least): big enough for a projector's back
                         # row; 8 to a picture's row, 4-5 pictures fit a laptop's width


def shown_records(learning: list[dict], columns: int = LEARNING_COLUMNS) -> list[dict]:
    """At most `columns` records, evenly spread, always the first (epoch 0) and the last."""
    if len(learning) <= columns:
        return list(learning)
    picks = np.unique(np.linspace(0, len(learning) - 1, columns).round().astype(int))
    return [learning[i] for i in picks]


def learning_kernel_indices(learning: list[dict]) -> list[np.ndarray]:
    """Each record's kernels (k, k, in, filters) -> (k, k, in * filters) uint8 indices into
    SIGNED_PALETTE, on one scale per kernel across all `learning` (the module's docstring)."""
    stacks = [np.asarray(r["kernels"], np.float32) for r in learning if r["kernels"] is not None]
    if not stacks:
        return []
    k1, k2 = stacks[0].shape[:2]
    tiles = [s.reshape(k1, k2, -1) for s in stacks]
    limit = np.max([np.abs(t).max(axis=(0, 1)) for t in tiles], axis=0)   # one per kernel
    scale = np.where(limit > 0, 1 / np.maximum(limit, 1e-12), 0)
    return [(np.clip(t * scale, -1, 1) * _LEVELS + (_LEVELS + 0.5)).astype(np.uint8)
            for t in tiles]


def _grid(tiles: np.ndarray, columns: int) -> np.ndarray:
    """(k, k, C) indices -> one image, `columns` tiles a row, one pixel of gap colour between."""
    k1, k2, count = tiles.shape
    rows = -(-count // columns)
    grid = np.full((rows * (k1 + 1) - 1, columns * (k2 + 1) - 1), _GAP_INDEX, np.uint8)
    for i in range(count):
        r, c = divmod(i, columns)
        grid[r * (k1 + 1):r * (k1 + 1) + k1, c * (k2 + 1):c * (k2 + 1) + k2] = tiles[..., i]
    return grid


def learning_kernels(learning: list[dict],
                     columns: int = LEARNING_COLUMNS) -> list[tuple[int, Picture]]:
    """(epoch, picture of the first layer's kernels) for the shown epochs; [] for a network
    without a convolution. Each picture is a grid of the kernels, 8 to a row (orange
    positive, blue negative, black 0)."""
    shown = [r for r in shown_records(learning, columns) if r["kernels"] is not None]
    if not shown:
        return []
    pictures = []
    for record, tiles in zip(shown, learning_kernel_indices(shown)):
        grid = _grid(tiles, min(8, tiles.shape[2]))
        scale = max(1, -(-KERNEL_TILE_PX // max(tiles.shape[:2])))
        pictures.append((int(record["epoch"]), Picture(png_data_url(grid, SIGNED_PALETTE),
                                                       grid.shape[1] * scale,
                                                       grid.shape[0] * scale)))
    return pictures


def learning_probabilities(learning: list[dict], label: int | None = None,
                           planned_epochs: int = 0) -> go.Figure | None:
    """The watched digit's ten probabilities after every epoch: one column per epoch, one row
    per digit, darker for more likely; the right answer's row named. The axis spans the
    `planned_epochs` from the start, so each column keeps its place as the run fills them in.
    None before any record."""
    if not learning:
        return None
    epochs = [int(r["epoch"]) for r in learning]
    last = max(planned_epochs, epochs[-1])
    z = np.stack([np.asarray(r["probabilities"], np.float32) for r in learning], axis=1)
    names = [f"<b>{d} ✓</b>" if d == label else str(d) for d in range(10)]
    few = last <= 12
    fig = go.Figure(go.Heatmap(
        x=epochs, y=list(range(10)), z=z, zmin=0, zmax=1, colorscale="Blues", showscale=False,
        xgap=2, ygap=2,
        text=[[f"{100 * p:.0f}%" if p >= 0.005 else "" for p in row] for row in z] if few else None,
        texttemplate="%{text}" if few else None,
        hovertemplate="epoch %{x}, digit %{y}: %{z:.1%}<extra></extra>"))
    fig.update_layout(height=330, margin=dict(l=10, r=10, t=10, b=10),
                      xaxis=dict(title="epoch (0 = before training)", dtick=1 if few else None,
                                 range=[-0.5, last + 0.5], fixedrange=True, showgrid=False),
                      yaxis=dict(title="digit", tickvals=list(range(10)), ticktext=names,
                                 autorange="reversed", fixedrange=True, showgrid=False))
    return fig



def digit_picture(pixels: np.ndarray) -> Picture:
    """The watched digit's uint8 (28, 28) pixels as a grey picture, shown 4x (112 CSS px)."""
    indices = (np.asarray(pixels, np.float32) * (254 / 255)).round().astype(np.uint8)
    return Picture(png_data_url(indices, GREY_PALETTE), 112, 112)


@dataclass(frozen=True)
class LearningViews:
    """What the Train page shows of "Watch it learn" for one state of a run."""

    digit: Picture | None                 # the watched digit (None if its record has gone)
    label: int | None                     # its true label
    probabilities: go.Figure | None       # learning_probabilities
    kernels: list[tuple[int, Picture]]    # learning_kernels


class SharedLearningViews:
    """"Watch it learn"'s figure and pictures, built once per new record for every watching
    browser together (a class refreshing every few seconds would otherwise build them once per
    browser per refresh). Records only change once an epoch, so the last build is kept until
    the run or its number of records changes. Shared: read only."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key, self._views = None, None

    def get(self, run_key: object, learning: list[dict], planned_epochs: int) -> LearningViews:
        """The views of `learning`, the records of the run `run_key` names (not empty)."""
        key = (run_key, len(learning), learning[-1]["epoch"], planned_epochs)
        with self._lock:   # concurrent watchers wait for one build rather than each building
            if key != self._key:
                start = learning[0]
                label = start.get("label")
                self._views = LearningViews(
                    digit_picture(start["image"]) if "image" in start else None, label,
                    learning_probabilities(learning, label, planned_epochs),
                    learning_kernels(learning))
                self._key = key
            return self._views
