"""The app's pages and what every page does first (`setup_page`).

Pages use Streamlit's folder convention (pages/), which makes every page URL work on its own
(reloads, shared links). Streamlit's automatic page list is switched off in
.streamlit/config.toml because it would label the home page "streamlit app"; the sidebar lists
`PAGES` instead. To add a page: a file in pages/ and a line in `PAGES` (the sidebar, the Home
page's links and the page smoke test all read it).
"""
from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from mnist_core import settings
from ui import models, patches, resources, session, teacher
from ui.browser_side import browser_side


@dataclass(frozen=True)
class Page:
    path: str     # relative to the project root, as st.page_link and AppTest want it
    label: str    # the sidebar's name for it
    icon: str
    blurb: str    # what the Home page's link to it says


PAGES = (
    Page("streamlit_app.py", "Home", ":material/home:", "What the lab is and how to join"),
    Page("pages/1_Train.py", "Train", ":material/model_training:", "Train a network"),
    Page("pages/2_Analyze.py", "Analyze", ":material/analytics:", "Analyze its mistakes"),
    Page("pages/3_Draw.py", "Draw", ":material/draw:", "Draw a digit"),
    Page("pages/4_Class.py", "Class", ":material/groups:",
         "See the class's drawings (the class wall)"),
    Page("pages/5_Inside.py", "Inside", ":material/visibility:", "Look inside the network"),
    Page("pages/6_Map.py", "Map", ":material/scatter_plot:", "Place your digit among 70,000"),
    Page("pages/7_Fool.py", "Fool it", ":material/theater_comedy:", "Fool the network"),
)
HOME = PAGES[0]   # the entry point: the Home page links to every other page
DRAW = PAGES[3].path
TRAIN = PAGES[1].path
INSIDE = PAGES[5].path
CLASS = PAGES[4].path
MAP = PAGES[6].path
FOOL = PAGES[7].path


def setup_page() -> None:
    """First call of every page: page config, Streamlit patches, navigation, the model picker
    and the teacher's unlock, and the messages left for this run."""
    st.set_page_config(page_title="MNIST CNN Lab", layout="wide",
                       page_icon=str(settings.ASSETS_DIR / "icon.png"))
    patches.apply_all()
    resources.warm_up_default_model()
    teacher.announce_link()
    teacher.use_link()
    for page in PAGES:
        st.sidebar.page_link(page.path, label=page.label, icon=page.icon)
    st.sidebar.divider()
    models.sidebar()
    teacher.sidebar()
    session.show_flashes("toast")
    st.session_state[session.SHOWN_CLASS_MODEL] = models.class_model_ref()  # drawn with this
    with st.sidebar:
        models.follow_the_class_model()
        browser_side(session.cookies_to_keep(), path=session.cookie_path())
