"""Digit styles: the common ways people write each digit, as stroke templates (`STYLES`).

A style's template is a function of a random generator (each drawing varies its proportions:
the length of a 1's flag, where a 7 is crossed) returning strokes; a stroke is a list of
pieces, a piece a list of points in "height units": y from 0 (top) to 1 (bottom), x from 0
rightwards, at the digit's natural width (a 0 is about 0.6 wide, a plain 1 has no width).
Pieces of one stroke meet at sharp corners; each piece is smoothed. Writers and the drawing
itself: mnist_core.drawing.synthetic.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

Piece = list[tuple[float, float]]
Strokes = list[list[Piece]]
Template = Callable[[np.random.Generator], Strokes]


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


def _arc(cx: float, cy: float, rx: float, ry: float, start: float, stop: float,
         n: int) -> Piece:
    """Points on an ellipse from angle `start` to `stop` (degrees, 90 = top, increasing
    anticlockwise on the screen)."""
    a = np.deg2rad(np.linspace(start, stop, n))
    return [(cx + rx * np.cos(t), cy - ry * np.sin(t)) for t in a]


def _oval(rng: np.random.Generator, cx=0.3, cy=0.5, rx=0.3, ry=0.5) -> Piece:
    """A closed loop as people draw it: from the top, anticlockwise, overshooting the start."""
    start = _u(rng, 60, 100)
    return _arc(cx, cy, rx * _u(rng, 0.85, 1.1), ry, start, start + 360 + _u(rng, 5, 35), 11)


def _dot(x: float, y: float) -> list[Piece]:
    return [[(x, y), (x + 0.004, y + 0.004)]]       # a tap: one round dab of the pen


# 0
def _zero_plain(rng):
    return [[_oval(rng)]]


def _zero_slashed(rng):
    over = _u(rng, 0.0, 0.1)
    return [[_oval(rng)], [[(0.02 - over, 0.95 + over), (0.58 + over, 0.05 - over)]]]


def _zero_dotted(rng):
    return [[_oval(rng)], _dot(0.3 + _u(rng, -0.03, 0.03), 0.5 + _u(rng, -0.04, 0.04))]


# 1
def _flag(rng) -> Piece:
    """The continental 1's up-stroke: 30-60% of the height, rising steeply to the top."""
    length, angle = _u(rng, 0.3, 0.6), np.deg2rad(_u(rng, 40, 65))
    return [(-length * np.cos(angle), length * np.sin(angle)), (0.0, 0.0)]


def _one_plain(rng):
    return [[[(0.0, 0.0), (0.0, 1.0)]]]


def _one_flag(rng):
    return [[_flag(rng), [(0.0, 0.0), (0.0, 1.0)]]]


def _one_flag_base(rng):
    half = _u(rng, 0.18, 0.3)
    return [[_flag(rng), [(0.0, 0.0), (0.0, 1.0)]], [[(-half, 1.0), (half, 1.0)]]]


# 2
_TWO_TOP = [(0.02, 0.24), (0.14, 0.06), (0.34, 0.0), (0.54, 0.08), (0.6, 0.27), (0.5, 0.48)]


def _two_plain(rng):
    return [[_TWO_TOP + [(0.22, 0.78), (0.0, 1.0)], [(0.0, 1.0), (0.65, 0.98)]]]


def _two_loop(rng):
    r = _u(rng, 0.09, 0.13)                     # the loop's size, in heights
    return [[_TWO_TOP + [(0.25, 0.76), (0.1, 0.92), (0.1 - r, 1.0), (0.04 - r, 0.96 - r),
                         (0.08, 0.9 - r), (0.18, 0.94), (0.3, 0.99), (0.65, 0.97)]]]


# 3
def _three_plain(rng):
    return [[[(0.02, 0.12), (0.3, 0.0), (0.52, 0.08), (0.52, 0.3), (0.25, 0.46)],
             [(0.25, 0.46), (0.55, 0.6), (0.58, 0.84), (0.32, 1.0), (0.0, 0.9)]]]


def _three_flat(rng):
    """A flat top like a 7's bar, a diagonal, then the bowl."""
    bar_right = _u(rng, 0.5, 0.6)
    return [[[(0.02, 0.0), (bar_right, 0.0)], [(bar_right, 0.0), (0.2, 0.4)],
             [(0.2, 0.4), (0.45, 0.44), (0.6, 0.63), (0.52, 0.9), (0.3, 1.0), (0.0, 0.9)]]]


# 4
def _four_closed(rng):
    """One stroke: from the bar's right end to the left, up the diagonal, down the stem."""
    stem, bar = _u(rng, 0.4, 0.5), _u(rng, 0.6, 0.7)
    return [[[(stem + _u(rng, 0.15, 0.25), bar), (0.0, bar)], [(0.0, bar), (stem, 0.0)],
             [(stem, 0.0), (stem, 1.0)]]]


def _four_open(rng):
    """Two strokes: an L (down and along), then the stem; the top stays open."""
    stem, bar = _u(rng, 0.4, 0.52), _u(rng, 0.55, 0.68)
    return [[[(0.06, 0.0), (0.0, bar)], [(0.0, bar), (stem + _u(rng, 0.15, 0.25), bar)]],
            [[(stem, _u(rng, -0.02, 0.08)), (stem, 1.0)]]]


# 5
_FIVE_BOWL = [(0.07, 0.45), (0.3, 0.37), (0.55, 0.48), (0.6, 0.72), (0.45, 0.95), (0.2, 1.0),
              (0.0, 0.9)]


def _five_plain(rng):
    """Stem and bowl, then the flag on top as a second stroke."""
    return [[[(0.1, 0.0), (0.07, 0.45)], _FIVE_BOWL], [[(0.1, 0.0), (0.58, 0.0)]]]


def _five_one_stroke(rng):
    return [[[(0.58, 0.0), (0.1, 0.0)], [(0.1, 0.0), (0.07, 0.45)], _FIVE_BOWL]]


# 6
_SIX_LOOP = [(0.05, 0.72), (0.12, 0.94), (0.32, 1.0), (0.52, 0.9), (0.56, 0.68), (0.38, 0.55),
             (0.15, 0.6), (0.05, 0.72)]


def _six_curved(rng):
    return [[[(0.5, 0.0), (0.22, 0.2), (0.06, 0.5)] + _SIX_LOOP[:1] + _SIX_LOOP[1:]]]


def _six_straight(rng):
    """A straight stem from the top, then the loop."""
    return [[[(0.45, 0.0), (0.05, 0.72)], _SIX_LOOP]]


# 7
def _seven_plain(rng):
    return [[[(0.0, 0.0), (0.62, 0.0)], [(0.62, 0.0), (0.42, 0.45), (0.25, 1.0)]]]


def _seven_crossed(rng):
    y = _u(rng, 0.42, 0.58)
    x = 0.62 - 0.37 * y / 1.0           # where the stem is at that height, roughly
    half = _u(rng, 0.13, 0.2)
    return _seven_plain(rng) + [[[(x - half, y), (x + half, y)]]]


def _seven_hooked(rng):
    """A short down-stroke (serif) at the left end of the bar."""
    return [[[(0.03, _u(rng, 0.15, 0.25)), (0.0, 0.0)], [(0.0, 0.0), (0.62, 0.0)],
             [(0.62, 0.0), (0.42, 0.45), (0.25, 1.0)]]]


# 8
def _eight_stroke(rng):
    """One stroke: the top loop anticlockwise, crossing in the middle, the bottom clockwise."""
    return [[[(0.52, 0.12), (0.3, 0.0), (0.08, 0.1), (0.1, 0.3), (0.3, 0.47), (0.55, 0.65),
              (0.56, 0.88), (0.3, 1.0), (0.05, 0.88), (0.06, 0.65), (0.3, 0.47),
              (0.5, 0.32), (0.52, 0.12)]]]


def _eight_circles(rng):
    """Two loops stacked, the top one smaller: a snowman."""
    top = _u(rng, 0.4, 0.48)
    return [[_oval(rng, 0.3, top / 2, 0.21, top / 2)],
            [_oval(rng, 0.3, (1 + top) / 2, 0.28, (1 - top) / 2)]]


# 9
def _nine_head(rng) -> Piece:
    """The head of a 9: from its right side anticlockwise round, back to the right side."""
    return _arc(0.3, 0.24, 0.27, 0.24, -10, 345, 10)


def _nine_straight(rng):
    head = _nine_head(rng)
    return [[head, [head[-1], (0.56, 1.0)]]]


def _nine_curved(rng):
    head = _nine_head(rng)
    return [[head, [head[-1], (0.58, 0.55), (0.5, 0.86), (0.3, 1.0)]]]


STYLES: dict[str, tuple[int, Template]] = {
    "0-plain": (0, _zero_plain), "0-slashed": (0, _zero_slashed), "0-dotted": (0, _zero_dotted),
    "1-plain": (1, _one_plain), "1-flag": (1, _one_flag), "1-flag+base": (1, _one_flag_base),
    "2-plain": (2, _two_plain), "2-loop": (2, _two_loop),
    "3-plain": (3, _three_plain), "3-flat": (3, _three_flat),
    "4-closed": (4, _four_closed), "4-open": (4, _four_open),
    "5-plain": (5, _five_plain), "5-one-stroke": (5, _five_one_stroke),
    "6-curved": (6, _six_curved), "6-straight": (6, _six_straight),
    "7-plain": (7, _seven_plain), "7-crossed": (7, _seven_crossed), "7-hooked": (7, _seven_hooked),
    "8-stroke": (8, _eight_stroke), "8-circles": (8, _eight_circles),
    "9-straight": (9, _nine_straight), "9-curved": (9, _nine_curved),
}
