"""Server time of the Inside page for one drawing: every layer's output and every picture.

    MNIST_DATA_DIR=../shared/mnist python bench/inside_view.py [--n 200] [--model bundled]

Per drawing, what pages/5_Inside.py makes the server do once the drawing is prepared (the
Draw page prepared it already): the one forward pass that returns every layer's output
(`Predictor.inside`), then what the page shows, built exactly as the page builds it
(`charts.kernels_picture` and `charts.layer_figure` per layer): tile grids coloured and encoded
as PNG data: URLs, which st.image passes on untouched, and Plotly bar charts serialised to JSON
the way st.plotly_chart does (`plotly.io.to_json(fig, validate=False)`). Drawings are the
synthetic canvases of `mnist_core.drawing.synthetic`; the first `--warmup` drawings are not timed. The
one-time cost (building and tracing the forward pass, once per loaded model) is shown apart.
"""
from __future__ import annotations

import statistics
import time

import harness


def main() -> None:
    parser = harness.parser(__doc__)
    parser.add_argument("--n", type=int, default=200, help="timed drawings")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--model", default="bundled", help='"bundled" or a run id')
    args = parser.parse_args()
    harness.shrink(args, n=3, warmup=1)
    from mnist_core.quiet import import_tensorflow_quietly

    import_tensorflow_quietly()
    import plotly.io
    import plotly.tools

    from mnist_core.views import charts
    from mnist_core.drawing.inference import Predictor
    from mnist_core.model.files import load_checked
    from mnist_core.drawing.preprocess import to_mnist
    from mnist_core.lab.store import RunStore
    from mnist_core.drawing.synthetic import drawn_digits

    name = args.model   # "bundled" or a run id: the models the app itself opens
    predictor = Predictor(load_checked(RunStore().lab_model_path(name)))
    drawings, _ = drawn_digits(args.n + args.warmup, seed=7)
    prepared = [p for p in (to_mnist(d) for d in drawings) if not p.empty]

    t0 = time.perf_counter()
    view = predictor.inside(prepared[0])           # builds and traces the forward pass
    once = time.perf_counter() - t0

    timings: dict[str, list[float]] = {"forward pass (every layer)": [],
                                       "pictures (grids + PNG)": [],
                                       "bar charts (Plotly + JSON)": [], "total": []}
    sizes = []
    for i, drawing in enumerate(prepared):
        t0 = time.perf_counter()
        view = predictor.inside(drawing)
        forward = time.perf_counter() - t0
        urls = [] if view.kernels is None else [charts.kernels_picture(view.kernels.weights).url]
        pictures = time.perf_counter() - t0 - forward
        specs, bars = [], 0.0
        for layer in view.layers:
            t1 = time.perf_counter()
            shown = charts.layer_figure(layer)
            if isinstance(shown, charts.Picture):
                urls.append(shown.url)
                pictures += time.perf_counter() - t1
            elif shown is not None:   # what st.plotly_chart does with a figure
                figure = plotly.tools.return_figure_from_figure_or_data(shown, True)
                specs.append(plotly.io.to_json(figure, validate=False))
                bars += time.perf_counter() - t1
        total = time.perf_counter() - t0
        if i < args.warmup:
            continue
        for key, value in zip(timings, (forward, pictures, bars, total)):
            timings[key].append(value)
        sizes.append(sum(len(u) for u in urls) + sum(len(s) for s in specs))

    with harness.Report(args) as report:
        report.say(f"model {name}: {len(view.layers)} entries ({len(urls)} pictures incl. "
                   f"kernels, {len(specs)} bar charts), {len(timings['total'])} drawings after "
                   f"{args.warmup} warm-up; build + trace once: {1000 * once:.0f} ms; page data "
                   f"{statistics.median(sizes) / 1024:.0f} KiB", once_s=once)
        report.say()
        table = report.table("steps", ["step", "p50 (ms)", "p95 (ms)"])
        for key, values in timings.items():
            ms = harness.percentiles(values, 1000)
            table.row(key, f"{ms.p50:.1f}", f"{ms.p95:.1f}", ms=ms)


if __name__ == "__main__":
    main()
