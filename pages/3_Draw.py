"""Draw: a canvas whose drawing this browser's model classifies the moment the pen lifts.

Canvas left, prediction right, so the digit stays in view while drawing; on phones, where
Streamlit stacks columns, the prediction comes straight under the canvas, then the row of
digits that saves the drawing (one tap: the true digit), then the details. A save clears the
canvas for the next digit and says what was saved, with an undo.
"""
import streamlit as st
from streamlit.errors import StreamlitAPIException

import app_state
from draw_canvas import digit_row, draw_canvas
from mnist_core.views import charts
from mnist_core.drawing.inside import DRAWING_STATE_KEY
from mnist_core.lab.store import StoreError
from mnist_core.drawing.strokes import render_strokes, stroke_width_fraction

PROJECTOR, GENERATION = "projector_mode", "canvas_generation"
LAST_SAVE = "last_saved_drawing"   # (drawing id, label, canvas generation it was drawn in)
# Canvas sizes (px); `reserve`: screen height kept for what is above it and, on phones, the
# digit and the row that saves it below it, so that drawing and saving need no scrolling. The
# metric's own 2.25rem digit is small at arm's length and tiny on a projector.
CANVAS = {False: dict(max_size=440, min_size=220, reserve=350, reserve_stacked=340),
          True: dict(max_size=640, min_size=480, reserve=350)}
STYLE = """<style>[data-testid="stMainBlockContainer"] {padding-top: 3.5rem}
.st-key-draw_title h1 {font-size: 2rem; padding: 0 0 0.25rem}
.st-key-prediction [data-testid="stMetricValue"] {font-size: %s; line-height: 1.1}
@media (max-width: 640px) {
  [data-testid="stMainBlockContainer"] {padding-top: 3rem}
  [data-testid="stMainBlockContainer"] [data-testid="stVerticalBlock"] {gap: 0.6rem}
  .st-key-draw_title h1 {font-size: 1.5rem}
  .st-key-prediction [data-testid="stMetric"] > div {display: flex; flex-wrap: wrap;
    align-items: center; column-gap: 0.75rem}
  .st-key-prediction [data-testid="stMetricValue"] {font-size: 3rem}
}</style>"""

app_state.setup_page()
if PROJECTOR not in st.session_state:   # ?projector=1 opens the page ready for the class screen
    st.session_state[PROJECTOR] = st.query_params.get("projector") == "1"


def _clear() -> None:
    st.session_state[GENERATION] = st.session_state.get(GENERATION, 0) + 1
    st.session_state.pop(app_state.TEST_DRAWING, None)   # what stands in for the canvas too


def _set_projector() -> None:
    # Kept outside the widget's key, which Streamlit forgets on other pages.
    st.session_state[PROJECTOR] = st.session_state["projector_toggle"]
    _clear()   # a new size and layout: start empty, so browser and server never disagree


st.sidebar.toggle("Projector mode", st.session_state[PROJECTOR], key="projector_toggle",
                  on_change=_set_projector, help="A large canvas and a very large digit for "
                  "the class's screen (or open the page with ?projector=1).")
projector = st.session_state[PROJECTOR]
st.html(STYLE % ("10rem" if projector else "4rem"))
model = app_state.active_model()
whose = ("the class model" if app_state.model_pick() == app_state.FOLLOW_CLASS
         else "picked in this browser")
with st.container(key="draw_title", gap="xxsmall"):
    st.title("Draw a digit")
    st.caption(f":material/neurology: Read by **{app_state.plain(model.label)}**, {whose}.")


@st.fragment
def draw_area() -> None:
    """Each stroke reruns only this fragment, not the page (sidebar, store look-ups)."""
    left, right = st.columns([1, 1] if projector else [1.2, 1], gap="medium")
    with left:
        with st.container(horizontal=True, vertical_alignment="center"):
            st.button("Clear", icon=":material/ink_eraser:", on_click=_clear)
            with st.popover("Pen size", icon=":material/line_weight:"):
                width = stroke_width_fraction(st.slider("Stroke width", 5, 50, 20,
                                                        key="stroke_width"))
        try:
            strokes, refused = draw_canvas(key="canvas", stroke_width=width,
                                           **CANVAS[projector],
                                           generation=st.session_state.get(GENERATION, 0)), None
        except ValueError as e:   # never from our canvas: a broken or hostile client
            strokes, refused = None, e
    with right:
        drawing = st.session_state.get(app_state.TEST_DRAWING)
        try:
            if refused is not None:
                raise refused
            if drawing is None and strokes:
                drawing = render_strokes(strokes, width)
        except ValueError as e:
            st.error(f"This drawing could not be read: {e}. Press Clear and draw again.")
            return
        prediction = None if drawing is None else app_state.predictor(model.ref).classify(drawing)
        if prediction is None or prediction.digit is None:
            st.session_state.pop(DRAWING_STATE_KEY, None)   # the Inside page shows no stale one
            if not just_saved():
                reason = prediction.prepared.reason if prediction is not None else None
                st.info("Draw a digit (0-9) on the black canvas: the prediction appears here."
                        + (f" ({reason})" if reason and reason != "nothing drawn" else ""),
                        icon=":material/draw:")
        else:
            st.session_state[DRAWING_STATE_KEY] = prediction.prepared   # for the Inside page
            show_prediction(prediction)


def just_saved() -> bool:
    """Right after a save, on the cleared canvas: what was saved, and an undo."""
    saved = st.session_state.get(LAST_SAVE)
    if saved is None or saved[2] != st.session_state.get(GENERATION, 0) - 1:
        return False
    drawing_id, label, _ = saved
    st.success(f"Saved as a {label} (drawing #{drawing_id}). Draw the next digit!",
               icon=":material/check_circle:")
    st.button("Undo this save", icon=":material/undo:", on_click=undo_save,
              help="Removes the drawing you just saved, if you saved it by mistake.")
    return True


def undo_save() -> None:
    """A student may take back their own last save (and nothing else): the session knows it."""
    saved = st.session_state.pop(LAST_SAVE, None)
    store = app_state.store()
    if saved is None or store is None:
        return
    try:
        store.delete_drawing(saved[0], expected_label=saved[1])
        st.toast(f"Drawing #{saved[0]} removed.", icon=":material/undo:")
    except StoreError as e:
        st.toast(f"Nothing removed: {e}.", icon=":material/info:")


def show_prediction(prediction) -> None:
    with st.container(key="prediction"):
        st.metric("Prediction", str(prediction.digit), f"{100 * prediction.confidence:.1f}% sure",
                  delta_color="off", delta_arrow="off")
    # Right under the digit, where a thumb finds it: one tap saves the drawing as that digit.
    # The tap is read in the same run as the latest strokes: one that lands while the page
    # still updates after the last stroke saves the whole drawing, with the digit tapped.
    st.caption("Save it for the class: tap the digit you meant.")
    tapped = digit_row(key="save_as", highlight=prediction.digit)
    if tapped is not None:
        save(prediction, tapped)
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
    st.page_link("pages/5_Inside.py", label="Look inside the network", icon=":material/hub:",
                 help="What every layer of the network makes of this drawing")


def save(prediction, label: int) -> None:
    """Store the drawing with its true digit, then clear the canvas for the next one; or say,
    right under the digits, why it was not stored."""
    store, device = app_state.store(), app_state.device()
    saves = app_state.drawing_saves()   # one a second per device, whatever its tabs
    if store is None:
        st.error(f"Not saved: {app_state.store_error()}")
    elif not saves.allow(device):
        st.warning(f"Not saved: one drawing a second, please. Try again in "
                   f"{max(saves.retry_after(device), 0.1):.1f} s.")
    else:
        try:
            drawing_id = store.add_drawing(prediction.prepared.image, int(label),
                                           prediction.digit, model.ref, device=device)
        except StoreError as e:
            st.error(f"Not saved: {e}")
            return
        generation = st.session_state.get(GENERATION, 0)
        st.session_state[LAST_SAVE] = (drawing_id, int(label), generation)
        _clear()
        try:   # the canvas empties, the saved message shows
            st.rerun(scope="fragment")
        except StreamlitAPIException:   # the tap came with a whole-page run: rerun the page
            st.rerun()


draw_area()
