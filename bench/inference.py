"""Server time from canvas image to prediction, and time to evaluate the 10,000 test images.

    MNIST_DATA_DIR=../shared/mnist python bench/inference.py [--n 500] [--model bundled]

"Canvas to prediction" is what the Draw page does per drawing: preprocessing (crop, scale,
centre by mass) plus one compiled model call (where it looked is apart: explain_speed.py). The
drawings are the
synthetic 280x280 RGBA canvases of `mnist_core.drawing.synthetic`; the first 20 calls warm
up.
"""
from __future__ import annotations

import time

import harness


def main() -> None:
    parser = harness.parser(__doc__)
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--model", default="bundled")
    args = parser.parse_args()
    args.test_images = None     # all 10,000
    harness.shrink(args, n=5, test_images=200)

    from mnist_core.quiet import import_tensorflow_quietly

    import_tensorflow_quietly()
    from mnist_core.data.mnist import load_mnist
    from mnist_core.drawing.inference import Predictor
    from mnist_core.drawing.preprocess import to_mnist
    from mnist_core.drawing.synthetic import drawn_digits
    from mnist_core.lab.catalog import model_file
    from mnist_core.lab.store import RunStore
    from mnist_core.model.evaluation import score
    from mnist_core.model.files import load_checked

    path, name = model_file(RunStore(), args.model, allow_path=True)
    predictor = Predictor(load_checked(path))
    drawings, _ = drawn_digits(args.n + 20, seed=7)
    for image in drawings[:20]:
        predictor.classify(image)
    timings = {"preprocess": [], "predict": [], "total": []}
    for image in drawings[20:]:
        t0 = time.perf_counter()
        prepared = to_mnist(image)
        t1 = time.perf_counter()
        predictor.classify(image)  # includes preprocessing again; timed whole below
        t2 = time.perf_counter()
        timings["preprocess"].append(t1 - t0)
        timings["total"].append(t2 - t1)
        timings["predict"].append((t2 - t1) - (t1 - t0))
        del prepared
    with harness.Report(args) as report:
        report.say(f"model {name}, {args.n} canvas drawings (280x280 RGBA)")
        for key, values in timings.items():
            ms = harness.percentiles(values, 1000)
            report.say(f"  {key:17s} p50 {ms.p50:6.2f} ms   p95 {ms.p95:6.2f} ms", step=key, ms=ms)

        data = load_mnist().limit(args.test_images)
        predictor.probabilities(data.x_test[:100])
        t0 = time.perf_counter()
        result = score(predictor.probabilities(data.x_test), data.y_test)
        seconds = time.perf_counter() - t0
        report.say(f"  evaluate {len(data.x_test):,} test images: {seconds:.2f} s "
                   f"(accuracy {100 * result.accuracy:.2f}%)", seconds=seconds,
                   accuracy=result.accuracy)


if __name__ == "__main__":
    main()
