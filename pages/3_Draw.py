"""Draw: a canvas whose drawing the active model classifies the moment the pen lifts.

Canvas left, prediction right, so the digit stays in view while drawing; on phones, where
Streamlit stacks columns, the prediction comes straight under the canvas and the details after.
"""
import streamlit as st

import app_state
from draw_canvas import draw_canvas
from mnist_core import charts
from mnist_core.inside import DRAWING_STATE_KEY
from mnist_core.ratelimit import RateLimiter
from mnist_core.store import StoreError
from mnist_core.strokes import render_strokes, stroke_width_fraction

PROJECTOR, GENERATION, SAVE_LIMIT = "projector_mode", "canvas_generation", "drawing_save_limit"
# Canvas sizes (px); `reserve`: screen height kept for the header above it and, on phones, the
# digit below it. A compact header leaves the height to the canvas; the metric's own 2.25rem
# digit is small at arm's length and tiny on a projector.
CANVAS = {False: dict(max_size=440, min_size=220, reserve=350),
          True: dict(max_size=640, min_size=480, reserve=350)}
STYLE = """<style>[data-testid="stMainBlockContainer"] {padding-top: 3.5rem}
.st-key-draw_title h1 {font-size: 2rem; padding: 0 0 0.25rem}
.st-key-prediction [data-testid="stMetricValue"] {font-size: %s; line-height: 1.1}</style>"""

app_state.setup_page()
if PROJECTOR not in st.session_state:   # ?projector=1 opens the page ready for the class screen
    st.session_state[PROJECTOR] = st.query_params.get("projector") == "1"


def _clear() -> None:
    st.session_state[GENERATION] = st.session_state.get(GENERATION, 0) + 1


def _set_projector() -> None:
    # Kept outside the widget's key, which Streamlit forgets on other pages.
    st.session_state[PROJECTOR] = st.session_state["projector_toggle"]
    _clear()   # a new size and layout: start empty, so browser and server never disagree


st.sidebar.toggle("Projector mode", st.session_state[PROJECTOR], key="projector_toggle",
                  on_change=_set_projector, help="A large canvas and a very large digit for "
                  "the class's screen (or open the page with ?projector=1).")
projector = st.session_state[PROJECTOR]
st.html(STYLE % ("10rem" if projector else "4rem"))
with st.container(key="draw_title"):
    st.title("Draw a digit")
model = app_state.active_model()


@st.fragment
def draw_area() -> None:
    """Each stroke reruns only this fragment, not the page (sidebar, store look-ups)."""
    left, right = st.columns([1, 1] if projector else [1.2, 1], gap="medium")
    with left:
        with st.container(horizontal=True, vertical_alignment="bottom"):
            width = stroke_width_fraction(st.slider("Stroke width", 5, 50, 20, key="stroke_width"))
            st.button("Clear", icon=":material/ink_eraser:", on_click=_clear)
        strokes = draw_canvas(key="canvas", stroke_width=width, **CANVAS[projector],
                              generation=st.session_state.get(GENERATION, 0))
    with right:
        drawing = st.session_state.get(app_state.TEST_DRAWING)
        try:
            if drawing is None and strokes:
                drawing = render_strokes(strokes, width)
        except ValueError as e:   # never from our canvas: a broken or hostile client
            st.error(f"This drawing could not be read: {e}")
            return
        prediction = None if drawing is None else app_state.predictor(model.ref).classify(drawing)
        if prediction is None or prediction.digit is None:
            st.session_state.pop(DRAWING_STATE_KEY, None)   # the Inside page shows no stale one
            reason = prediction.prepared.reason if prediction is not None else None
            st.info("Draw a digit (0-9) on the black canvas: the prediction appears here."
                    + (f" ({reason})" if reason and reason != "nothing drawn" else ""),
                    icon=":material/draw:")
        else:
            st.session_state[DRAWING_STATE_KEY] = prediction.prepared   # for the Inside page
            show_prediction(prediction)


def show_prediction(prediction) -> None:
    with st.container(key="prediction"):
        st.metric("Prediction", str(prediction.digit), f"{100 * prediction.confidence:.1f}% sure",
                  delta_color="off", delta_arrow="off")
    st.caption(f"Classified by: {model.label}")
    # No plotly toolbar: nothing to zoom in ten bars, and in narrow columns it covered the axis.
    st.plotly_chart(charts.probability_bars(prediction.probabilities), key="probabilities",
                    config={"displayModeBar": False})
    seen, heat = st.columns(2)   # each image as wide as its column: equal, never overlapping
    seen.image(charts.enlarge(prediction.prepared.image), caption="What the network saw (28x28)",
               width="stretch")
    heat.image(charts.saliency_overlay(prediction.prepared.image, prediction.saliency),
               caption="Where it looked: pixels that most changed its answer", width="stretch")
    st.page_link("pages/5_Inside.py", label="Look inside the network", icon=":material/hub:",
                 help="What every layer of the network makes of this drawing")
    with st.form("feedback", clear_on_submit=True, border=True):
        st.write("**Was this right?** Save your drawing with its true digit: Analyze shows "
                 "how well models read the class's own handwriting.")
        label = st.segmented_control("True digit", list(range(10)), default=prediction.digit)
        if st.form_submit_button("Save drawing"):
            save(prediction, label)


def save(prediction, label) -> None:
    store = app_state.store()
    # At most one save a second per browser: a double click, or a student hammering Save.
    limit = st.session_state.setdefault(SAVE_LIMIT, RateLimiter(1, 1.0))
    if store is None or label is None:
        st.error("Not saved: " + (app_state.store_error() or "pick the true digit."))
    elif not limit.allow():
        st.warning(f"Not saved: one drawing a second, please. Try again in "
                   f"{max(limit.retry_after(), 0.1):.1f} s.")
    else:
        try:
            store.add_drawing(prediction.prepared.image, int(label), prediction.digit, model.ref)
            st.toast(f"Saved as a {label}. Thank you!", icon=":material/check_circle:")
        except StoreError as e:
            st.error(f"Not saved: {e}")


draw_area()
