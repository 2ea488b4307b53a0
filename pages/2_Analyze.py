"""Analyze: where a model goes wrong, and how runs and their architectures compare."""
import pandas as pd
import streamlit as st

import app_state
from mnist_core.views import charts
from mnist_core.classroom.wall import class_accuracy
from mnist_core.data.mnist import DataError
from mnist_core.views.gallery import gallery

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
a.metric("Test accuracy", f"{result.accuracy:.2%}")
b.metric("Test loss", f"{result.loss:.4f}")
c.metric("Mistakes", f"{result.mistake_count:,} of {result.total:,}")


def show(indices) -> None:
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
        st.markdown(f"**{app_state.plain(model.label)}**")
        if model.spec is None:
            st.caption(f"Architecture unknown: {app_state.plain(model.spec_problem)}")
            return
        st.caption(f"{model.parameters:,} learned parameters")
        st.dataframe(model.layer_table(), hide_index=True)


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
        show(result.cell(true_digit, predicted))
    else:
        st.subheader("Per-class metrics")
        st.dataframe(pd.DataFrame(result.per_class_table()).set_index("digit"),
                     column_config={k: st.column_config.NumberColumn(format="%.4f")
                                    for k in ("precision", "recall", "f1")})

st.subheader("Misclassified test images")
f1, f2, f3 = st.columns(3)
anything = {"format_func": lambda d: "any" if d is None else str(d)}
true_filter = f1.selectbox("True digit", [None, *range(10)], **anything)
pred_filter = f2.selectbox("Predicted digit", [None, *range(10)], **anything)
order = f3.radio("Order", ["most confident first", "least confident first"], horizontal=True)
show(result.mistakes(true_filter, pred_filter, most_confident_first=order.startswith("most")))

st.subheader("Training curves and architectures")
with_curves = [r for r, m in choices.items() if m.history]
picked = st.multiselect("Runs to compare", with_curves,
                        default=[ref] if ref in with_curves else [],
                        format_func=lambda r: choices[r].label)
if picked:
    metric = st.radio("Metric", ["accuracy", "loss"], horizontal=True)
    # Zoom stays (the last epochs differ by tenths of a percent); the rest of Plotly's tool
    # bar goes: on a phone it covered the chart's title.
    st.plotly_chart(charts.epoch_curves({choices[r].label: choices[r].history for r in picked},
                                        metric),
                    config={"displaylogo": False, "modeBarButtonsToRemove": [
                        "pan2d", "zoomIn2d", "zoomOut2d", "autoScale2d", "toImage"]})
else:
    st.caption("Train a run on the Train page to see its curves here.")
with st.container(horizontal=True, gap="medium"):  # the model above, then the picked runs
    for shown in dict.fromkeys([ref, *picked]):
        architecture(choices[shown])

st.subheader("Your class's drawings")
store = app_state.store()
saved, accuracy = (class_accuracy(store, app_state.class_predictions(), ref,
                                  app_state.predictor(ref).probabilities)
                   if store is not None else (0, None))
if saved:  # each drawing once (the store keeps one row per image), classified once per model
    st.metric(f"Accuracy on {saved} saved drawings",
              "-" if accuracy is None else f"{accuracy:.1%}")
    st.page_link("pages/4_Class.py", label="See every drawing, digit by digit, on the Class "
                 "page", icon=":material/groups:")
else:
    st.caption("No saved drawings yet: save some from the Draw page.")

st.subheader("Kaggle submission")
upload = None
if app_state.teacher_only("Uploading a CSV"):
    upload = st.file_uploader("Kaggle test.csv (pixel0..pixel783)", type="csv")
if upload is not None and app_state.is_teacher():
    from mnist_core.model.evaluation import kaggle_submission

    try:
        with st.spinner("Checking the CSV and classifying its images..."):
            csv = kaggle_submission(app_state.predictor(ref), upload)
        st.download_button("Download submission.csv", csv, "submission.csv", "text/csv")
    except DataError as e:   # its text comes from the file: shown as typed, never as Markdown
        st.error(app_state.plain(e))
