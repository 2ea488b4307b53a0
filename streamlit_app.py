"""Entry point, `streamlit run streamlit_app.py`, and the Home page: what the lab is, which
model is active, where to go next. Imports no TensorFlow, so the app opens at once."""
import streamlit as st

import app_state

app_state.setup_page()

st.title("MNIST CNN Lab")
st.markdown(
    "Train a convolutional neural network on MNIST's 70,000 handwritten digits and watch it "
    "learn, live. Study what it gets wrong: the confusion matrix, its most confident "
    "mistakes, how runs compare. Then draw digits yourself and see what the network sees.")

model = app_state.active_model()
left, right = st.columns(2)
left.metric("Active model", model.label)
if model.test_accuracy is not None:
    right.metric("Test accuracy (10,000 official test images)", f"{100 * model.test_accuracy:.2f}%")

job = app_state.job_registry().current
if job is not None and job.active:
    snap = job.snapshot()
    st.info(f"A '{job.config.preset}' training is running: epoch "
            f"{min(snap.epoch + 1, snap.epochs)}/{snap.epochs}.", icon=":material/model_training:")

st.page_link("pages/1_Train.py", label="Train a network", icon=":material/model_training:")
st.page_link("pages/2_Analyze.py", label="Analyze its mistakes", icon=":material/analytics:")
st.page_link("pages/3_Draw.py", label="Draw a digit", icon=":material/draw:")
