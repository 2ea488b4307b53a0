"""The digits as people write them: named styles drawn by simulated writers on the canvas.

Each drawing is a style of `mnist_core.drawing.styles.STYLES` ("1-flag" is the continental 1
with its long up-stroke, "0-slashed" is Ø, "4-open" the open-top 4, ...) drawn by a `Writer`:
a person with a slant, a pen width, a size range, a tilt, a shakiness, a tremor, a habit of
leaving strokes apart and of hooking their ends. A writer's qualities and a style's
proportions are knobs of one space (`style_space.Params`): `space_digits` draws anywhere in it
(or within a region of it) with a new writer for every drawing; `style_digits` draws with a
few writers who each make many drawings (a class, a benchmark by person).

Seeds: evaluation (`bench/styles.py`) uses seeds from EVAL_SEED_BASE up; training data made
from styles must use seeds below it (`train_seed` checks). A seed determines both the writers
and the drawings, so evaluation never sees a writer that training saw.
"""
from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mnist_core.drawing.style_space import Params, Region
from mnist_core.drawing.styles import STYLES
from mnist_core.drawing.synthetic import CANVAS, catmull_rom, render

EVAL_SEED_BASE = 10_000
"""Seeds >= this are for evaluation only; training data must use seeds in [0, EVAL_SEED_BASE)."""
WRITERS_PER_SET = 40       # writers in one `style_digits` set when no writer is given
MAX_INK = 0.45
"""The most of the canvas one drawing may cover. Past half, the Draw page takes the black
background for the ink (`preprocess.ink_map`: the background is the median colour) and refuses
the drawing; only a thick pen on a canvas-filling digit gets near (a 45 px pen, a big 8)."""


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
    tremor: float = 0.0             # a shaky hand: smooth wobble along the stroke, in heights
    gap: float = 0.0                # strokes that don't quite meet: later strokes off by this
    hooks: float = 0.0              # the chance that a stroke's end has a hook (a tick)
    hook_size: float = 0.05         # its length, in heights

    @classmethod
    def random(cls, p: Params | np.random.Generator) -> "Writer":
        """A plausible person, anywhere in the widened space (docs/handwriting.md gives each
        range and why): most keep the default 20 px pen, some change it; a thick pen goes with
        a big digit (no one draws a 40 px digit with a 40 px pen)."""
        if isinstance(p, np.random.Generator):
            p = Params(p)
        chosen = float(round(p.u("pen", 6, 45)))       # drawn always: every knob is searchable
        pen = 20.0 if p.chance("default_pen", 0.5) else chosen
        mid = max(p.u("size", 90.0, 235.0), 4.5 * pen)   # a fixed range: searchable alike
        low = max(4 * pen, 30.0, mid * p.u("size_low", 0.7, 0.9))
        high = min(265.0, max(low + 5, mid * p.u("size_high", 1.1, 1.3)))
        return cls(slant=p.u("slant", -0.42, 0.22), tilt_deg=p.u("tilt", -6, 6),
                   wobble_deg=p.u("wobble", 1, 5), height=(float(low), float(high)),
                   pen=pen, aspect=p.u("aspect", 0.7, 1.35), jitter=p.u("jitter", 0.005, 0.04),
                   spread=p.u("spread", 0.2, 1.0), tremor=p.u("tremor", 0.0, 0.012),
                   gap=p.u("gap", 0.0, 0.08), hooks=p.u("hooks", 0.0, 0.6),
                   hook_size=p.u("hook_size", 0.03, 0.1))


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


def _hooked(path: np.ndarray, writer: Writer, rng: np.random.Generator) -> np.ndarray:
    """The stroke with a small tick at its start and/or end, each with the writer's chance:
    the pen landing before it moves off, or flicking as it lifts."""
    if len(path) < 2 or writer.hooks <= 0:
        return path
    parts = [path]
    for end in (0, -1):
        if rng.random() >= writer.hooks:
            continue
        inward = path[end] - path[1 if end == 0 else -2]
        norm = np.hypot(*inward)
        if norm < 1e-9:
            continue
        turn = np.deg2rad(rng.choice([-1, 1]) * rng.uniform(110, 160))
        rotation = np.array([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]])
        tick = path[end] + writer.hook_size * rotation @ (inward / norm)
        parts = [tick[None]] + parts if end == 0 else parts + [tick[None]]
    return np.vstack(parts)


def _trembling(path: np.ndarray, writer: Writer, rng: np.random.Generator) -> np.ndarray:
    """A shaky hand: wobble that varies smoothly along the stroke (not point by point)."""
    if writer.tremor <= 0 or len(path) < 5:
        return path
    noise = rng.normal(0, writer.tremor * 2.2, path.shape)
    kernel = np.ones(5) / 5
    smooth = np.stack([np.convolve(noise[:, k], kernel, mode="same") for k in range(2)], 1)
    return path + smooth


def style_strokes(style: str, writer: Writer, rng: np.random.Generator,
                  params: Params | None = None) -> tuple[list[np.ndarray], float]:
    """Pen paths on the 280 px canvas for one drawing of `style` by `writer`, and the pen
    width; the style's proportions from `params` (default: drawn freely from `rng`)."""
    _, template = STYLES[style]
    params = params if params is not None else Params(rng)
    params.frame = (writer.aspect, writer.slant)
    strokes = template(params)
    height = rng.uniform(*writer.height)
    angle = np.deg2rad(writer.tilt_deg + rng.normal(0, writer.wobble_deg))
    shear = writer.slant + rng.normal(0, 0.05)
    aspect = writer.aspect * rng.uniform(0.93, 1.07)
    transform = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]) @ \
        np.array([[1, shear], [0, 1]]) @ np.diag([height * aspect, height])
    paths = []
    for i, stroke in enumerate(strokes):
        # A stroke after the first is placed by eye: it lands a little off where it belongs.
        misplaced = rng.normal(0, 1.5 * writer.jitter + writer.gap, 2) if i else np.zeros(2)
        pieces, corner = [], None
        for piece in stroke:
            pts = np.array(piece, dtype=np.float64) + misplaced
            pts = pts + rng.normal(0, writer.jitter, pts.shape)
            if corner is not None:
                pts[0] = corner              # pieces of one stroke stay joined at the corner
            corner = pts[-1]
            pieces.append(catmull_rom(pts))
        path = _hooked(_trembling(np.vstack(pieces), writer, rng), writer, rng)
        paths.append(path @ transform.T)
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
    return _within_ink([p + offset for p in paths], width), width


def _within_ink(paths: list[np.ndarray], width: float) -> list[np.ndarray]:
    """`paths` shrunk about their centre (the pen kept) until their ink covers at most MAX_INK
    of the canvas. Rendered to measure only when pen x length says it may be near."""
    length = sum(float(np.hypot(*np.diff(p, axis=0).T).sum()) for p in paths)
    if (length * width + len(paths) * np.pi * width ** 2 / 4) <= 0.9 * MAX_INK * CANVAS ** 2:
        return paths
    for _ in range(20):
        covered = float((render(paths, width)[..., 0] > 127).mean())
        if covered <= MAX_INK:
            break
        everything = np.vstack(paths)
        centre = (everything.min(axis=0) + everything.max(axis=0)) / 2
        paths = [(p - centre) * 0.95 + centre for p in paths]
    return paths


def _style_rng(seed: int, style: str, stream: int) -> np.random.Generator:
    # One stream per style: a style's drawings are the same whichever others are asked for.
    return np.random.default_rng([seed, stream, zlib.crc32(style.encode())])


def _checked(styles: Sequence[str] | None) -> list[str]:
    names = list(STYLES) if styles is None else list(styles)
    unknown = [s for s in names if s not in STYLES]
    if unknown:
        raise ValueError(f"unknown styles {unknown}; known: {', '.join(STYLES)}")
    return names


def _stacked(images: list, labels: list, names: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if not images:
        return (np.zeros((0, CANVAS, CANVAS, 4), np.uint8), np.zeros(0, np.int64),
                np.array([], dtype=str))
    return np.stack(images), np.array(labels, np.int64), np.array(names, dtype=str)


def style_digits(n_per_style: int, seed: int, styles: Sequence[str] | None = None,
                 writer: Writer | None = None, people: Sequence[Writer] | None = None,
                 regions: dict[str, Region] | None = None,
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`n_per_style` drawings of each style (default: all of STYLES, in its order), grouped by
    style: images (N, 280, 280, 4) uint8 RGBA as the canvas sends them, labels (N,) int64 and
    style names (N,).

    Drawn by `writer`, or by `people`, or when neither is given by WRITERS_PER_SET writers of
    `writers(seed)`, each drawing by one of them at random; a style's proportions within
    `regions[style]` when given (a class's shared habit), else anywhere in its ranges. A
    style's drawings depend only on the seed, the writers and the style, not on which other
    styles are asked for. Evaluation: seeds >= EVAL_SEED_BASE; training: seeds below, e.g.
    `style_digits(50, train_seed(s))`, shuffled before use.
    """
    people = [writer] if writer is not None else list(people or writers(seed))
    images, labels, style_names = [], [], []
    for name in _checked(styles):
        rng = _style_rng(seed, name, 2)
        region = (regions or {}).get(name)
        for _ in range(n_per_style):
            person = people[rng.integers(len(people))]
            images.append(render(*style_strokes(name, person, rng, Params(rng, region))))
            labels.append(STYLES[name][0])
            style_names.append(name)
    return _stacked(images, labels, style_names)


def space_digits(style: str, n: int, seed: int, region: Region | None = None
                 ) -> tuple[np.ndarray, list[dict[str, float]], dict[str, tuple[float, float]]]:
    """`n` drawings of `style`, each by a new writer, all knobs (the writer's, prefixed
    "writer.", and the style's) drawn uniformly over their ranges or within `region`.

    Returns the images (n, 280, 280, 4), each drawing's knob positions in [0, 1], and the
    knobs' ranges (to say where a drawing lies in the knobs' own units)."""
    _checked([style])
    rng = _style_rng(seed, style, 3)
    images, knobs, ranges = [], [], {}
    for _ in range(n):
        p = Params(rng, region)
        person = Writer.random(p.scoped("writer."))
        images.append(render(*style_strokes(style, person, rng, p)))
        knobs.append(dict(p.drawn))
        ranges.update(p.ranges)
    if not images:
        return np.zeros((0, CANVAS, CANVAS, 4), np.uint8), [], {}
    return np.stack(images), knobs, ranges
