"""Figures and images the app shows, built here so they are testable without a browser."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

CURVE_METRICS = {"loss": "Loss", "accuracy": "Accuracy"}


def enlarge(image: np.ndarray, factor: int = 8) -> np.ndarray:
    """A 28x28 float image as uint8, enlarged with nearest-neighbour so pixels stay visible."""
    pixels = (np.clip(image, 0, 1) * 255).astype(np.uint8)
    return np.kron(pixels, np.ones((factor, factor), np.uint8))


def saliency_overlay(image: np.ndarray, heat: np.ndarray, factor: int = 8) -> np.ndarray:
    """RGB: the digit in grey with the saliency in red/yellow on top, enlarged."""
    grey = np.clip(image, 0, 1) * 0.5
    rgb = np.stack([np.maximum(grey, heat), np.maximum(grey, heat ** 2 * 0.8), grey], axis=-1)
    rgb = (np.clip(rgb, 0, 1) * 255).astype(np.uint8)
    return np.kron(rgb, np.ones((factor, factor, 1), np.uint8))


def feature_grid(maps: np.ndarray, columns: int = 8) -> np.ndarray:
    """(H, W, C) activations -> one uint8 image of C tiles, each scaled to its own range."""
    h, w, c = maps.shape
    rows = -(-c // columns)
    grid = np.zeros((rows * (h + 2), columns * (w + 2)), np.float32)
    for i in range(c):
        m = maps[:, :, i]
        span = m.max() - m.min()
        tile = (m - m.min()) / span if span > 0 else np.zeros_like(m)
        r, col = divmod(i, columns)
        grid[r * (h + 2):r * (h + 2) + h, col * (w + 2):col * (w + 2) + w] = tile
    return np.kron((grid * 255).astype(np.uint8), np.ones((3, 3), np.uint8))


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


def batch_curves(losses: list[float], accuracies: list[float], batches_per_epoch: int) -> go.Figure:
    """Per-batch running loss and accuracy; x in epochs so it lines up with the epoch chart."""
    x = np.arange(1, len(losses) + 1) / max(batches_per_epoch, 1)
    fig = go.Figure([go.Scatter(x=x, y=losses, name="loss", mode="lines"),
                     go.Scatter(x=x, y=accuracies, name="accuracy", mode="lines", yaxis="y2")])
    fig.update_layout(height=300, margin=dict(l=10, r=10, t=30, b=10), title="Per batch",
                      xaxis_title="epoch", yaxis=dict(title="loss"),
                      yaxis2=dict(title="accuracy", overlaying="y", side="right", range=[0, 1]),
                      legend=dict(orientation="h", y=-0.25))
    return fig


def epoch_curves(histories: dict[str, list[dict]], metric: str) -> go.Figure:
    """Train vs validation `metric` per epoch for one or several runs (name -> history)."""
    fig = go.Figure()
    for name, history in histories.items():
        epochs = [h["epoch"] for h in history]
        prefix = f"{name} " if len(histories) > 1 else ""
        fig.add_scatter(x=epochs, y=[h.get(metric) for h in history], mode="lines+markers",
                        name=f"{prefix}train")
        fig.add_scatter(x=epochs, y=[h.get(f"val_{metric}") for h in history],
                        mode="lines+markers", name=f"{prefix}validation", line_dash="dash")
    fig.update_layout(height=300, margin=dict(l=10, r=10, t=30, b=10),
                      title=f"{CURVE_METRICS.get(metric, metric)} per epoch", xaxis_title="epoch",
                      legend=dict(orientation="h", y=-0.25))
    return fig
