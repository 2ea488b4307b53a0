"""The Draw page's answer to a drawing: the digit, the row of digits that saves it for the
class (one tap: the digit meant), the probabilities, what the network saw and where it looked;
and, right after a save, what was saved with an undo."""
from __future__ import annotations

import streamlit as st
from streamlit.errors import StreamlitAPIException

from mnist_core.lab.db import StoreError
from mnist_core.views import charts
from ui import canvas, navigation, resources, session, teacher


def just_saved() -> bool:
    """Right after a save, on the cleared canvas: what was saved, and an undo."""
    saved = session.get(session.LAST_SAVE)
    if saved is None or saved.generation != session.canvas_generation() - 1:
        return False
    st.success(f"Saved as a {saved.label} (drawing #{saved.drawing_id}). Draw the next digit!",
               icon=":material/check_circle:")
    st.button("Undo this save", icon=":material/undo:", on_click=undo_save,
              help="Removes the drawing you just saved, if you saved it by mistake.")
    return True


def undo_save() -> None:
    """A student may take back their own last save (and nothing else): the session knows it."""
    saved = st.session_state.pop(session.LAST_SAVE, None)
    store = resources.store()
    if saved is None or store is None:
        return
    try:
        store.delete_drawing(saved.drawing_id, expected_label=saved.label)
        st.toast(f"Drawing #{saved.drawing_id} removed.", icon=":material/undo:")
    except StoreError as e:
        st.toast(f"Nothing removed: {e}.", icon=":material/info:")


def show(prediction, model_ref: str) -> None:
    """The answer for a drawing that was read as a digit."""
    with st.container(key="prediction"):
        st.metric("Prediction", str(prediction.digit), f"{100 * prediction.confidence:.1f}% sure",
                  delta_color="off", delta_arrow="off")
    # Right under the digit, where a thumb finds it: one tap saves the drawing as that digit.
    # The tap is read in the same run as the latest strokes: one that lands while the page
    # still updates after the last stroke saves the whole drawing, with the digit tapped.
    st.caption("Save it for the class: tap the digit you meant.")
    tapped = canvas.digit_row(key=session.SAVE_AS, highlight=prediction.digit)
    if tapped is not None:
        save(prediction, tapped, model_ref)
    # No plotly toolbar: nothing to zoom in ten bars, and in narrow columns it covered the axis.
    st.plotly_chart(charts.probability_bars(prediction.probabilities), key="probabilities",
                    config={"displayModeBar": False})
    seen, heat = st.columns(2)   # each image as wide as its column: equal, never overlapping
    seen.image(charts.enlarge(prediction.prepared.image), caption="What the network saw (28x28)",
               width="stretch", alt=f"Your drawing as the network saw it: 28x28 pixels, read "
               f"as a {prediction.digit}")
    heat.image(charts.saliency_overlay(prediction.prepared.image, prediction.saliency),
               caption="Where it looked: pixels that most changed its answer", width="stretch",
               alt="Where it looked: the pixels that most changed its answer, brighter")
    st.page_link(navigation.INSIDE, label="Look inside the network", icon=":material/hub:",
                 help="What every layer of the network makes of this drawing")


def save(prediction, label: int, model_ref: str) -> None:
    """Store the drawing with its true digit, then clear the canvas for the next one; or say,
    right under the digits, why it was not stored."""
    store, device = resources.store(), teacher.device()
    saves = resources.drawing_saves()   # one a second per device, whatever its tabs
    if store is None:
        st.error(f"Not saved: {resources.store_error()}")
    elif not saves.allow(device):
        st.warning(f"Not saved: one drawing a second, please. Try again in "
                   f"{max(saves.retry_after(device), 0.1):.1f} s.")
    else:
        try:
            drawing_id = store.add_drawing(prediction.prepared.image, int(label),
                                           prediction.digit, model_ref, device=device)
        except StoreError as e:
            st.error(f"Not saved: {e}")
            return
        st.session_state[session.LAST_SAVE] = session.LastSave(
            drawing_id, int(label), session.canvas_generation())
        session.clear_canvas()
        try:   # the canvas empties, the saved message shows
            st.rerun(scope="fragment")
        except StreamlitAPIException:   # the tap came with a whole-page run: rerun the page
            st.rerun()
