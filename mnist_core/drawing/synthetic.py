"""Synthetic pen-drawn digits, rendered the way the Draw page's canvas renders strokes.

MNIST's test set says how well a model reads scanned handwriting; it says nothing about a
mouse or finger on a 280x280 canvas, drawn tiny in a corner or huge with a fat brush. These
generated drawings measure that, so that preprocessing choices are judged on numbers.

Each digit has one or more stroke templates in a unit box (x right, y down). A template is a
list of strokes (pen down ... pen up); a stroke is a list of pieces, each smoothed separately
so that corners (the foot of a 2, the top of a 7) stay sharp.

`drawn_digits` draws from those few templates (its output is fixed: tests and benches rely on
it). The digits as people actually write them, in named styles by simulated writers:
mnist_core.drawing.handwriting.
"""
from __future__ import annotations

import cv2
import numpy as np

from mnist_core.drawing.styles import Piece

CANVAS = 280

TEMPLATES: dict[int, list[list[list[Piece]]]] = {
    0: [[[[(0.5, 0.0), (0.2, 0.12), (0.05, 0.5), (0.2, 0.9), (0.5, 1.0), (0.8, 0.88),
           (0.95, 0.5), (0.8, 0.1), (0.5, 0.0), (0.4, 0.05)]]]],
    1: [[[[(0.5, 0.0), (0.5, 1.0)]]],
        [[[(0.25, 0.22), (0.55, 0.0)], [(0.55, 0.0), (0.55, 1.0)]]]],
    2: [[[[(0.1, 0.25), (0.3, 0.03), (0.6, 0.0), (0.85, 0.18), (0.8, 0.45), (0.45, 0.75),
           (0.05, 1.0)], [(0.05, 1.0), (0.95, 0.98)]]]],
    3: [[[[(0.1, 0.12), (0.45, 0.0), (0.8, 0.1), (0.82, 0.32), (0.45, 0.48)],
          [(0.45, 0.48), (0.85, 0.62), (0.88, 0.86), (0.5, 1.0), (0.1, 0.88)]]],
        [[[(0.12, 0.15), (0.5, 0.0), (0.85, 0.2), (0.75, 0.4), (0.4, 0.5), (0.8, 0.6),
           (0.9, 0.85), (0.55, 1.0), (0.12, 0.9)]]]],
    4: [[[[(0.3, 0.0), (0.05, 0.62)], [(0.05, 0.62), (0.95, 0.62)]],
         [[(0.7, 0.1), (0.7, 1.0)]]],
        [[[(0.65, 0.0), (0.05, 0.65)], [(0.05, 0.65), (0.95, 0.65)]],
         [[(0.65, 0.0), (0.65, 1.0)]]]],
    5: [[[[(0.85, 0.0), (0.2, 0.0)], [(0.2, 0.0), (0.13, 0.45)],
          [(0.13, 0.45), (0.5, 0.35), (0.85, 0.55), (0.85, 0.85), (0.5, 1.0), (0.1, 0.9)]]],
        [[[(0.22, 0.0), (0.15, 0.45)],
          [(0.15, 0.45), (0.5, 0.36), (0.85, 0.55), (0.85, 0.85), (0.5, 1.0), (0.1, 0.9)]],
         [[(0.22, 0.0), (0.9, 0.0)]]]],
    6: [[[[(0.75, 0.0), (0.4, 0.2), (0.15, 0.55), (0.2, 0.9), (0.5, 1.0), (0.82, 0.85),
           (0.8, 0.6), (0.5, 0.48), (0.2, 0.65)]]]],
    7: [[[[(0.05, 0.0), (0.95, 0.0)], [(0.95, 0.0), (0.4, 1.0)]]],
        [[[(0.05, 0.05), (0.95, 0.0)], [(0.95, 0.0), (0.45, 1.0)]],
         [[(0.35, 0.52), (0.85, 0.5)]]]],
    8: [[[[(0.8, 0.15), (0.5, 0.0), (0.2, 0.13), (0.25, 0.35), (0.5, 0.48), (0.8, 0.65),
           (0.8, 0.9), (0.5, 1.0), (0.2, 0.9), (0.2, 0.65), (0.5, 0.48), (0.75, 0.35),
           (0.8, 0.15)]]]],
    9: [[[[(0.85, 0.22), (0.55, 0.02), (0.22, 0.1), (0.15, 0.32), (0.4, 0.5), (0.75, 0.42),
           (0.85, 0.22)], [(0.85, 0.22), (0.8, 0.6), (0.75, 1.0)]]],
        [[[(0.8, 0.25), (0.5, 0.02), (0.2, 0.15), (0.2, 0.38), (0.5, 0.48), (0.8, 0.3)],
          [(0.8, 0.3), (0.82, 1.0)]]]],
}


def catmull_rom(points: np.ndarray, samples_per_segment: int = 12) -> np.ndarray:
    """A smooth curve through `points` (a hand draws curves, not polygons)."""
    if len(points) < 3:
        return points
    padded = np.vstack([points[0], points, points[-1]])
    t = np.linspace(0, 1, samples_per_segment, endpoint=False)[:, None]
    out = []
    for i in range(1, len(padded) - 2):
        p0, p1, p2, p3 = padded[i - 1], padded[i], padded[i + 1], padded[i + 2]
        out.append(0.5 * (2 * p1 + (-p0 + p2) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t ** 2
                          + (-p0 + 3 * p1 - 3 * p2 + p3) * t ** 3))
    out.append(points[-1:])
    return np.vstack(out)


def stroke_paths(digit: int, rng: np.random.Generator) -> tuple[list[np.ndarray], float]:
    """Pen paths for one random drawing of `digit` on the canvas, and its stroke width."""
    template = TEMPLATES[digit][rng.integers(len(TEMPLATES[digit]))]
    height = rng.uniform(40, 250)                       # tiny to nearly full canvas
    aspect = 0.25 if digit == 1 else rng.uniform(0.5, 0.9)
    angle = np.deg2rad(rng.normal(0, 8))                # slight tilt
    shear = rng.normal(0, 0.15)
    transform = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]) @ \
        np.array([[1, shear], [0, 1]]) @ np.diag([height * aspect, height])
    strokes = []
    for stroke in template:
        pieces = []
        for piece in stroke:
            pts = np.array(piece, dtype=np.float64) + rng.normal(0, 0.04, (len(piece), 2))
            pieces.append(catmull_rom(pts))
        strokes.append(np.vstack(pieces) @ transform.T)
    everything = np.vstack(strokes)
    lo, hi = everything.min(axis=0), everything.max(axis=0)
    width = float(np.clip(rng.uniform(0.04, 0.25) * height, 3, 50))  # thin to very thick
    margin = width / 2 + 1
    span = hi - lo
    free = np.maximum(CANVAS - 2 * margin - span, 0)
    offset = margin + rng.uniform(0, 1, 2) * free - lo   # anywhere on the canvas
    return [s + offset for s in strokes], width


def render(strokes: list[np.ndarray], width: float) -> np.ndarray:
    """White round-capped strokes on black, as RGBA (280, 280, 4): the canvas's image_data."""
    grey = np.zeros((CANVAS, CANVAS), np.uint8)
    for stroke in strokes:
        pts = np.round(stroke * 16).astype(np.int32).reshape(-1, 1, 2)
        # OpenCV draws thick lines with round ends and joins, like the canvas' round caps.
        cv2.polylines(grey, [pts], False, 255, thickness=max(1, round(width)),
                      lineType=cv2.LINE_AA, shift=4)
    alpha = np.full_like(grey, 255)
    return np.dstack([grey, grey, grey, alpha])


def drawn_digits(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """`n` drawings (N, 280, 280, 4) uint8 with labels, digits balanced and shuffled."""
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n) % 10)
    images = np.stack([render(*stroke_paths(int(d), rng)) for d in labels])
    return images, labels.astype(np.int64)


def drawn_digit_accuracy(model, n: int = 1000, seed: int = 0) -> dict:
    """Accuracy of `model` on `n` generated drawings: with MNIST-style preprocessing ("ours")
    and with the whole canvas squashed to 28x28 ("naive"). Empty results count as wrong."""
    from mnist_core.model.evaluation import predict_probabilities
    from mnist_core.drawing.preprocess import naive_resize, to_mnist

    images, labels = drawn_digits(n, seed)
    prepared = [to_mnist(img) for img in images]
    ours = np.stack([np.zeros((28, 28), np.float32) if p.empty else p.image for p in prepared])
    naive = np.stack([naive_resize(img) for img in images])
    empty = np.array([p.empty for p in prepared])
    ours_pred = predict_probabilities(model, ours[..., None]).argmax(axis=1)
    naive_pred = predict_probabilities(model, naive[..., None]).argmax(axis=1)
    correct = (ours_pred == labels) & ~empty
    per_digit = {d: float(correct[labels == d].mean()) for d in range(10)}
    return {"n": n, "seed": seed, "ours": float(correct.mean()),
            "naive": float((naive_pred == labels).mean()), "empty": int(empty.sum()),
            "per_digit": per_digit}
