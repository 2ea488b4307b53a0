"""The Map page's parts: the progress every browser watches while a map is computed, the map
with the student's drawing as a star, and its nearest training digits as pictures.

The numbers come from mnist_core.drawing.digit_map; this module only draws them. The chart is
WebGL (10,000 points stay smooth on a phone) and does not pan or zoom: on a touch screen a
drag then scrolls the page instead of getting stuck in the chart; a tap shows a dot's digit.
"""
from __future__ import annotations

import html

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from mnist_core.drawing.digit_map import Placement
from mnist_core.drawing.digit_map_service import COMPUTING, FAILED, READY, MapState
from mnist_core.views import charts
from ui import resources, session

#: Paul Tol's "muted" scheme (nine colours made to stay apart for colour-blind eyes) plus dark
#: grey; every digit's label is also written on the map, so no one needs the colours.
COLOURS = ("#332288", "#CC6677", "#117733", "#DDCC77", "#88CCEE", "#AA4499", "#44AA99",
           "#999933", "#882255", "#555555")
STAR = "#FFC20A"
POLL_SECONDS = 1.0
STYLE = """<style>
@media (max-width: 640px) {[data-testid="stMainBlockContainer"] h1 {font-size: 1.6rem}}
.map-neighbours {display: grid; grid-template-columns: repeat(auto-fill, minmax(84px, 1fr));
  gap: 0.6rem; margin: 0}
.map-neighbours figure {margin: 0; text-align: center}
.map-neighbours img {width: 100%; max-width: 112px; image-rendering: pixelated;
  border-radius: 4px}
.map-neighbours figcaption {font-size: 1rem; line-height: 1.3}
.map-neighbours .yours img {outline: 4px solid #FFC20A}
</style>"""


def progress(state: MapState) -> None:
    """The computation's progress (or why it failed), the same in every watching browser."""
    if state.status == FAILED:
        st.error(f"The map could not be made: {state.error}", icon=":material/error:")
    elif state.status == COMPUTING and state.total:
        st.progress(state.fraction, text=f"The network is looking at all {state.total:,} "
                    f"digits: {state.done:,} done. This happens once for this model.")
    else:
        st.progress(0.0, text="Getting ready to draw the map (the network and the digits are "
                              "loading, or another model's map is being made first)...")


@st.fragment(run_every=POLL_SECONDS)
def wait_for_map(ref: str) -> None:
    """Polls the shared computation; the whole page redraws once the map is ready."""
    with st.container(key=session.MAP_PROGRESS):
        state = resources.digit_map(ref)
        if state.status == READY:
            st.rerun()
        progress(state)


def map_figure(state: MapState, placement: Placement | None) -> go.Figure:
    """The test digits coloured by what they really are, a label on each digit's middle, and
    the drawing as a big star on top."""
    m = state.digit_map
    fig = go.Figure()
    for digit in range(10):
        xy = m.positions[m.test_labels == digit]
        fig.add_trace(go.Scattergl(
            x=xy[:, 0], y=xy[:, 1], mode="markers", name=str(digit),
            marker=dict(size=4, color=COLOURS[digit], opacity=0.55),
            hovertemplate=f"a {digit}<extra></extra>"))
    for digit, (x, y) in m.digit_centres().items():
        fig.add_annotation(x=float(x), y=float(y), text=f"<b>{digit}</b>", showarrow=False,
                           font=dict(size=24, color="#000000"), opacity=0.85)
    if placement is not None:
        fig.add_trace(go.Scattergl(
            x=[float(placement.xy[0])], y=[float(placement.xy[1])], mode="markers",
            name="yours", hovertemplate="your drawing<extra></extra>",
            marker=dict(symbol="star", size=34, color=STAR, line=dict(width=2, color="#000"))))
    star = None if placement is None else placement.xy
    (x0, x1), (y0, y1) = view_range(m.positions, star)
    axis = dict(showticklabels=False, showgrid=False, zeroline=False, fixedrange=True, title=None)
    fig.update_layout(height=520, margin=dict(l=4, r=4, t=30, b=4), dragmode=False,
                      plot_bgcolor="white", xaxis=axis | dict(range=[x0, x1]),
                      yaxis=axis | dict(range=[y0, y1]),
                      legend=dict(orientation="h", y=1.0, yanchor="bottom", x=0,
                                  itemsizing="constant", font=dict(size=15)),
                      hoverlabel=dict(font_size=18))
    return fig


def view_range(positions: np.ndarray, star: np.ndarray | None, keep: float = 99.0):
    """The map's ((x0, x1), (y0, y1)): the middle `keep`% of the dots on each axis, with a
    margin, and always the star. A few far-off oddballs would otherwise shrink every digit's
    cloud to a blot on a phone."""
    cut = (100 - keep) / 2
    lo, hi = np.percentile(positions, [cut, 100 - cut], axis=0)
    if star is not None:
        lo, hi = np.minimum(lo, star), np.maximum(hi, star)
    pad = (hi - lo) * 0.06 + 1e-6
    return tuple((float(a), float(b)) for a, b in zip(lo - pad, hi + pad))


def show_map(state: MapState, placement: Placement | None) -> None:
    st.plotly_chart(map_figure(state, placement), key=session.MAP_CHART,
                    config={"displayModeBar": False, "scrollZoom": False})


def _tile(image: np.ndarray, caption: str, css_class: str = "") -> str:
    pixels = np.asarray(image, np.float32).reshape(28, 28)
    if pixels.max() > 1.0:        # uint8 MNIST
        pixels = pixels / 255.0
    url = charts.png_data_url((np.clip(pixels, 0, 1) * 254 + 0.5).astype(np.uint8),
                              charts.GREY_PALETTE)
    text = html.escape(caption)
    return (f'<figure class="{css_class}"><img src="{url}" alt="{text}">'
            f"<figcaption>{text}</figcaption></figure>")


def neighbours(state: MapState, placement: Placement, drawing: np.ndarray) -> None:
    """The drawing, then its nearest training digits with their labels, in a grid that fills
    a laptop's row and wraps on a phone."""
    tiles = [_tile(drawing, "yours", "yours")]
    for index in placement.neighbours:   # (their similarity reads 99-100% for most: left out)
        label = int(state.digit_map.train_labels[index])
        tiles.append(_tile(state.train_images[index], f"a {label}"))
    st.html('<div class="map-neighbours">' + "".join(tiles) + "</div>")


def page_style() -> None:
    st.html(STYLE)
