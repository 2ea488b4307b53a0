"""The Draw page's answer to a drawing: the digit, the row of digits that saves it for the
class (one tap: the digit meant), the probabilities, what the network saw and where it looked;
and, right after a save, what was saved with an undo."""
from __future__ import annotations

import hashlib

import streamlit as st
from streamlit.errors import StreamlitAPIException

from mnist_core.drawing.attribution import (DEFAULT_METHOD, GRADIENT, METHODS, OCCLUSION,
                                            SMOOTHGRAD)
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
    where_it_looked(prediction, model_ref)
    st.page_link(navigation.INSIDE, label="Look inside the network", icon=":material/hub:",
                 help="What every layer of the network makes of this drawing")
    st.page_link(navigation.FOOL, label="Fool the network", icon=":material/theater_comedy:",
                 help="The fewest pixels that make it read this drawing as another digit")
    st.page_link(navigation.MAP, label="Place it among 70,000 digits",
                 icon=":material/scatter_plot:",
                 help="Your drawing on a map of the MNIST digits, as the network sees them")


#: On a phone Streamlit stacks columns: the drawing and its map stay side by side, to compare.
SIDE_BY_SIDE = """<style>@media (max-width: 640px) {
  .st-key-looked_images [data-testid="stHorizontalBlock"] {flex-wrap: nowrap}
  .st-key-looked_images [data-testid="stColumn"] {min-width: 0; width: auto; flex: 1 1 0}
}</style>"""

#: The choice of map, in the words of the page.
METHOD_NAMES = {OCCLUSION: "Cover it up", SMOOTHGRAD: "Smoothed gradient", GRADIENT: "Gradient"}


def a_digit(digit: int) -> str:
    """"a 7", "an 8": as it is read aloud."""
    return f"{'an' if digit == 8 else 'a'} {digit}"


def legend(method: str, digit: int) -> str:
    """What the colours mean, for a 15-year-old."""
    a = a_digit(digit)
    if method == OCCLUSION:
        return (f"We covered your drawing with a small black square, spot by spot. "
                f":orange[**Orange**]: covering this ink makes it less sure it is {a}. "
                f":blue[**Blue**]: covering this ink makes {a} more likely.")
    if method == SMOOTHGRAD:
        return (f":orange[**Orange**]: pixels where a little more or less ink changes the "
                f"chance of {a} most, averaged over many slightly noisy copies of your "
                f"drawing.")
    return (f":orange[**Orange**]: pixels where a tiny change of ink changes the chance of "
            f"{a} most. It is speckled: the network reacts to single pixels.")


def explained_digit(prediction) -> int:
    """The digit picked to explain, or the one it read; a new drawing starts with the one it
    read again (a pick is forgotten when the canvas is cleared or saved)."""
    generation = session.canvas_generation()
    if st.session_state.get(session.LOOKED_GENERATION) != generation:
        st.session_state[session.LOOKED_GENERATION] = generation
        st.session_state.pop(session.LOOKED_DIGIT, None)
    picked = st.session_state.get(session.LOOKED_DIGIT)
    return prediction.digit if picked is None else int(picked)


def looked_map(prediction, model_ref: str, method: str, digit: int):
    """The map, computed once per drawing, model, method and digit in this session: other
    reruns (a widget elsewhere, the whole page) show the one already made."""
    image = prediction.prepared.image
    wanted = (model_ref, hashlib.blake2b(image.tobytes(), digest_size=16).digest(), method,
              digit)
    shown = st.session_state.get(session.LOOKED_SHOWN)
    if shown is None or shown[0] != wanted:
        answer = resources.predictor(model_ref).explain(prediction.prepared, method, digit)
        shown = st.session_state[session.LOOKED_SHOWN] = (wanted, answer)
    return shown[1]


def where_it_looked(prediction, model_ref: str) -> None:
    """What the network saw, and where it looked for a digit, by the method picked."""
    digit = explained_digit(prediction)
    method = st.session_state.get(session.LOOKED_METHOD) or DEFAULT_METHOD
    looked = looked_map(prediction, model_ref, method, digit)
    whose = "its answer" if digit == prediction.digit else "the digit you picked"
    st.html(SIDE_BY_SIDE)
    seen, heat = st.container(key="looked_images").columns(2)   # equal, never overlapping
    seen.image(charts.enlarge(prediction.prepared.image), caption="What the network saw (28x28)",
               width="stretch", alt=f"Your drawing as the network saw it: 28x28 pixels, read "
               f"as a {prediction.digit}")
    heat.image(charts.attribution_overlay(prediction.prepared.image, looked.values,
                                          looked.signed),
               caption=f"Where it looked for {a_digit(digit)} ({whose})", width="stretch",
               alt=f"Where it looked for {a_digit(digit)}: orange over the ink that speaks "
                   f"for it" + (", blue over the ink against it" if looked.signed else ""))
    st.caption(legend(method, digit))
    with st.container(key="looked_choices"):   # stacked: ten digits wrap on a phone
        st.segmented_control("Show it by", METHODS, format_func=METHOD_NAMES.get,
                             default=DEFAULT_METHOD, key=session.LOOKED_METHOD)
        st.pills("Explain another digit", range(10), key=session.LOOKED_DIGIT,
                 help="Why not a 7? Pick a digit to see the ink that speaks for it (orange) "
                      "and against it (blue).")


def store_drawing(image, label: int, reading: int | None, model_ref: str,
                  tag: str | None = None) -> int | None:
    """Store a drawing for the class with the device's limits (one save a second per device,
    whatever its tabs; the device's share of the store): its id, or None after saying, where
    it is called, why it was not stored. Draw and Fool it save through here."""
    store, device = resources.store(), teacher.device()
    saves = resources.drawing_saves()
    if store is None:
        st.error(f"Not saved: {resources.store_error()}")
    elif not saves.allow(device):
        st.warning(f"Not saved: one drawing a second, please. Try again in "
                   f"{max(saves.retry_after(device), 0.1):.1f} s.")
    else:
        try:
            return store.add_drawing(image, int(label), reading, model_ref, device=device,
                                     tag=tag)
        except StoreError as e:
            st.error(f"Not saved: {e}")
    return None


def save(prediction, label: int, model_ref: str) -> None:
    """Store the drawing with its true digit, then clear the canvas for the next one; or say,
    right under the digits, why it was not stored."""
    drawing_id = store_drawing(prediction.prepared.image, label, prediction.digit, model_ref)
    if drawing_id is not None:
        st.session_state[session.LAST_SAVE] = session.LastSave(
            drawing_id, int(label), session.canvas_generation())
        session.clear_canvas()
        try:   # the canvas empties, the saved message shows
            st.rerun(scope="fragment")
        except StreamlitAPIException:   # the tap came with a whole-page run: rerun the page
            st.rerun()
