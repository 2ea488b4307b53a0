"""How long the Class page (the class wall) takes with a big class set.

    MNIST_DATA_DIR=../shared/mnist python bench/class_wall.py [--n 10000] [--repeat 10]

Fills a temporary lab home with `--n` saved drawings (the MNIST test images, through
`RunStore.add_drawing`: half saved with the bundled model's answer, half without, so the wall
must classify those itself), then times:

- the store's calls behind one refresh (index of ids and labels, one page of 60 tiles),
- `class_set.wall_view` cold (the prediction cache empty: every drawing read once) and warm
  (what each 2-second refresh costs once the cache knows the drawings),
- the whole Class page rendered through Streamlit's AppTest: the first renders (each reads at
  most 1,024 new drawings, so a big class set fills over a few refreshes) and later ones; a
  later full run is an upper bound for the 2-second fragment refresh (it also redraws the
  sidebar).
"""
from __future__ import annotations

import os
import tempfile
import time

import harness
from harness import ROOT


def timed(fn, repeat: int) -> harness.Spread:
    return harness.percentiles(harness.timed(fn, repeat))


def main() -> None:
    parser = harness.parser(__doc__)
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    harness.shrink(args, n=100, repeat=1)
    with tempfile.TemporaryDirectory(prefix="class-wall-bench-") as home, \
            harness.Report(args) as report:
        os.environ["MNIST_LAB_HOME"] = home
        measure(args, report)


def measure(args, report: harness.Report) -> None:

    from mnist_core.quiet import import_tensorflow_quietly

    import_tensorflow_quietly()
    from streamlit.testing.v1 import AppTest

    from mnist_core.classroom import wall as class_set

    from mnist_core import settings
    from mnist_core.data.mnist import load_mnist
    from mnist_core.drawing.inference import Predictor
    from mnist_core.model.files import load_checked
    from mnist_core.lab.store import RunStore

    data = load_mnist(allow_download=False)
    n = min(args.n, len(data.x_test))
    store = RunStore()
    predictor = Predictor(load_checked(settings.BUNDLED_MODEL))
    answers = predictor.probabilities(data.x_test[:n]).argmax(1)
    t0 = time.perf_counter()
    for i in range(n):
        known = i % 2 == 0
        store.add_drawing(data.x_test[i, :, :, 0], int(data.y_test[i]),
                          int(answers[i]) if known else None, "bundled" if known else None)
    fill = time.perf_counter() - t0
    report.say(f"{n:,} drawings saved in {fill:.1f} s ({1000 * fill / n:.2f} ms per save)",
               saved=n, seconds=fill)

    def show(name: str, spread: harness.Spread) -> None:
        ms = spread.scaled(1000)
        report.say(f"  {name:44s} median {ms.p50:7.1f} ms   max {ms.max:7.1f} ms", step=name,
                   ms=ms)

    report.say("store")
    show("drawing_index (ids + labels)", timed(store.drawing_index, args.repeat))
    show("list_drawings (one page of 60)", timed(lambda: store.list_drawings(limit=60),
                                                   args.repeat))
    show("label_counts", timed(store.label_counts, args.repeat))

    report.say("class_set.wall_view")
    cache = class_set.PredictionCache()
    t0 = time.perf_counter()
    view = class_set.wall_view(store, cache, "bundled", predictor.probabilities, budget=None)
    cold = time.perf_counter() - t0
    show(f"cold (classifies {n - (n + 1) // 2:,} drawings)", harness.percentiles([cold]))
    show("warm (each 2 s refresh)", timed(lambda: class_set.wall_view(
        store, cache, "bundled", predictor.probabilities), args.repeat))
    show("warm, wrong only", timed(lambda: class_set.wall_view(
        store, cache, "bundled", predictor.probabilities, wrong_only=True), args.repeat))
    report.say(f"  accuracy of the bundled model on the class set: {100 * view.accuracy:.2f}%",
               accuracy=view.accuracy)

    report.say("Class page through AppTest (bundled model loaded, as on a running server)")
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=300)
    at.run()                       # the Home page starts the model's background load
    from ui import resources

    resources.model_cache().warm_up_in_background("bundled").join()
    first, filling = [], True
    at.switch_page("pages/4_Class.py")
    while filling:                 # each refresh classifies at most 1,024 new drawings
        t0 = time.perf_counter()
        at.run()
        first.append(time.perf_counter() - t0)
        assert not at.exception, at.exception
        filling = any(c.value.startswith(":material/hourglass_top:") for c in at.caption)
    assert len(at.get("image")) == 60, len(at.get("image"))
    report.say(f"  first renders until every drawing is read: "
               f"{', '.join(f'{1000 * t:.0f}' for t in first)} ms", first_renders_s=first)
    show("later render (all of the page)", timed(at.run, args.repeat))
    at.toggle(key="class_wrong_only").set_value(True).run()
    show("later render, wrong only", timed(at.run, args.repeat))


if __name__ == "__main__":
    main()
