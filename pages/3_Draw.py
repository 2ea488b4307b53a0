"""Draw: a canvas whose drawing the active model classifies as you draw."""
import streamlit as st
from streamlit_drawable_canvas import st_canvas

import app_state
from mnist_core.store import StoreError
from mnist_core import charts

app_state.setup_page()

st.title("Draw a digit")
model = app_state.active_model()
st.caption(f"Classified by: {model.label}")


def _clear() -> None:
    st.session_state["canvas_generation"] = st.session_state.get("canvas_generation", 0) + 1


@st.fragment
def draw_area() -> None:
    """Each stroke reruns only this fragment, not the page (sidebar, store look-ups)."""
    left, right = st.columns([1, 1.3], gap="large")
    with left:
        width = st.slider("Stroke width", 5, 50, 20, key="stroke_width")
        st.button("Clear", icon=":material/ink_eraser:", on_click=_clear)
        canvas = st_canvas(stroke_width=width, stroke_color="#FFFFFF", background_color="#000000",
                           height=280, width=280, drawing_mode="freedraw", update_streamlit=True,
                           return_image_data=True,
                           key=f"canvas-{st.session_state.get('canvas_generation', 0)}")
        drawing = st.session_state.get(app_state.TEST_DRAWING)
        if drawing is None and canvas is not None and canvas.json_data is not None:
            drawing = canvas.image_data
    with right:
        prediction = None if drawing is None else app_state.predictor(model.ref).classify(drawing)
        if prediction is None or prediction.digit is None:
            reason = prediction.prepared.reason if prediction is not None else None
            st.info("Draw a digit (0-9) on the black canvas: the prediction appears here."
                    + (f" ({reason})" if reason and reason != "nothing drawn" else ""),
                    icon=":material/draw:")
            return
        show_prediction(prediction)


def show_prediction(prediction) -> None:
    big, bars = st.columns([1, 3])
    big.metric("Prediction", str(prediction.digit), f"{100 * prediction.confidence:.1f}% sure",
               delta_color="off", delta_arrow="off")
    bars.plotly_chart(charts.probability_bars(prediction.probabilities), key="probabilities")
    seen, heat = st.columns(2)
    seen.image(charts.enlarge(prediction.prepared.image), caption="What the network saw (28x28)",
               width=224)
    heat.image(charts.saliency_overlay(prediction.prepared.image, prediction.saliency),
               caption="Where it looked: pixels that most changed its answer", width=224)
    if st.toggle("Show the first convolution layer's feature maps"):
        maps = app_state.predictor(model.ref).feature_maps(prediction.prepared)
        if maps is not None:
            st.image(charts.feature_grid(maps), caption=f"{maps.shape[-1]} feature maps")

    with st.form("feedback", clear_on_submit=True, border=True):
        st.write("**Was this right?** Save your drawing with its true digit: Analyze shows "
                 "how well models read the class's own handwriting.")
        label = st.segmented_control("True digit", list(range(10)), default=prediction.digit)
        if st.form_submit_button("Save drawing"):
            store = app_state.store()
            if store is None or label is None:
                st.error("Not saved: " + (app_state.store_error() or "pick the true digit."))
            else:
                try:
                    store.add_drawing(prediction.prepared.image, int(label), prediction.digit,
                                      model.ref)
                    st.toast(f"Saved as a {label}. Thank you!", icon=":material/check_circle:")
                except StoreError as e:
                    st.error(f"Not saved: {e}")


draw_area()
