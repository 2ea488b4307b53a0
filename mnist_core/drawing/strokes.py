"""Pen strokes from the Draw page's canvas, checked and rendered into a picture.

The browser sends what was drawn, not pixels: a list of strokes, each a list of [x, y] points
in 0..1 of the canvas side. That keeps the message small and makes the drawing independent of
how large the canvas is on a given screen (a phone, a projector). The server renders the
strokes here into the same 280x280 RGBA picture the old canvas component sent, white
round-capped anti-aliased lines on black, so preprocessing and the model see what they always
saw. A browser message is untrusted input: it is validated and bounded before anything is drawn.
"""
from __future__ import annotations

import base64
import re
from collections.abc import Sequence

import cv2
import numpy as np

from mnist_core.untrusted import short

CANVAS_SIDE = 280        # the old canvas's size in px; stroke widths are given relative to it
MAX_POINTS = 20_000      # far more than any digit needs (~200-1,500); bounds CPU and memory
_SUBPIXEL_BITS = 4       # OpenCV fixed-point coordinates: 1/16 px precision


def validate_strokes(strokes: object, max_points: int = MAX_POINTS) -> list[np.ndarray]:
    """Untrusted strokes -> a list of (N, 2) float arrays in 0..1; ValueError says what is wrong.

    Accepted: a list of strokes, each a non-empty list of [x, y] pairs of finite numbers in
    0..1 (the canvas clamps to its edges), at most `max_points` points in all.
    """
    if not isinstance(strokes, (list, tuple)):
        raise ValueError(f"strokes must be a list, not {type(strokes).__name__}")
    total = 0
    checked = []
    for i, stroke in enumerate(strokes):
        if isinstance(stroke, np.ndarray):   # decoded from the canvas (decode_strokes)
            total += len(stroke)
            if (stroke.ndim != 2 or stroke.shape[1] != 2 or not len(stroke)
                    or not (np.isfinite(stroke).all() and (0 <= stroke).all()
                            and (stroke <= 1).all())):
                raise ValueError(f"stroke {i} is not an array of [x, y] points in 0..1")
            if total > max_points:
                raise ValueError(f"too many points: more than {max_points:,} in one drawing")
            checked.append(stroke.astype(np.float64))
            continue
        if not isinstance(stroke, (list, tuple)) or not stroke:
            raise ValueError(f"stroke {i} must be a non-empty list of [x, y] points")
        total += len(stroke)
        if total > max_points:
            raise ValueError(f"too many points: more than {max_points:,} in one drawing")
        for point in stroke:
            if (not isinstance(point, (list, tuple)) or len(point) != 2
                    or not all(_is_unit_number(v) for v in point)):
                raise ValueError(f"stroke {i} has a point that is not [x, y] with x and y "
                                 f"between 0 and 1: {short(point)}")
        checked.append(np.asarray(stroke, dtype=np.float64))
    return checked


def _is_unit_number(value: object) -> bool:
    # bool is an int in Python, but [true, false] is not a point. The range is compared first:
    # math.isfinite of a 400-digit integer raises OverflowError (NaN fails the comparison).
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and 0.0 <= value <= 1.0)


def stroke_width_fraction(px: float) -> float:
    """A stroke width in px of the 280 px reference canvas (the Draw page's slider) as the
    fraction of the canvas side that the canvas and `render_strokes` take: 20 px -> 20/280."""
    return px / CANVAS_SIDE


def render_strokes(strokes: Sequence, stroke_width: float, size: int = CANVAS_SIDE) -> np.ndarray:
    """Strokes in 0..1 -> (size, size, 4) uint8 RGBA: white anti-aliased round-capped lines on
    an opaque black background; a stroke that never moved is a dot.

    `stroke_width` is a fraction of the canvas side (20 px on the old 280 px canvas is 20/280),
    the same unit the browser draws with, so both show the same line at any size.
    """
    if not (isinstance(stroke_width, (int, float)) and 0 < stroke_width <= 0.5):
        raise ValueError(f"stroke width must be a fraction of the canvas side in (0, 0.5], "
                         f"got {stroke_width!r}")
    if not isinstance(size, int) or not 8 <= size <= 4096:
        raise ValueError(f"size must be an integer from 8 to 4096 px, got {size!r}")
    grey = np.zeros((size, size), np.uint8)
    thickness = max(1, round(stroke_width * size))
    scale = size * (1 << _SUBPIXEL_BITS)
    for stroke in validate_strokes(strokes):   # a list or tuple: list(5) would be TypeError
        # Pixel centres sit at +0.5 in the browser's canvas and at +0 in OpenCV.
        pts = np.round(stroke * scale - (1 << _SUBPIXEL_BITS) / 2).astype(np.int32)
        if np.ptp(pts, axis=0).max() == 0:
            # A tap: the browser fills a circle of the stroke's width there.
            radius = round(stroke_width * scale / 2)
            cv2.circle(grey, tuple(int(v) for v in pts[0]), radius, 255, -1, cv2.LINE_AA,
                       _SUBPIXEL_BITS)
        else:
            # OpenCV draws thick lines with round ends and joins, like the browser's round caps.
            cv2.polylines(grey, [pts.reshape(-1, 1, 2)], False, 255, thickness, cv2.LINE_AA,
                          _SUBPIXEL_BITS)
    return np.dstack([grey, grey, grey, np.full_like(grey, 255)])


# --- the canvas's wire format -----------------------------------------------------------------
# The browser sends a drawing as one short string, not as JSON lists of numbers: Streamlit
# parses a component's value before any code of ours sees it, and a list of numbers costs the
# server ten times its size in Python objects, a string only its size. Each point is x and y on
# a 4096-step grid of the canvas side (finer than the 1/16 px OpenCV renders at 280 px), 12 bits
# each, so exactly four base64url characters; strokes are separated by commas. The length is
# checked before anything is decoded.

GRID = 4095                # the largest coordinate: a point's x and y are 0..GRID
MAX_STROKES = 500          # a digit has a handful; a scribble of dots a few hundred
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_WIRE_CHARACTERS = re.compile(r"[A-Za-z0-9_,-]*")


def encode_strokes(strokes: Sequence) -> str:
    """Strokes in 0..1 -> the canvas's wire format (what ui/canvas/canvas.js sends)."""
    parts = []
    for stroke in strokes:
        grid = np.rint(np.clip(np.asarray(stroke, np.float64), 0, 1) * GRID).astype(np.int64)
        value = grid[:, 0] << 12 | grid[:, 1]
        parts.append("".join(_ALPHABET[v >> 18 & 63] + _ALPHABET[v >> 12 & 63] +
                             _ALPHABET[v >> 6 & 63] + _ALPHABET[v & 63] for v in value.tolist()))
    return ",".join(parts)


def decode_strokes(text: object, max_points: int = MAX_POINTS) -> list[np.ndarray]:
    """The canvas's wire format -> a list of (N, 2) float arrays in 0..1; ValueError says what
    is wrong. Untrusted: the type and length are checked first, so any value costs at most a
    scan of `4 * max_points` characters."""
    if not isinstance(text, str):
        raise ValueError(f"the drawing must be text, not {type(text).__name__}")
    if len(text) > 4 * max_points + MAX_STROKES:
        raise ValueError(f"too many points: more than {max_points:,} in one drawing")
    if not text or not _WIRE_CHARACTERS.fullmatch(text):
        raise ValueError("the drawing is not in the canvas's format")
    parts = text.split(",")
    if len(parts) > MAX_STROKES:
        raise ValueError(f"too many strokes: more than {MAX_STROKES} in one drawing")
    if (len(text) - len(parts) + 1) // 4 > max_points:
        raise ValueError(f"too many points: more than {max_points:,} in one drawing")
    strokes = []
    for i, part in enumerate(parts):
        if not part or len(part) % 4:
            raise ValueError(f"stroke {i} is not a whole number of points")
        raw = np.frombuffer(base64.urlsafe_b64decode(part), np.uint8).reshape(-1, 3)
        raw = raw.astype(np.int64)
        x, y = raw[:, 0] << 4 | raw[:, 1] >> 4, (raw[:, 1] & 15) << 8 | raw[:, 2]
        strokes.append(np.stack([x, y], axis=1) / GRID)
    return strokes
