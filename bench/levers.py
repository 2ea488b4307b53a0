"""Speed levers for CPU training, measured rather than assumed.

    MNIST_DATA_DIR=../shared/mnist python bench/levers.py [--preset fast] [--epochs 1]

Trains the preset's model for `--epochs` on the same 54,000 images with the same tf.data
pipeline under each setting, and prints the wall time (compilation included) and the test
accuracy reached. Settings: our default (precision auto), float32, XLA (`jit_compile=True`),
`steps_per_execution=8`, batch 256, and a cached tf.data pipeline.
"""
from __future__ import annotations

import time

import harness

SETTINGS = {
    "default (auto precision)": {},
    "float32": {"precision": "float32"},
    "XLA jit_compile": {"jit_compile": True},
    "steps_per_execution=8": {"steps_per_execution": 8},
    "batch 256": {"batch_size": 256},
    "tf.data cache()": {"cache": True},
}


def run(preset: str, epochs: int, dataset, precision="auto", batch_size=None, cache=False,
        **compile_kwargs) -> tuple[float, float]:
    import keras

    from mnist_core.training import loop as training
    from mnist_core.data.dataset import split_validation
    from mnist_core.model.evaluation import evaluate
    from mnist_core.model.build import build_model, resolve_precision
    from mnist_core.training.presets import get_preset

    p = get_preset(preset).config
    batch = batch_size or p.batch_size
    x_tr, y_tr, _, _ = split_validation(dataset.x_train, dataset.y_train, 0.1, 0)
    keras.utils.set_random_seed(0)
    started = time.monotonic()
    model = build_model(p.spec, resolve_precision(precision))
    steps = -(-len(x_tr) // batch) * epochs
    rate = training.learning_rate(p.schedule, p.learning_rate, steps)
    model.compile(optimizer=keras.optimizers.Adam(rate), metrics=["accuracy"],
                  loss=keras.losses.SparseCategoricalCrossentropy(), **compile_kwargs)
    ds = training.dataset_pipeline(x_tr, y_tr, batch, shuffle_seed=0)
    if cache:
        ds = ds.cache()
    model.fit(ds, epochs=epochs, verbose=0, shuffle=False)
    seconds = time.monotonic() - started
    return seconds, evaluate(model, dataset.x_test, dataset.y_test).accuracy


def main() -> None:
    parser = harness.parser(__doc__)
    parser.add_argument("--preset", default="fast")
    parser.add_argument("--epochs", type=int, default=1)
    args = parser.parse_args()
    args.limit = None       # all of MNIST
    harness.shrink(args, epochs=1, limit=1000)
    from mnist_core.quiet import import_tensorflow_quietly

    import_tensorflow_quietly()
    from mnist_core.data.mnist import load_mnist

    dataset = load_mnist().limit(args.limit)
    run(args.preset, 1, dataset.limit(2000))  # warm-up: first-call costs are not a lever
    with harness.Report(args) as report:
        table = report.table("levers", [f"{args.preset}, {args.epochs} epoch(s)", "seconds",
                                        "test accuracy"])
        for name, kwargs in SETTINGS.items():
            seconds, accuracy = run(args.preset, args.epochs, dataset, **kwargs)
            table.row(name, f"{seconds:.1f}", f"{100 * accuracy:.2f}%", seconds=seconds,
                      test_accuracy=accuracy)


if __name__ == "__main__":
    main()
