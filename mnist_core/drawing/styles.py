"""Digit styles: the common ways people write each digit, as stroke templates (`STYLES`).

A style's template is a function of a drawing's knobs (`style_space.Params`: each quantity
that varies between drawings, such as the length of a 1's flag or where a 7 is crossed, is a
named knob with a range) returning strokes; a stroke is a list of pieces, a piece a list of
points in "height units": y from 0 (top) to 1 (bottom), x from 0 rightwards, at the digit's
natural width (a 0 is about 0.6 wide, a plain 1 has no width). Pieces of one stroke meet at
sharp corners; each piece is smoothed. Writers (slant, pen, tremor, gaps, hooks) and the
drawing itself: mnist_core.drawing.synthetic.

The ranges span what real hands do, not what MNIST holds; each is given with its reason where
it is defined, and collected in docs/handwriting.md. The one deliberate limit: a shape must
still be its digit to a reader of the writer's own country (a 7's bar stays near the
horizontal, so that a continental 1's rising flag remains distinguishable from it).
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from mnist_core.drawing.style_space import Params

Piece = list[tuple[float, float]]
Strokes = list[list[Piece]]
Template = Callable[[Params], Strokes]


def _arc(cx: float, cy: float, rx: float, ry: float, start: float, stop: float,
         n: int) -> Piece:
    """Points on an ellipse from angle `start` to `stop` (degrees, 90 = top, increasing
    anticlockwise on the screen)."""
    a = np.deg2rad(np.linspace(start, stop, n))
    return [(cx + rx * np.cos(t), cy - ry * np.sin(t)) for t in a]


def _oval(p: Params, cx: float, cy: float, rx: float, ry: float, name: str = "oval") -> Piece:
    """A loop as people draw it: from near the top, anticlockwise, ending past its start or,
    in a hurry, up to 15 degrees short of it (a loop that does not quite close)."""
    start = p.u(f"{name}_start", 50, 110)
    return _arc(cx, cy, rx, ry, start, start + 360 + p.u(f"{name}_close", -15, 35), 13)


def _dot(x: float, y: float) -> list[Piece]:
    return [[(x, y), (x + 0.004, y + 0.004)]]       # a tap: one round dab of the pen


# 0: from a narrow oval (a third of its height wide: slashed and slanted zeros) to a round one
def _zero_plain(p):
    rx = p.u("width", 0.33, 0.9) / 2
    return [[_oval(p, rx, 0.5, rx, 0.5)]]


def _zero_slashed(p):
    """Ø: a narrow oval (width a third to half of its height) and a slash 20-45 degrees from
    the vertical that overshoots the oval by up to half its height in all, the overshoot split
    unevenly between its ends; a third of writers draw the slash in the same stroke."""
    rx = p.u("width", 0.33, 0.5) / 2
    tilt = np.deg2rad(p.u("slash_angle", 20, 45))
    over = p.u("overshoot", 0.0, 0.5)
    split = p.u("overshoot_split", 0.15, 0.85)
    cx = rx + p.u("slash_offset", -0.05, 0.05)
    top_y, bottom_y = -over * split, 1 + over * (1 - split)
    top = (cx + (0.5 - top_y) * np.tan(tilt), top_y)
    bottom = (cx - (bottom_y - 0.5) * np.tan(tilt), bottom_y)
    oval = _oval(p, rx, 0.5, rx, 0.5)
    if p.chance("one_stroke", 0.3):
        return [[oval, [oval[-1], top], [top, bottom]]]
    return [[oval], [[bottom, top]]]


def _zero_dotted(p):
    rx = p.u("width", 0.4, 0.85) / 2
    return [[_oval(p, rx, 0.5, rx, 0.5)],
            _dot(rx + p.u("dot_x", -0.05, 0.05), 0.5 + p.u("dot_y", -0.08, 0.08))]


# 1
def _flag(p: Params) -> Piece:
    """The continental 1's up-stroke: 30-100% of the stem's length (as long as the stem in
    some hands), rising at 20-70 degrees above the horizontal to the top of the stem, as drawn:
    a writer's width and slant (`p.frame`) do not flatten it, since a writer draws the flag as
    a flag (undone here, the drawing's shear and width give back the angle chosen)."""
    length, angle = p.u("flag_length", 0.3, 1.0), np.deg2rad(p.u("flag_angle", 20, 70))
    aspect, slant = p.frame
    rise = length * np.sin(angle)
    return [(-(length * np.cos(angle) + slant * rise) / aspect, rise), (0.0, 0.0)]


def _stem(p: Params) -> Piece:
    """A 1's stem: straight or slightly bowed."""
    return [(0.0, 0.0), (p.u("stem_bow", -0.04, 0.04), 0.5), (0.0, 1.0)]


def _one_plain(p):
    return [[_stem(p)]]


def _one_flag(p):
    return [[_flag(p), _stem(p)]]


def _one_flag_base(p):
    half = p.u("base_half", 0.12, 0.35)
    return [[_flag(p), _stem(p)], [[(-half, 1.0), (half, 1.0)]]]


# 2
def _two_top(p: Params) -> Piece:
    """The hook of a 2 down to its neck; `top_width` stretches it, `neck` is how far right
    the diagonal leaves from."""
    w, neck = p.u("top_width", 0.8, 1.2), p.u("neck", 0.35, 0.55)
    return [(0.02 * w, 0.24), (0.14 * w, 0.06), (0.34 * w, 0.0), (0.54 * w, 0.08),
            (0.6 * w, 0.27), (neck, 0.48)]


def _two_plain(p):
    foot, rise = p.u("foot", 0.45, 0.85), p.u("foot_rise", -0.06, 0.04)
    return [[_two_top(p) + [(0.22, 0.78), (0.0, 1.0)], [(0.0, 1.0), (foot, 1.0 - rise)]]]


def _two_loop(p):
    r = p.u("loop", 0.06, 0.16)                 # the loop's size, in heights
    return [[_two_top(p) + [(0.25, 0.76), (0.1, 0.92), (0.1 - r, 1.0), (0.04 - r, 0.96 - r),
                            (0.08, 0.9 - r), (0.18, 0.94), (0.3, 0.99),
                            (p.u("foot", 0.5, 0.85), 0.97)]]]


# 3
def _three_plain(p):
    """Two bowls meeting at a cusp: `waist` is how far in the cusp reaches, `middle` its
    height (a big or small top bowl)."""
    w, m = p.u("waist", 0.1, 0.35), p.u("middle", 0.38, 0.54)
    return [[[(0.02, 0.12), (0.3, 0.0), (0.52, 0.08), (0.52, m - 0.16), (w, m)],
             [(w, m), (0.55, m + 0.14), (0.58, 0.84), (0.32, 1.0), (0.0, 0.9)]]]


def _three_flat(p):
    """A flat top like a 7's bar, a diagonal, then the bowl."""
    bar_right, elbow = p.u("bar", 0.45, 0.65), p.u("elbow", 0.12, 0.3)
    return [[[(0.02, 0.0), (bar_right, 0.0)], [(bar_right, 0.0), (elbow, 0.4)],
             [(elbow, 0.4), (0.45, 0.44), (0.6, 0.63), (0.52, 0.9), (0.3, 1.0), (0.0, 0.9)]]]


# 4
def _four_closed(p):
    """One stroke: from the bar's right end to the left, up the diagonal, down the stem."""
    stem, bar = p.u("stem", 0.35, 0.55), p.u("bar", 0.55, 0.75)
    return [[[(stem + p.u("overhang", 0.08, 0.3), bar), (0.0, bar)], [(0.0, bar), (stem, 0.0)],
             [(stem, 0.0), (stem, 1.0)]]]


def _four_open(p):
    """Two strokes: an L (down and along), then the stem; the top stays open. The L's bar can
    stop short of the stem (a gap of up to a tenth of the height) or cross it by a quarter."""
    stem, bar = p.u("stem", 0.35, 0.55), p.u("bar", 0.5, 0.72)
    lean = p.u("l_lean", -0.02, 0.15)
    return [[[(lean, 0.0), (0.0, bar)], [(0.0, bar), (stem + p.u("bar_reach", -0.1, 0.25), bar)]],
            [[(stem, p.u("stem_top", -0.08, 0.12)), (stem, 1.0)]]]


# 5
def _five_bowl(p: Params, top: float) -> Piece:
    b = p.u("bowl", 0.85, 1.15)                 # a narrow or wide belly
    return [(0.07, top), (0.3 * b, top - 0.08), (0.55 * b, top + 0.03), (0.6 * b, 0.72),
            (0.45 * b, 0.95), (0.2, 1.0), (0.0, 0.9)]


def _five_plain(p):
    """Stem and bowl, then the flag on top as a second stroke."""
    top, flag = p.u("stem_length", 0.35, 0.52), p.u("flag", 0.35, 0.7)
    return [[[(0.1, 0.0), (0.07, top)], _five_bowl(p, top)], [[(0.1, 0.0), (flag, 0.0)]]]


def _five_one_stroke(p):
    top, flag = p.u("stem_length", 0.35, 0.52), p.u("flag", 0.35, 0.7)
    return [[[(flag, 0.0), (0.1, 0.0)], [(0.1, 0.0), (0.07, top)], _five_bowl(p, top)]]


# 6
def _six_loop(p: Params) -> Piece:
    """The loop of a 6, `loop` of the height tall."""
    h = p.u("loop", 0.4, 0.62)
    ys = [0.72, 0.94, 1.0, 0.9, 0.68, 0.55, 0.6, 0.72]
    return [(x, 1 - (1 - y) * h / 0.45) for x, y in zip(
        [0.05, 0.12, 0.32, 0.52, 0.56, 0.38, 0.15, 0.05], ys)]


def _six_curved(p):
    loop = _six_loop(p)
    return [[[(p.u("top", 0.35, 0.6), 0.0), (0.22, 0.2), (0.07, loop[0][1] - 0.22)] + loop]]


def _six_straight(p):
    """A straight stem from the top, then the loop."""
    loop = _six_loop(p)
    return [[[(p.u("top", 0.3, 0.55), 0.0), loop[0]], loop]]


# 7: the bar stays within a few degrees of the horizontal (a rising one is a 1's flag)
def _seven_plain(p):
    bar = p.u("bar", 0.45, 0.8)
    foot = bar - p.u("lean", 0.08, 0.5)         # the stem leans 5-27 degrees
    rise = p.u("bar_rise", -0.03, 0.05)
    return [[[(0.0, rise), (bar, 0.0)],
             [(bar, 0.0), (bar - 0.45 * (bar - foot) + p.u("bow", -0.04, 0.04), 0.45),
              (foot, 1.0)]]]


def _seven_crossed(p):
    strokes = _seven_plain(p)
    stem = strokes[0][1]
    y = p.u("cross_at", 0.35, 0.65)
    x = stem[0][0] + (stem[-1][0] - stem[0][0]) * y       # where the stem is at that height
    half = p.u("cross_half", 0.1, 0.25)
    return strokes + [[[(x - half, y), (x + half, y)]]]


def _seven_hooked(p):
    """A short down-stroke (serif) at the left end of the bar."""
    (bar, stem), = _seven_plain(p)
    return [[[(0.03, p.u("serif", 0.1, 0.3)), bar[0]], bar, stem]]


# 8
def _eight_stroke(p):
    """One stroke: the top loop anticlockwise, crossing at the waist, the bottom clockwise."""
    w, t = p.u("waist", 0.4, 0.56), p.u("top_width", 0.7, 1.0)
    return [[[(0.3 + 0.22 * t, 0.12), (0.3, 0.0), (0.3 - 0.22 * t, 0.1), (0.3 - 0.2 * t, w - 0.17),
              (0.3, w), (0.55, w + 0.18), (0.56, 0.88), (0.3, 1.0), (0.05, 0.88),
              (0.06, w + 0.18), (0.3, w), (0.3 + 0.2 * t, w - 0.15), (0.3 + 0.22 * t, 0.12)]]]


def _eight_circles(p):
    """Two loops stacked, the top one smaller: a snowman."""
    top = p.u("top", 0.35, 0.5)
    return [[_oval(p, 0.3, top / 2, p.u("top_width", 0.15, 0.26), top / 2, "top")],
            [_oval(p, 0.3, (1 + top) / 2, 0.28, (1 - top) / 2, "bottom")]]


# 9
def _nine_head(p: Params) -> Piece:
    """The head of a 9: from its right side anticlockwise round, back to (or short of) it."""
    h, w = p.u("head", 0.35, 0.55), p.u("head_width", 0.4, 0.62)
    return _arc(w / 2, h / 2, w / 2, h / 2, -10, p.u("head_close", 320, 360), 10)


def _nine_straight(p):
    head = _nine_head(p)
    return [[head, [head[-1], (head[-1][0] + p.u("foot", -0.12, 0.05), 1.0)]]]


def _nine_curved(p):
    head = _nine_head(p)
    x = head[-1][0]
    return [[head, [head[-1], (x + 0.02, 0.6), (x - 0.06, 0.86),
                    (x - p.u("tail", 0.15, 0.35), 1.0)]]]


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


def style_list(text: str | None) -> list[str]:
    """Style names from a comma-separated list (None or empty: all of STYLES); ValueError
    naming the unknown ones and the known."""
    names = [s for s in (text or "").split(",") if s] or list(STYLES)
    unknown = [s for s in names if s not in STYLES]
    if unknown:
        raise ValueError(f"unknown styles {unknown}; known: {', '.join(STYLES)}")
    return names
