"""Inside the network: what every layer of the active model makes of the current drawing.

The drawing comes from the Draw page (it leaves its prepared 28x28 image in the session,
ui.session.prepared_drawing); mnist_core.drawing.inside computes every layer's output in one
forward pass and mnist_core.views.charts turns each into one picture or bar chart, so this
page only lays them out, in model order. ui.neuron opens one neuron: the sums behind a cell.
"""
import streamlit as st

from mnist_core.views import charts
from ui import models, neuron, resources, session
from ui.navigation import DRAW, setup_page
from ui.text import plain

# Pictures arrive at one value per pixel; the browser enlarges them, pixel-sharp, and shrinks
# them to the column on a phone.
STYLE = """<style>.st-key-inside img {image-rendering: pixelated; height: auto}
.st-key-inside [data-testid="stImageContainer"] {max-width: 100%}</style>"""

setup_page()
st.title("Inside the network")
prepared = session.prepared_drawing()
if prepared is None:
    st.info("Draw a digit on the Draw page first: this page shows what each layer of the "
            "network makes of it.", icon=":material/draw:")
    st.page_link(DRAW, label="Draw a digit", icon=":material/draw:")
    st.stop()
model = models.active_model()
predictor = resources.predictor(model.ref)
view = predictor.inside(prepared)
st.html(STYLE)
st.caption(f"{plain(model.label)}, layer by layer, for your last drawing. Black is "
           "0; in each layer white, orange and blue are its largest values (orange positive, "
           "blue negative).")
st.page_link(DRAW, label="Draw another digit", icon=":material/draw:")

with st.container(key="inside"):
    st.subheader("First-layer kernels")
    if view.kernels is None:
        st.info("This model has no convolution (Conv2D) layer, so it has no kernels to show.")
    else:
        kernels = charts.kernels_picture(view.kernels.weights)
        st.image(kernels.url, width=kernels.width, caption=view.kernels.caption,
                 alt=view.kernels.caption)
    neuron.show(view, predictor.model)
    st.subheader("Layer by layer")
    for layer in view.layers:
        st.markdown(f"**{layer.title}**")
        st.caption(layer.caption)
        shown = charts.layer_figure(layer)
        if isinstance(shown, charts.Picture):
            st.image(shown.url, width=shown.width, alt=f"{layer.title}: {layer.caption}")
        elif shown is not None:
            st.plotly_chart(shown, key=f"layer-{layer.index}", config={"displayModeBar": False})
