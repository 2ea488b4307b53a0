"""Analyze: where a model goes wrong, and how runs and their architectures compare."""
import pandas as pd
import streamlit as st

from mnist_core.data.dataset import DataError
from mnist_core.views import charts
from ui import analysis, models, resources
from ui.navigation import setup_page

setup_page()

st.title("Analyze a model")
choices = {m.ref: m for m in models.models()}
ref = st.selectbox("Model", list(choices), index=list(choices).index(models.active_model().ref),
                   format_func=lambda r: choices[r].label)
try:
    result = resources.evaluation(ref)
    x_test = resources.mnist().x_test
except DataError as e:
    st.error(f"The MNIST test images are needed here. {e}")
    st.stop()

a, b, c = st.columns(3)
a.metric("Test accuracy", f"{result.accuracy:.2%}")
b.metric("Test loss", f"{result.loss:.4f}")
c.metric("Mistakes", f"{result.mistake_count:,} of {result.total:,}")


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
        analysis.show_images(result, x_test, result.cell(true_digit, predicted))
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
analysis.show_images(result, x_test, result.mistakes(true_filter, pred_filter, most_confident_first=order.startswith("most")))

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
        analysis.architecture(choices[shown])

analysis.class_drawings(ref)
analysis.kaggle_submission(ref)
