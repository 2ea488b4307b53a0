"""The Draw page's components: a drawing canvas that works alike with mouse, finger and pen,
and the row of digits that saves a drawing with one tap.

Our own small components-v2 component replaced streamlit-drawable-canvas (see docs/canvas.md
for why): a square canvas as wide as its column up to `max_size`, no toolbar over it, and the
strokes sent the moment the pen lifts. JavaScript and CSS are plain files read once, inlined
into the component; there is no build step.

The browser sends `{"generation": g, "strokes": [[[x, y], ...], ...]}` with points in 0..1 of
the canvas side. Clearing is a new `generation` from Python: the canvas empties itself when it
sees one, and a drawing still tagged with an older generation (sent just before the Clear
reached the browser) is ignored here.
"""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from mnist_core.strokes import MAX_POINTS

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
                generation: int = 0) -> object:
    """Show the canvas; return the raw strokes of the current drawing, or None if none yet.

    `stroke_width` is a fraction of the canvas side. The canvas's side in CSS px is
    min(column width, `max_size`, max(`min_size`, screen height - `reserve`)): the height
    term keeps it (and what the page shows under it) on a short screen without scrolling. On
    a screen at most 640 px wide, where Streamlit stacks columns, `reserve_stacked` (default:
    `reserve`) replaces `reserve`, leaving room for what comes under the canvas there.
    The strokes come straight from the browser: validate them (mnist_core.strokes) before use.
    """
    result = _component(
        key=key,
        data={"stroke_width": stroke_width, "max_size": max_size, "min_size": min_size,
              "reserve": reserve, "reserve_stacked": reserve if reserve_stacked is None
              else reserve_stacked, "generation": generation, "max_points": MAX_POINTS},
        on_drawing_change=lambda: None,   # declares the "drawing" state the canvas sets
        width="stretch", height="content")
    drawing = result.get("drawing")
    if not isinstance(drawing, dict) or drawing.get("generation") != generation:
        return None
    return drawing.get("strokes")


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
