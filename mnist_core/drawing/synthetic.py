"""Synthetic pen-drawn digits, rendered the way the Draw page's canvas renders strokes.

MNIST's test set says how well a model reads scanned handwriting; it says nothing about a
mouse or finger on a 280x280 canvas, drawn tiny in a corner or huge with a fat brush. These
generated drawings measure that, so that preprocessing choices are judged on numbers.

Each digit has one or more stroke templates in a unit box (x right, y down). A template is a
list of strokes (pen down ... pen up); a stroke is a list of pieces, each smoothed separately
so that corners (the foot of a 2, the top of a 7) stay sharp.

`drawn_digits` draws from those few templates (its output is fixed: tests and benches rely on
it). `style_digits` draws the digits in the ways people actually write them, each a named
style in `mnist_core.drawing.styles.STYLES` ("1-flag" is the continental 1 with its long
up-stroke, "0-slashed" is Ø, "4-open" the open-top 4, ...), by simulated writers (`Writer`):
each has a slant, a pen width, a size range, a tilt and a shakiness of its own, so that a model
trained on some writers can be judged on others.

Seeds: evaluation (`bench/styles.py`) uses seeds from EVAL_SEED_BASE up; training data made
from styles must use seeds below it (`train_seed` checks). A seed determines both the writers
and the drawings, so evaluation never sees a writer that training saw.
"""
from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from mnist_core.drawing.styles import STYLES, Piece

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


def _catmull_rom(points: np.ndarray, samples_per_segment: int = 12) -> np.ndarray:
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
            pieces.append(_catmull_rom(pts))
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


EVAL_SEED_BASE = 10_000
"""Seeds >= this are for evaluation only; training data must use seeds in [0, EVAL_SEED_BASE)."""
WRITERS_PER_SET = 40       # writers in one `style_digits` set when no writer is given


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


@dataclass(frozen=True)
class Writer:
    """How one person draws on the canvas. All drawings by a writer share these; each drawing
    still varies around them (size within `height`, tilt by `wobble_deg`, slant by 0.05)."""

    slant: float                    # shear: x shift per unit of height downwards (<0: leans right)
    tilt_deg: float                 # mean rotation of the whole digit
    wobble_deg: float               # standard deviation of the rotation between drawings
    height: tuple[float, float]     # px: range of digit heights on the 280 px canvas
    pen: float                      # px: the Draw page's stroke width (slider 5-50, default 20)
    aspect: float                   # width relative to the template's (narrow or wide hand)
    jitter: float                   # standard deviation of each point's wobble, in heights
    spread: float                   # 0: always drawn in the centre, 1: anywhere on the canvas

    @classmethod
    def random(cls, rng: np.random.Generator) -> "Writer":
        """A plausible person: most keep the default 20 px pen, some change it; a thick pen
        goes with a big digit (no one draws a 40 px digit with a 40 px pen)."""
        pen = 20.0 if rng.random() < 0.5 else float(round(rng.uniform(6, 45)))
        mid = rng.uniform(max(90.0, 4.5 * pen), 235.0)
        low = max(4 * pen, 30.0, mid * rng.uniform(0.7, 0.9))
        high = min(265.0, max(low + 5, mid * rng.uniform(1.1, 1.3)))
        return cls(slant=float(np.clip(rng.normal(-0.08, 0.12), -0.35, 0.25)),
                   tilt_deg=float(rng.normal(0, 3)), wobble_deg=_u(rng, 1.5, 5),
                   height=(float(low), float(high)),
                   pen=pen, aspect=_u(rng, 0.8, 1.2), jitter=_u(rng, 0.008, 0.035),
                   spread=_u(rng, 0.2, 1.0))


def writers(seed: int, n: int = WRITERS_PER_SET) -> list[Writer]:
    """`n` writers determined by `seed` (a stream of their own: the same seed gives the same
    people, another seed other people)."""
    rng = np.random.default_rng([seed, 1])
    return [Writer.random(rng) for _ in range(n)]


def train_seed(seed: int) -> int:
    """`seed`, checked to be a training seed (below EVAL_SEED_BASE): training data generated
    from evaluation seeds would leak the evaluation's writers and drawings into training."""
    if not 0 <= seed < EVAL_SEED_BASE:
        raise ValueError(f"training seeds are 0..{EVAL_SEED_BASE - 1}; {seed} is reserved "
                         "for evaluation")
    return seed


def style_strokes(style: str, writer: Writer,
                  rng: np.random.Generator) -> tuple[list[np.ndarray], float]:
    """Pen paths on the 280 px canvas for one drawing of `style` by `writer`, and the pen width."""
    _, template = STYLES[style]
    strokes = template(rng)
    height = rng.uniform(*writer.height)
    angle = np.deg2rad(writer.tilt_deg + rng.normal(0, writer.wobble_deg))
    shear = writer.slant + rng.normal(0, 0.05)
    aspect = writer.aspect * rng.uniform(0.93, 1.07)
    transform = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]) @ \
        np.array([[1, shear], [0, 1]]) @ np.diag([height * aspect, height])
    paths = []
    for i, stroke in enumerate(strokes):
        # A stroke after the first is placed by eye: it lands a little off where it belongs.
        misplaced = rng.normal(0, 1.5 * writer.jitter, 2) if i else np.zeros(2)
        pieces, corner = [], None
        for piece in stroke:
            pts = np.array(piece, dtype=np.float64) + misplaced
            pts = pts + rng.normal(0, writer.jitter, pts.shape)
            if corner is not None:
                pts[0] = corner              # pieces of one stroke stay joined at the corner
            corner = pts[-1]
            pieces.append(_catmull_rom(pts))
        paths.append(np.vstack(pieces) @ transform.T)
    everything = np.vstack(paths)
    lo, hi = everything.min(axis=0), everything.max(axis=0)
    width = writer.pen
    margin = width / 2 + 1
    span = hi - lo
    room = CANVAS - 2 * margin
    if span.max() > room:                    # a digit bigger than the canvas: shrink to fit
        paths = [(p - lo) * room / span.max() + lo for p in paths]
        span = span * room / span.max()
    free = np.maximum(room - span, 0)
    where = 0.5 + writer.spread * (rng.uniform(0, 1, 2) - 0.5)
    offset = margin + where * free - lo
    return [p + offset for p in paths], width


def style_digits(n_per_style: int, seed: int, styles: Sequence[str] | None = None,
                 writer: Writer | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`n_per_style` drawings of each style (default: all of STYLES, in its order), grouped by
    style: images (N, 280, 280, 4) uint8 RGBA as the canvas sends them, labels (N,) int64 and
    style names (N,).

    Drawn by `writer`, or when None by WRITERS_PER_SET writers of `writers(seed)`, each drawing
    by one of them at random. A style's drawings depend only on the seed, the writer and the
    style, not on which other styles are asked for. Evaluation: seeds >= EVAL_SEED_BASE;
    training: seeds below, e.g. `style_digits(50, train_seed(s))`, shuffled before use.
    """
    names = list(STYLES) if styles is None else list(styles)
    unknown = [s for s in names if s not in STYLES]
    if unknown:
        raise ValueError(f"unknown styles {unknown}; known: {', '.join(STYLES)}")
    people = [writer] if writer is not None else writers(seed)
    images, labels, style_names = [], [], []
    for name in names:
        # One stream per style: a style's drawings are the same whichever others are asked for.
        rng = np.random.default_rng([seed, 2, zlib.crc32(name.encode())])
        for _ in range(n_per_style):
            person = people[rng.integers(len(people))]
            images.append(render(*style_strokes(name, person, rng)))
            labels.append(STYLES[name][0])
            style_names.append(name)
    if not images:
        return (np.zeros((0, CANVAS, CANVAS, 4), np.uint8), np.zeros(0, np.int64),
                np.array([], dtype=str))
    return np.stack(images), np.array(labels, np.int64), np.array(style_names, dtype=str)


def style_accuracy(model, n_per_style: int = 300, seed: int = EVAL_SEED_BASE,
                   styles: Sequence[str] | None = None) -> dict[str, dict]:
    """Accuracy of `model` per style on `style_digits(n_per_style, seed, styles)`, through the
    Draw page's preprocessing (`to_mnist`; a drawing judged empty counts as wrong, its answer
    None). Per style: n, accuracy, the most common wrong answer and how often it was given."""
    from collections import Counter

    from mnist_core.model.evaluation import predict_probabilities
    from mnist_core.drawing.preprocess import to_mnist

    if n_per_style < 1:
        raise ValueError("n_per_style must be at least 1")
    results = {}
    for name in (list(STYLES) if styles is None else list(styles)):
        images, labels, _ = style_digits(n_per_style, seed, [name])  # one style at a time: memory
        prepared = [to_mnist(img) for img in images]
        empty = np.array([p.empty for p in prepared])
        batch = np.stack([np.zeros((28, 28), np.float32) if p.empty else p.image
                          for p in prepared])[..., None]
        answers = predict_probabilities(model, batch).argmax(axis=1)
        given = [None if e else int(a) for e, a in zip(empty, answers)]
        correct = np.array([g == t for g, t in zip(given, labels)])
        wrong = Counter(g for g, ok in zip(given, correct) if not ok).most_common(1)
        results[name] = {"digit": STYLES[name][0], "n": len(labels),
                         "accuracy": float(correct.mean()),
                         "empty": int(empty.sum()),
                         "top_wrong": wrong[0][0] if wrong else None,
                         "top_wrong_count": wrong[0][1] if wrong else 0}
    return results
