"""What "Watch it learn" costs: the training's record per epoch, and the Train page's views.

    python bench/learning_views.py [--n 50] [--json PATH] [--dry-run]

- `record`: one `EpochSnapshots` record (the first Conv2D's kernels and one forward pass of
  the watched digit), on a freshly built model of each preset: what each epoch pays.
- `build`: the views every watcher shares (`SharedLearningViews`): the probabilities heatmap,
  serialised as st.plotly_chart does, and the kernel pictures as PNG data: URLs, for 5 and for
  51 records (the most a run keeps). Built once per new record for all watchers.
"""
from __future__ import annotations

import time

import harness
import numpy as np


def timed(work, n: int) -> harness.Spread:
    """Milliseconds of `n` calls of `work`, after one to warm up."""
    work()
    times = []
    for _ in range(n):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return harness.percentiles(times, 1000)


def main() -> None:
    parser = harness.parser(__doc__)
    parser.add_argument("--n", type=int, default=50, help="timed repetitions")
    args = parser.parse_args()
    harness.shrink(args, n=2)
    presets = ("fast",) if args.dry_run else ("fast", "tutorial", "keras-example", "best")
    from mnist_core.quiet import import_tensorflow_quietly

    import_tensorflow_quietly()
    import plotly.io

    from mnist_core.model.build import build_model
    from mnist_core.training.callbacks import EpochSnapshots
    from mnist_core.training.presets import get_preset
    from mnist_core.training.progress import Progress
    from mnist_core.views.learning import SharedLearningViews

    with harness.Report(args) as report:
        image = np.random.default_rng(0).random((28, 28, 1), np.float32)
        for preset in presets:
            model = build_model(get_preset(preset).config.spec, "float32")
            callback = EpochSnapshots(Progress(), image, 7)
            callback.set_model(model)
            ms = timed(lambda c=callback: c.record(1), args.n)
            kernels = callback.progress.snapshot().learning[-1]["kernels"]
            report.say(f"record  {preset:14s} kernels {kernels.shape}: median {ms.p50:.2f} ms, "
                       f"max {ms.max:.2f} ms", step="record", preset=preset, ms=ms)
            rng = np.random.default_rng(1)
            for count in (5, 51):
                learning = [{"epoch": e,
                             "kernels": rng.normal(0, 0.2, kernels.shape).astype(np.float32),
                             "probabilities": rng.dirichlet(np.ones(10)).astype(np.float32)}
                            for e in range(count)]
                learning[0] |= {"image": np.zeros((28, 28), np.uint8), "label": 7}

                def build(learning=learning, count=count):
                    views = SharedLearningViews().get(object(), learning, count - 1)
                    plotly.io.to_json(views.probabilities, validate=False)

                ms = timed(build, args.n)
                report.say(f"build   {preset:14s} {count:2d} records: median {ms.p50:.2f} ms, "
                           f"max {ms.max:.2f} ms", step="build", preset=preset, records=count,
                           ms=ms)


if __name__ == "__main__":
    main()
