"""Server time from canvas image to prediction, and time to evaluate the 10,000 test images.

    MNIST_DATA_DIR=../shared/mnist python bench/inference.py [--n 500] [--model bundled]

"Canvas to prediction" is what the Draw page does per drawing: preprocessing (crop, scale,
centre by mass) plus one compiled model call with the saliency gradient. Drawings are the
synthetic 280x280 RGBA canvases of `mnist_core.drawing.synthetic`; the first 20 calls warm up.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mnist_core.quiet import import_tensorflow_quietly  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--model", default="bundled")
    args = parser.parse_args()
    import_tensorflow_quietly()
    from mnist_core.data.mnist import load_mnist
    from mnist_core.model.evaluation import score
    from mnist_core.drawing.inference import Predictor
    from mnist_core.model.files import load_checked
    from mnist_core.drawing.preprocess import to_mnist
    from mnist_core.lab.catalog import model_file
    from mnist_core.lab.store import RunStore
    from mnist_core.drawing.synthetic import drawn_digits

    path, name = model_file(RunStore(), args.model, allow_path=True)
    predictor = Predictor(load_checked(path))
    drawings, _ = drawn_digits(args.n + 20, seed=7)
    for image in drawings[:20]:
        predictor.classify(image)
    timings = {"preprocess": [], "predict+saliency": [], "total": []}
    for image in drawings[20:]:
        t0 = time.perf_counter()
        prepared = to_mnist(image)
        t1 = time.perf_counter()
        predictor.classify(image)  # includes preprocessing again; timed whole below
        t2 = time.perf_counter()
        timings["preprocess"].append(t1 - t0)
        timings["total"].append(t2 - t1)
        timings["predict+saliency"].append((t2 - t1) - (t1 - t0))
        del prepared
    print(f"model {name}, {args.n} canvas drawings (280x280 RGBA)")
    for key, values in timings.items():
        ms = np.array(values) * 1000
        print(f"  {key:17s} p50 {np.percentile(ms, 50):6.2f} ms   p95 {np.percentile(ms, 95):6.2f} ms")

    data = load_mnist()
    predictor.probabilities(data.x_test[:100])
    t0 = time.perf_counter()
    result = score(predictor.probabilities(data.x_test), data.y_test)
    print(f"  evaluate 10,000 test images: {time.perf_counter() - t0:.2f} s "
          f"(accuracy {100 * result.accuracy:.2f}%)")


if __name__ == "__main__":
    main()
