"""The Streamlit layer: everything that knows about Streamlit, between mnist_core (which never
imports it) and the pages (layout and widgets only).

navigation (pages, setup_page) · resources (what the server shares) · session (every session
key, flash messages, cookies) · models, teacher, joining (the sidebar's choices and the
teacher key) · live_run, builder, prediction, wall (the pages' larger parts) · canvas,
browser_side (our components) · patches (where Streamlit's own behaviour is changed) · text.
"""
