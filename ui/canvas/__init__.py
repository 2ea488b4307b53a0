"""The Draw page's components: a drawing canvas that works alike with mouse, finger and pen,
and the row of digits that saves a drawing with one tap.

Our own small components-v2 component replaced streamlit-drawable-canvas (see docs/canvas.md
for why): a square canvas as wide as its column up to `max_size`, no toolbar over it, and the
strokes sent the moment the pen lifts. JavaScript and CSS are plain files read once, inlined
into the component; there is no build step.

The browser sends `{"generation": g, "strokes": "..."}`, the strokes as one short string
(points in 0..1 of the canvas side, `mnist_core.drawing.strokes.decode_strokes`). Clearing is a new `generation` from Python: the canvas empties itself when it
sees one, and a drawing still tagged with an older generation (sent just before the Clear
reached the browser) is ignored here.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import streamlit as st

from mnist_core.drawing.strokes import MAX_POINTS, decode_strokes
from ui.session import CANVAS_RESETS as _RESETS   # per canvas key: values refused so far

_LOG = logging.getLogger(__name__)

_HERE = Path(__file__).resolve().parent
_component = st.components.v2.component(
    "mnist_lab_draw_canvas",
    js=(_HERE / "canvas.js").read_text(encoding="utf-8"),
    css=(_HERE / "canvas.css").read_text(encoding="utf-8"),
)
_digit_row = st.components.v2.component(
    "mnist_lab_digit_row",
    js=(_HERE / "digit_row.js").read_text(encoding="utf-8"),
    css=(_HERE / "digit_row.css").read_text(encoding="utf-8"),
)


def draw_canvas(*, key: str, stroke_width: float, max_size: int, min_size: int = 200,
                reserve: int = 0, reserve_stacked: int | None = None,
                generation: int = 0) -> list[np.ndarray] | None:
    """Show the canvas; return the strokes of the current drawing, or None if none yet.

    `stroke_width` is a fraction of the canvas side. The canvas's side in CSS px is
    min(column width, `max_size`, max(`min_size`, screen height - `reserve`)): the height
    term keeps it (and what the page shows under it) on a short screen without scrolling. On
    a screen at most 640 px wide, where Streamlit stacks columns, `reserve_stacked` (default:
    `reserve`) replaces `reserve`, leaving room for what comes under the canvas there.

    A value our canvas never sends (a broken or hostile client) raises ValueError with the
    reason, and is forgotten: the canvas starts over under a new widget key, so Streamlit drops
    the value at the end of the run instead of keeping it, and parsing it again, in the session.
    """
    resets = st.session_state.setdefault(_RESETS, {})
    widget_key = f"{key}-{resets[key]}" if resets.get(key) else key
    try:
        return _drawing(_component(
            key=widget_key,
            data={"stroke_width": stroke_width, "max_size": max_size, "min_size": min_size,
                  "reserve": reserve, "reserve_stacked": reserve if reserve_stacked is None
                  else reserve_stacked, "generation": generation, "max_points": MAX_POINTS},
            on_drawing_change=lambda: None,   # declares the "drawing" state the canvas sets
            width="stretch", height="content"), generation)
    except (ValueError, TypeError, RecursionError) as e:   # Streamlit parses the value first
        resets[key] = resets.get(key, 0) + 1
        st.session_state.pop(widget_key, None)   # and drop it now, not only after the next run
        _LOG.warning("a canvas value was refused and forgotten: %s", str(e)[:200])
        raise ValueError(str(e)[:200] if isinstance(e, ValueError) else
                         "the drawing is not in the canvas's format") from None


def _drawing(result, generation: int) -> list[np.ndarray] | None:
    """The strokes of the component's "drawing" state; None if there is none for this
    `generation` (nothing drawn since Clear, or a drawing sent before Clear reached the
    browser)."""
    drawing = result.get("drawing") if hasattr(result, "get") else None
    if drawing is None:
        return None
    if not isinstance(drawing, dict):
        raise ValueError("the drawing is not in the canvas's format")
    if drawing.get("generation") != generation:
        return None
    return decode_strokes(drawing.get("strokes"))


def digit_row(*, key: str, highlight: int | None) -> int | None:
    """Ten buttons, 0-9, with `highlight` (the predicted digit) marked; returns the digit
    tapped in this run, else None. A press is read from the pointer events (see
    digit_row.js): a tap counts even where the browser synthesizes no click for it. The value
    comes from the browser: anything but a digit 0-9 is ignored."""
    result = _digit_row(key=key, data={"highlight": highlight}, on_save_change=lambda: None,
                        width="stretch", height="content")
    pressed = result.get("save")
    digit = pressed.get("digit") if isinstance(pressed, dict) else None
    return digit if type(digit) is int and 0 <= digit <= 9 else None
