"""Draw: a canvas whose drawing this browser's model classifies the moment the pen lifts.

Canvas left, prediction right, so the digit stays in view while drawing; on phones, where
Streamlit stacks columns, the prediction comes straight under the canvas, then the row of
digits that saves the drawing (one tap: the true digit), then the details (ui.prediction).
"""
import streamlit as st

from mnist_core.drawing.strokes import render_strokes, stroke_width_fraction
from ui import canvas, models, prediction, resources, session
from ui.navigation import setup_page
from ui.text import plain

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

setup_page()
if session.PROJECTOR not in st.session_state:   # ?projector=1: ready for the class screen
    st.session_state[session.PROJECTOR] = st.query_params.get("projector") == "1"


def _set_projector() -> None:
    # Kept outside the widget's key, which Streamlit forgets on other pages.
    st.session_state[session.PROJECTOR] = st.session_state[session.PROJECTOR_TOGGLE]
    session.clear_canvas()   # a new size and layout: start empty, so browser and server agree


st.sidebar.toggle("Projector mode", st.session_state[session.PROJECTOR],
                  key=session.PROJECTOR_TOGGLE, on_change=_set_projector,
                  help="A large canvas and a very large digit for the class's screen (or open "
                       "the page with ?projector=1).")
projector = st.session_state[session.PROJECTOR]
st.html(STYLE % ("10rem" if projector else "4rem"))
model = models.active_model()
whose = "the class model" if models.follows_class() else "picked in this browser"
with st.container(key="draw_title", gap="xxsmall"):
    st.title("Draw a digit")
    st.caption(f":material/neurology: Read by **{plain(model.label)}**, {whose}.")


@st.fragment
def draw_area() -> None:
    """Each stroke reruns only this fragment, not the page (sidebar, store look-ups)."""
    left, right = st.columns([1, 1] if projector else [1.2, 1], gap="medium")
    with left:
        with st.container(horizontal=True, vertical_alignment="center"):
            st.button("Clear", icon=":material/ink_eraser:", on_click=session.clear_canvas)
            with st.popover("Pen size", icon=":material/line_weight:"):
                width = stroke_width_fraction(st.slider("Stroke width", 5, 50, 20,
                                                        key=session.STROKE_WIDTH))
        try:
            strokes = canvas.draw_canvas(key=session.CANVAS, stroke_width=width,
                                         generation=session.canvas_generation(),
                                         **CANVAS[projector])
            drawing = render_strokes(strokes, width) if strokes else None
        except ValueError as e:   # never from our canvas: a broken or hostile client
            right.error(f"This drawing could not be read: {e}. Press Clear and draw again.")
            return
    with right:
        answer = None if drawing is None else resources.predictor(model.ref).classify(drawing)
        if answer is None or answer.digit is None:
            session.set_prepared_drawing(None)   # the Inside page shows no stale one
            if not prediction.just_saved():
                why = answer.prepared.reason if answer is not None else None
                st.info("Draw a digit (0-9) on the black canvas: the prediction appears here."
                        + (f" ({why})" if why and why != "nothing drawn" else ""),
                        icon=":material/draw:")
        else:
            session.set_prepared_drawing(answer.prepared)   # for the Inside page
            prediction.show(answer, model.ref)


draw_area()
