"""How long a digit map takes to compute once per model, and to place one drawing on it.

    MNIST_DATA_DIR=../shared/mnist python bench/digit_map.py [--n 300] [--model bundled] [--tsne]

"Compute" is what the Map page's background thread does the first time a model is asked for
(mnist_core.drawing.digit_map_service): the last-hidden-layer features of the 60,000 training
and 10,000 test images, the 2-D projection, and writing the map file; then reading that file
back, as a restarted server does. "Place" is what every view of the page with a drawing costs:
the drawing's features (one pass), its 8 nearest training digits and its map position.
Drawings are the synthetic 280x280 canvases of mnist_core.drawing.synthetic, prepared as the
Draw page prepares them; the first 10 warm up. The projection comparison fits each method on
the same test features: time, and the share of each point's 10 nearest map neighbours that are
the same digit (`--tsne` adds openTSNE's t-SNE, where openTSNE is installed).
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

import harness


def main() -> None:
    parser = harness.parser(__doc__)
    parser.add_argument("--n", type=int, default=300, help="drawings to place")
    parser.add_argument("--model", default="bundled")
    parser.add_argument("--tsne", action="store_true", help="also time openTSNE's t-SNE")
    args = parser.parse_args()
    args.limit = None
    harness.shrink(args, n=5, limit=300)

    from mnist_core.quiet import import_tensorflow_quietly

    import_tensorflow_quietly()
    import numpy as np

    from mnist_core.data.dataset import compact
    from mnist_core.data.mnist import load_mnist
    from mnist_core.drawing import digit_map as dm
    from mnist_core.drawing.digit_map_cache import load_map, model_key, save_map
    from mnist_core.drawing.digit_map_features import HiddenFeatures
    from mnist_core.drawing.preprocess import to_mnist
    from mnist_core.drawing.synthetic import drawn_digits
    from mnist_core.lab.catalog import model_file
    from mnist_core.lab.store import RunStore
    from mnist_core.model.files import load_checked

    path, name = model_file(RunStore(), args.model, allow_path=True)
    data = compact(load_mnist(allow_download=False).limit(args.limit))
    model = load_checked(path)
    folder = Path(tempfile.mkdtemp(prefix="mnist-map-"))
    with harness.Report(args) as report:
        cpu = harness.cpu()
        report.say(f"model {name}; {len(data.x_train):,} training and {len(data.x_test):,} "
                   f"test images; {cpu.summary()}, {cpu.usable} CPUs")
        steps = report.table("compute", ["step", "seconds"])
        t0 = time.perf_counter()
        key = model_key(path)
        features = HiddenFeatures(model)
        t1 = time.perf_counter()
        train = features.of_many(data.x_train)
        t2 = time.perf_counter()
        test = features.of_many(data.x_test)
        t3 = time.perf_counter()
        digit_map = dm.build_map(key, train, data.y_train, test, data.y_test)
        t4 = time.perf_counter()
        save_map(digit_map, folder)
        t5 = time.perf_counter()
        load_map(key, digit_map.train_labels, digit_map.test_labels, folder)
        t6 = time.perf_counter()
        for step, seconds in [("hash the model file, build and trace the pass", t1 - t0),
                              (f"features of {len(train):,} training images", t2 - t1),
                              (f"features of {len(test):,} test images", t3 - t2),
                              ("projection (LDA)", t4 - t3), ("write the map file", t5 - t4),
                              ("total: a map computed once", t5 - t0),
                              ("read it back (a restarted server)", t6 - t5)]:
            steps.row(step, f"{seconds:.2f}", seconds=seconds)
        report.say(f"features {features.hidden_width} wide (kept: {features.width}); map file "
                   f"{sum(p.stat().st_size for p in folder.iterdir()) / 1e6:.1f} MB")

        drawings, _ = drawn_digits(args.n + 10, seed=11)
        prepared = [to_mnist(d) for d in drawings]
        place = lambda p: digit_map.place(features(p.batch())[0])  # noqa: E731
        for p in prepared[:10]:
            place(p)
        times = {"features of the drawing": [], "nearest 8 and position": [], "total": []}
        for p in prepared[10:]:
            a = time.perf_counter()
            f = features(p.batch())[0]
            b = time.perf_counter()
            digit_map.place(f)
            c = time.perf_counter()
            for k, v in zip(times, (b - a, c - b, c - a)):
                times[k].append(v)
        for key_, values in times.items():
            ms = harness.percentiles(values, 1000)
            report.say(f"place: {key_:25s} p50 {ms.p50:6.2f} ms  p95 {ms.p95:6.2f} ms",
                       step=key_, ms=ms)

        methods = report.table("projection", ["method", "seconds", "10-NN same digit"])
        y = np.asarray(data.y_test)
        # PCA and t-SNE see no labels; LDA learns from the training digits' labels and is
        # scored, like the others, on the test digits it never saw
        candidates = {"PCA (numpy)": lambda: _pca(test), "LDA (numpy, ours)":
                      lambda: dm.fit_projection(train, data.y_train)(test)}
        if args.tsne:
            candidates["t-SNE (openTSNE, 2 threads)"] = lambda: _tsne(test)
        for method, fit in candidates.items():
            a = time.perf_counter()
            xy = fit()
            seconds = time.perf_counter() - a
            agree = dm.neighbour_agreement(xy, y, sample=None)
            methods.row(method, f"{seconds:.2f}", f"{agree:.1%}", seconds=seconds, agree=agree)


def _pca(x):
    import numpy as np

    centred = x - x.mean(axis=0)
    return centred @ np.linalg.svd(centred, full_matrices=False)[2][:2].T


def _tsne(x):
    try:
        from openTSNE import TSNE
    except ImportError:
        raise SystemExit("--tsne needs openTSNE: pip install openTSNE") from None
    import numpy as np

    return np.asarray(TSNE(n_jobs=2, random_state=0, metric="cosine", verbose=False).fit(x))


if __name__ == "__main__":
    main()
