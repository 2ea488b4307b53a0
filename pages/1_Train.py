"""Train: build an architecture (from a preset or a past run), start it in the background,
watch it live from any browser."""
import streamlit as st

from ui import builder, live_run, models, resources, session, teacher
from ui.navigation import setup_page

setup_page()
st.title("Train a network")
registry = resources.job_registry()
if teacher.is_teacher():   # whoever may press Start: TensorFlow and MNIST load meanwhile
    resources.prepare_training()
flashed = session.show_flashes("page")
live_run.watching()
# The interval is set when the page runs whole, e.g. as a run starts.
REFRESH = live_run.refresh_seconds()
LIVE = registry.current is not None and registry.current.active


@st.fragment(run_every=REFRESH if LIVE else None)
def live_view() -> None:
    live_run.show(registry.current, REFRESH)


@st.fragment(run_every=None if LIVE else 1.0)
def watch_for_a_new_run(live: bool) -> None:
    """Any session may start a run: switch this page to the live view within a second.

    Every full run calls it, before the st.stop() below: a script that ends in st.stop()
    keeps the fragments it did not call, and a tick already on its way when the page switched
    to the live view then redrew this one at its old place, past the end of the shorter page
    ("Bad delta path index 3", a blank page)."""
    live_run.watching()
    if not live and registry.current is not None and registry.current.active:
        st.rerun()


watch_for_a_new_run(LIVE)
if registry.current is not None:
    if LIVE and session.get(session.START_PRESSED) and not flashed:
        # This browser pressed Start while another session's run began: say so, by name.
        st.warning(f"Your run was not started: {registry.current.describe()} is already "
                   "running.", icon=":material/info:")
    live_view()
    if registry.current.active:
        st.stop()
    st.divider()
elif (last := models.last_run()) is not None and last.status == "interrupted":
    live_run.interrupted(last)

st.subheader("New run")
editor = builder.editor()
builder.start_picker(editor)
draft = builder.layers(editor)
estimate = builder.summary(draft)
builder.settings(editor)
builder.data_and_start(editor, live_run.start)
builder.estimate(estimate, editor, draft)
