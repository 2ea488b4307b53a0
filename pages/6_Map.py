"""Map: the 10,000 test digits as the active model sees them, the student's last drawing as a
star among them, and its nearest training digits.

The map is computed once per model for the whole server, in the background
(mnist_core.drawing.digit_map_service, shared through ui.resources); every browser watches the
same progress. The drawing comes from the Draw page (ui.session.prepared_drawing), so drawing
again and coming back moves the star. On a phone the star and the map come first, the
explanation after them.
"""
import streamlit as st

from mnist_core.drawing.digit_map_service import READY
from ui import digit_map, models, resources, session
from ui.navigation import DRAW, setup_page
from ui.text import plain

WHAT_IT_IS = (
    "**What is this map?** Every dot is one of the 10,000 test digits the network never trained "
    "on. Just before it answers, the network turns an image into a long list of numbers; this "
    "map squashes those lists onto the screen so that digits the network finds alike land close "
    "together. The colour (and the label) says which digit it really is: dots far from their "
    "own colour are digits the network finds odd.")
HOW_THE_STAR_IS_PLACED = (
    "Your star is placed with exactly the same sum as every dot, so where it lands is where the "
    "network really puts your drawing.")

setup_page()
digit_map.page_style()
st.title("Your digit among 70,000")
model = models.active_model()
st.caption(f":material/neurology: The test digits as **{plain(model.label)}** sees them.")
try:
    state = resources.digit_map(model.ref)
except (KeyError, OSError) as e:   # the model's run or file is gone
    st.error(f"This model cannot be opened: {e}", icon=":material/error:")
    st.stop()
if state.status != READY:
    st.markdown(WHAT_IT_IS)
    digit_map.wait_for_map(model.ref)
    st.stop()

prepared = session.prepared_drawing()
placement = None
if prepared is None:
    st.info("Draw a digit on the Draw page, then come back: it appears here as a big star.",
            icon=":material/draw:")
    st.page_link(DRAW, label="Draw a digit", icon=":material/draw:")
else:
    placement = state.place(prepared)
    answer = int(resources.predictor(model.ref).probabilities(prepared.batch())[0].argmax())
    st.markdown(f":material/star: **The star is your last drawing.** The network reads it "
                f"as a **{answer}**.")
digit_map.show_map(state, placement)
st.markdown(WHAT_IT_IS + (" " + HOW_THE_STAR_IS_PLACED if placement is not None else ""))
if placement is not None:
    st.subheader("The training digits most like yours")
    st.caption("Of the 60,000 digits the network learnt from, these 8 have the lists of "
               "numbers most like your drawing's. Are they all the digit you drew?")
    digit_map.neighbours(state, placement, prepared.image)
    st.page_link(DRAW, label="Draw another digit", icon=":material/draw:")
