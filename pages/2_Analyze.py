"""Analyze: where a model goes wrong, and how runs compare."""
import numpy as np
import pandas as pd
import streamlit as st

import app_state
from mnist_core import charts
from mnist_core.class_set import class_accuracy
from mnist_core.data import DataError

app_state.setup_page()

st.title("Analyze a model")
choices = {m.ref: m for m in app_state.models()}
ref = st.selectbox("Model", list(choices), index=list(choices).index(app_state.active_model().ref),
                   format_func=lambda r: choices[r].label)
try:
    result = app_state.evaluation(ref)
    x_test = app_state.mnist().x_test
except DataError as e:
    st.error(f"The MNIST test images are needed here. {e}")
    st.stop()

a, b, c = st.columns(3)
a.metric("Test accuracy", f"{100 * result.accuracy:.2f}%")
b.metric("Test loss", f"{result.loss:.4f}")
c.metric("Mistakes", f"{int((result.predictions != result.labels).sum())} of {len(result.labels):,}")


def gallery(indices: np.ndarray, limit: int = 48) -> None:
    if len(indices) == 0:
        st.caption("No images here.")
        return
    shown = indices[:limit]
    st.image([charts.enlarge(x_test[i, :, :, 0], 3) for i in shown],
             caption=[f"true {result.labels[i]} → {result.predictions[i]} "
                      f"({100 * result.confidence[i]:.0f}%)" for i in shown])
    if len(indices) > limit:
        st.caption(f"Showing {limit} of {len(indices)}.")


matrix, detail = st.columns([1.1, 1], gap="large")
with matrix:
    st.subheader("Confusion matrix")
    normalise = st.toggle("Row-normalised (share of each true digit)")
    event = st.plotly_chart(charts.confusion_heatmap(result.confusion, normalise), key="cm",
                            on_select="rerun", selection_mode="points",
                            config={"displayModeBar": False})
    st.caption("Click a cell to see its images.")
with detail:
    points = event.selection.points if event and event.selection else []
    if points:
        true_digit, predicted = int(points[0]["y"]), int(points[0]["x"])
        st.subheader(f"True {true_digit}, predicted {predicted}")
        gallery(result.cell(true_digit, predicted))
    else:
        st.subheader("Per-class metrics")
        st.dataframe(pd.DataFrame(result.per_class_table()).set_index("digit"),
                     column_config={k: st.column_config.NumberColumn(format="%.4f")
                                    for k in ("precision", "recall", "f1")})

st.subheader("Misclassified test images")
f1, f2, f3 = st.columns(3)
true_filter = f1.selectbox("True digit", ["any", *range(10)])
pred_filter = f2.selectbox("Predicted digit", ["any", *range(10)])
order = f3.radio("Order", ["most confident first", "least confident first"], horizontal=True)
wrong = result.misclassified()
if true_filter != "any":
    wrong = wrong[result.labels[wrong] == true_filter]
if pred_filter != "any":
    wrong = wrong[result.predictions[wrong] == pred_filter]
gallery(wrong if order.startswith("most") else wrong[::-1])

st.subheader("Training curves")
runs = {r.id: r for r in app_state.finished_runs() if r.history}
picked = st.multiselect("Runs to compare", list(runs), default=[ref] if ref in runs else [],
                        format_func=lambda r: runs[r].title())
if picked:
    metric = st.radio("Metric", ["accuracy", "loss"], horizontal=True)
    st.plotly_chart(charts.epoch_curves({r: runs[r].history for r in picked}, metric))
else:
    st.caption("Train a run on the Train page to see its curves here.")

st.subheader("Your class's drawings")
store = app_state.store()
saved, accuracy = (class_accuracy(store, app_state.class_predictions(), ref,
                                  app_state.predictor(ref).probabilities)
                   if store is not None else (0, None))
if saved:  # each drawing once (the store keeps one row per image), classified once per model
    st.metric(f"Accuracy on {saved} saved drawings",
              "-" if accuracy is None else f"{100 * accuracy:.1f}%")
    st.page_link("pages/4_Class.py", label="See every drawing, digit by digit, on the Class "
                 "page", icon=":material/groups:")
else:
    st.caption("No saved drawings yet: save some from the Draw page.")

st.subheader("Kaggle submission")
upload = None
if app_state.teacher_only("Uploading a CSV"):
    upload = st.file_uploader("Kaggle test.csv (pixel0..pixel783)", type="csv")
if upload is not None and app_state.is_teacher():
    from mnist_core.evaluation import kaggle_submission

    try:
        with st.spinner("Checking the CSV and classifying its images..."):
            csv = kaggle_submission(app_state.predictor(ref), upload)
        st.download_button("Download submission.csv", csv, "submission.csv", "text/csv")
    except DataError as e:
        st.error(str(e))
