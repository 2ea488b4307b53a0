"""Entry point: `streamlit run streamlit_app.py`. Declares the pages and the shared sidebar."""
import streamlit as st

import app_state
from mnist_core import settings

st.set_page_config(page_title="MNIST CNN Lab", page_icon=str(settings.ASSETS_DIR / "icon.png"), layout="wide")

pages = [
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
    st.Page("pages/analyze.py", title="Analyze", icon=":material/analytics:"),
    st.Page("pages/draw.py", title="Draw", icon=":material/draw:"),
]
page = st.navigation(pages)
app_state.model_sidebar()
page.run()
