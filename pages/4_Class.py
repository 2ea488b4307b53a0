"""Class: the class wall, every saved drawing live, as the active model reads it (ui.wall)."""
import streamlit as st

from ui import models, resources, teacher, wall
from ui.navigation import setup_page
from ui.text import plain

setup_page()
st.title("The class's drawings")
store = resources.store()
if store is None:
    st.error(f"Saved drawings cannot be shown: {resources.store_error()}")
    st.stop()
model = models.active_model()
st.caption(f"Drawings saved on the Draw page appear here within 2 seconds, as "
           f"{plain(model.label)} reads them.")
can_edit = teacher.teacher_only("Relabelling or deleting drawings")
if teacher.teacher_only("Teaching the model") and st.button(
        "Teach the model our handwriting", icon=":material/school:",
        help=f"Fine-tunes {model.label} on the saved drawings (a quarter of each digit's kept "
             "aside to measure it) mixed with MNIST images, a few epochs, live on the Train "
             "page; the result is a new model you can make the class model."):
    wall.teach(store, model)
# Tiles arrive as 28x28 PNGs (mnist_core.classroom.wall.tile_url); the browser enlarges them,
# pixel-sharp.
st.html("<style>.st-key-class-tiles img {image-rendering: pixelated}</style>")
wall.wall(store, model, can_edit)
