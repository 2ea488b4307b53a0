"""The Analyze page's (pages/2_Analyze.py) larger parts: galleries of test images, a model's
architecture card, the class's drawings as a score, and the Kaggle submission."""
from __future__ import annotations

import streamlit as st

from mnist_core.classroom.wall import class_accuracy
from mnist_core.data.dataset import DataError
from mnist_core.views.gallery import gallery
from ui import navigation, resources, teacher
from ui.text import plain


def show_images(result, x_test, indices) -> None:
    """The images at these test indices, as many as a page can carry."""
    pictures = gallery(result, x_test, indices)
    if not pictures.images:
        st.caption("No images here.")
        return
    st.image(pictures.images, caption=pictures.captions, alt=pictures.captions)
    if pictures.note:
        st.caption(pictures.note)


def architecture(model) -> None:
    """One model's layers, in a card narrow enough to set two or three side by side."""
    with st.container(width=380, border=True):
        st.markdown(f"**{plain(model.label)}**")
        if model.spec is None:
            st.caption(f"Architecture unknown: {plain(model.spec_problem)}")
            return
        st.caption(f"{model.parameters:,} learned parameters")
        st.dataframe(model.layer_table(), hide_index=True)


def class_drawings(ref: str) -> None:
    """How the model reads the class's saved drawings, each classified once per model."""
    st.subheader("Your class's drawings")
    store = resources.store()
    saved, accuracy = (class_accuracy(store, resources.class_predictions(), ref,
                                      resources.predictor(ref).probabilities)
                       if store is not None else (0, None))
    if saved:  # each drawing once (the store keeps one row per image), once per model
        st.metric(f"Accuracy on {saved} saved drawings",
                  "-" if accuracy is None else f"{accuracy:.1%}")
        st.page_link(navigation.CLASS, label="See every drawing, digit by digit, on the Class "
                     "page", icon=":material/groups:")
    else:
        st.caption("No saved drawings yet: save some from the Draw page.")


def kaggle_submission(ref: str) -> None:
    """Kaggle's test.csv in, submission.csv out (teacher only: an upload costs the server)."""
    st.subheader("Kaggle submission")
    upload = None
    if teacher.teacher_only("Uploading a CSV"):
        upload = st.file_uploader("Kaggle test.csv (pixel0..pixel783)", type="csv")
    if upload is not None and teacher.is_teacher():
        from mnist_core.model.evaluation import kaggle_submission

        try:
            with st.spinner("Checking the CSV and classifying its images..."):
                csv = kaggle_submission(resources.predictor(ref), upload)
            st.download_button("Download submission.csv", csv, "submission.csv", "text/csv")
        except DataError as e:   # its text comes from the file: shown as typed, not Markdown
            st.error(plain(e))
