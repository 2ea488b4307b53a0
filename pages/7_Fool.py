"""Fool it: how little ink it takes to make the network read another digit, and a challenge
to fool it by drawing while the digit still looks the same (ui.fooling; the attack and the
challenge's rule are in mnist_core.drawing.fooling and fooling_challenge)."""
import streamlit as st

from mnist_core.drawing.fooling_challenge import INK_BUDGET
from ui import fooling, models, session
from ui.navigation import DRAW, setup_page
from ui.text import plain

WHY = """**Why does this work?** The network does not see a shape the way you do. Each of
its numbers is a sum: every pixel's brightness times a weight, added up layer after layer, and
the digit with the biggest final sum wins. Most pixels count for a little, but some count for
a lot, and the network knows exactly which. Put a few dots of ink in just those places and the
sum tips over to another digit, even though to a person the drawing hardly changed: people look
at the shape, the network adds up evidence. That is why the makers of self-driving cars (a few
stickers on a stop sign) and spam filters (a few odd words in an email) worry about it."""
# Images arrive as enlarged pixels; keep them sharp and within their column on a phone.
STYLE = """<style>.st-key-fool img {image-rendering: pixelated; height: auto}
.st-key-fool_pictures {flex-wrap: nowrap}
.st-key-fool_pictures > * {flex: 1 1 0 !important; min-width: 0 !important; max-width: 300px}
@media (max-width: 640px) {.st-key-fool [data-testid="stVerticalBlock"] {gap: 0.6rem}}
</style>"""

setup_page()
st.html(STYLE)
model = models.active_model()
st.title("Fool the network")
st.caption(f":material/neurology: Tricking **{plain(model.label)}**: a few pixels can change "
           "its mind.")
smallest, challenge = st.tabs([":material/auto_fix_high: Smallest change",
                               ":material/sports_esports: Challenge"])
with smallest, st.container(key="fool"):
    prepared = session.prepared_drawing()
    if prepared is None:
        st.info("Draw a digit on the Draw page first: this shows the fewest pixels that make "
                "the network read it as another digit.", icon=":material/draw:")
        st.page_link(DRAW, label="Draw a digit", icon=":material/draw:")
    else:
        fooling.smallest_change(prepared, model.ref)
with challenge, st.container(key="fool_challenge_area"):
    st.markdown("Draw a digit, start, then add small strokes until the network reads another "
                f"digit. The rule: keep all you drew and add at most {INK_BUDGET:.0%} more "
                "ink, so it still looks like your digit.")
    fooling.challenge(model.ref)
st.markdown(WHY)
