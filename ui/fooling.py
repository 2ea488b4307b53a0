"""The Fool it page's parts: the smallest change of ink that makes the model read another
digit (mnist_core.drawing.fooling), and the challenge of fooling it by drawing
(mnist_core.drawing.fooling_challenge), whose result can go on the class wall, tagged.
"""
from __future__ import annotations

import hashlib

import streamlit as st
from streamlit.errors import StreamlitAPIException

from mnist_core.drawing import fooling_challenge as rules
from mnist_core.drawing.fooling import ANY_OTHER, change_picture
from mnist_core.drawing.strokes import render_strokes, stroke_width_fraction
from mnist_core.lab.drawings import FOOLED
from mnist_core.views import charts
from ui import canvas, prediction, resources, session

#: The target picker's choices: "any" (any other digit), then the digits.
CHOICES = ["any", *range(10)]
PEN = stroke_width_fraction(20)   # the Draw page's default pen
CANVAS_SIZE = dict(max_size=420, min_size=220, reserve=330, reserve_stacked=430)


def _target(choice) -> int:
    return ANY_OTHER if choice == "any" else int(choice)


def _label(choice) -> str:
    return "any other" if choice == "any" else str(choice)


def smallest_change(prepared, model_ref: str) -> None:
    """For the last drawing: pick a digit, see the fewest pixels that make the model read it."""
    choice = st.segmented_control("Make the network read:", CHOICES, format_func=_label,
                                  default="any", required=True, key=session.FOOL_TARGET)
    target = _target(choice)
    digest = hashlib.sha256(prepared.image.tobytes()).hexdigest()
    kept = session.get(session.FOOL_RESULT)
    if kept is not None and kept[:3] == (model_ref, digest, target):
        result = kept[3]   # a rerun (a tap elsewhere) costs nothing
    else:
        with st.spinner("Looking for the smallest change..."):
            result = resources.fooler(model_ref).fool(prepared.image, target)
        st.session_state[session.FOOL_RESULT] = (model_ref, digest, target, result)
    if target == result.original_digit:
        st.info(f"It already reads your drawing as a {target}: pick another digit.",
                icon=":material/info:")
        return
    if result.fooled:
        st.success(f"Change **{result.pixels_changed} pixels** ({result.added.sum()} more ink, "
                   f"{result.erased.sum()} less) and it reads a **{result.digit}** instead of "
                   f"a {result.original_digit}. That is {result.ink_share:.0%} of your "
                   "drawing's ink.", icon=":material/theater_comedy:")
    else:
        st.warning(f"No change small enough was found to make it read "
                   f"{_label(choice)}: it still reads a {result.digit}. Try another digit.",
                   icon=":material/search_off:")
    # One row, on a phone too (columns would stack three large pictures), the change first;
    # the same size each, so that the row shares its width equally.
    with st.container(horizontal=True, gap="small", key="fool_pictures"):
        st.image(change_picture(result), width="stretch", caption="Green: add ink. Red: erase.",
                 alt=f"{result.added.sum()} pixels to add in green, {result.erased.sum()} "
                     "to erase in red")
        st.image(charts.enlarge(result.original, 10), width="stretch",
                 caption=f"Yours: read as {result.original_digit}")
        st.image(charts.enlarge(result.changed, 10), width="stretch",
                 caption=f"Changed: read as {result.digit}")
    st.plotly_chart(charts.probability_bars(result.probabilities), key="fool_probabilities",
                    config={"displayModeBar": False})


def _new_challenge() -> None:
    st.session_state.pop(session.FOOL_CHALLENGE, None)
    st.session_state.pop(session.FOOL_SAVED, None)
    st.session_state.pop(session.FOOL_CELEBRATED, None)
    st.session_state[session.FOOL_GENERATION] = session.get(session.FOOL_GENERATION, 0) + 1


@st.fragment
def challenge(model_ref: str) -> None:
    """Draw a digit, start, then add strokes until the model is fooled within the rule."""
    # Canvas left, where the challenge stands right, as on the Draw page; on a phone, where the
    # columns stack, the status comes under the canvas, so that the canvas never moves when
    # the status changes as the pen lifts (a next stroke would land elsewhere).
    left, status = st.columns([1.2, 1], gap="medium")
    buttons = left.container(horizontal=True)
    start_slot = buttons.container(width="content")
    buttons.button("Clear", icon=":material/ink_eraser:", on_click=_new_challenge,
                   help="Empty the canvas and start a new challenge")
    with left:
        try:
            strokes = canvas.draw_canvas(key=session.FOOL_CANVAS, stroke_width=PEN,
                                         generation=session.get(session.FOOL_GENERATION, 0),
                                         **CANVAS_SIZE)
            drawing = render_strokes(strokes, PEN) if strokes else None
        except ValueError as e:   # never from our canvas: a broken or hostile client
            status.error(f"This drawing could not be read: {e}. Press Clear and draw "
                         "again.")
            return
    answer = None if drawing is None else resources.predictor(model_ref).classify(drawing)
    reading = None if answer is None else answer.digit
    ink = None if drawing is None else rules.ink(render_strokes(strokes, PEN, rules.INK_SIDE))
    started = session.get(session.FOOL_CHALLENGE)
    with status:
        if started is None:
            _before_start(reading, ink, start_slot)
        else:
            _during(started, rules.progress(started, ink, reading), answer, model_ref)


def _before_start(reading, ink, start_slot) -> None:
    st.markdown("**Draw a digit on the canvas.**" if reading is None else
                f"The network reads your drawing as a **{reading}**.")
    goal = st.segmented_control("Fool it into reading:", CHOICES, format_func=_label,
                                default="any", required=True,
                                key=session.FOOL_CHALLENGE_TARGET)
    if start_slot.button("Start", icon=":material/flag:", type="primary",
                         disabled=reading is None, help="Start the challenge with this drawing"):
        if _target(goal) == reading:
            st.warning(f"It already reads a {reading}: pick another digit.")
            return
        st.session_state[session.FOOL_CHALLENGE] = rules.start(ink, reading, _target(goal))
        _rerun()


def _during(started, progress, answer, model_ref: str) -> None:
    st.markdown(f"Make your **{started.digit}** read as **{started.goal()}**.")
    st.progress(progress.budget_used, text=f"Extra ink: {progress.added:.0%} of "
                f"{rules.INK_BUDGET:.0%} allowed")
    reading = "–" if progress.reading is None else progress.reading
    st.markdown(f"#### The network reads: {reading}")
    if not progress.original_kept:
        st.warning("Your original digit is gone: press Clear and start over.")
    elif not progress.within_budget:
        st.warning("Too much ink: it would no longer look like your digit. Clear and try "
                   "with smaller strokes.")
    elif progress.fooled:
        if not session.get(session.FOOL_CELEBRATED):   # once a challenge, not every stroke
            st.session_state[session.FOOL_CELEBRATED] = True
            st.balloons()
        st.success(f"You fooled it! It reads a {progress.reading}, but it still looks like "
                   f"your {started.digit}.", icon=":material/celebration:")
        saved = session.get(session.FOOL_SAVED)
        if saved is not None:
            st.caption(f"Saved on the class wall as drawing #{saved}, tagged fooled.")
        elif st.button("Save it to the class wall", icon=":material/groups:"):
            save(answer.prepared.image, started.digit, progress.reading, model_ref)
    else:
        st.caption("Add a small stroke where you think it tips the network's sum.")


def save(image, digit: int, reading: int, model_ref: str) -> None:
    """Save a fooled drawing, labelled with the digit it shows, read as `reading`, tagged
    fooled; with the Draw page's limits (one save a second per device, the device's share)."""
    drawing_id = prediction.store_drawing(image, digit, int(reading), model_ref, tag=FOOLED)
    if drawing_id is not None:
        st.session_state[session.FOOL_SAVED] = drawing_id
        _rerun()


def _rerun() -> None:
    try:
        st.rerun(scope="fragment")
    except StreamlitAPIException:   # the press came with a whole-page run: rerun the page
        st.rerun()
