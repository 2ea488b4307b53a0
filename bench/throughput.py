"""Training throughput: our `train()` path (live metrics, stop checks, best-weight tracking)
against a plain `model.fit` of the same model on the same tf.data pipeline, interleaved.

    MNIST_DATA_DIR=../shared/mnist python bench/throughput.py [--preset fast] [--rounds 3]

Both sides train the same number of epochs on the same 54,000 images with the same
validation split, and both then score the 10,000 test images, so the only difference is what
`train()` adds. Rounds alternate (ours, plain, ours, plain, ...) so that drift in the machine's
speed hits both; the medians are compared. Also prints each preset's training images/s next to
Keras' official example model.
"""
from __future__ import annotations

import statistics
import time

import harness


def plain_fit_seconds(config, dataset) -> float:
    """What a tutorial does: build, compile, model.fit, evaluate. Same model, data, schedule."""
    import keras

    from mnist_core.training import loop as training
    from mnist_core.data.dataset import split_validation
    from mnist_core.model.evaluation import evaluate
    from mnist_core.model.build import build_model, resolve_precision

    started = time.monotonic()
    x_tr, y_tr, x_val, y_val = split_validation(dataset.x_train, dataset.y_train,
                                                config.validation_fraction, config.seed)
    keras.utils.set_random_seed(config.seed)
    model = build_model(config.spec, resolve_precision(config.precision))
    steps = -(-len(x_tr) // config.batch_size) * config.epochs
    rate = training.learning_rate(config.schedule, config.learning_rate, steps)
    model.compile(optimizer=keras.optimizers.Adam(rate),
                  loss=keras.losses.SparseCategoricalCrossentropy(), metrics=["accuracy"])
    train_ds = training.dataset_pipeline(x_tr, y_tr, config.batch_size, shuffle_seed=config.seed)
    val_ds = training.dataset_pipeline(x_val, y_val, 1000, shuffle_seed=None)
    model.fit(train_ds, epochs=config.epochs, validation_data=val_ds, verbose=0, shuffle=False)
    evaluate(model, dataset.x_test, dataset.y_test)
    return time.monotonic() - started


def main() -> None:
    parser = harness.parser(__doc__)
    parser.add_argument("--preset", default="fast")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    from mnist_core.training.presets import PRESETS, preset_config

    args.limit, args.each_preset = None, list(PRESETS)       # all of MNIST, every preset
    harness.shrink(args, epochs=1, rounds=1, limit=1000, each_preset=[args.preset])
    from mnist_core.quiet import import_tensorflow_quietly

    import_tensorflow_quietly()
    from mnist_core.data.mnist import load_mnist
    from mnist_core.training.loop import train
    from mnist_core.training.progress import Progress

    dataset = load_mnist().limit(args.limit)
    config = preset_config(args.preset, epochs=args.epochs, augment=False)
    images = len(dataset.x_train) * (1 - config.validation_fraction) * config.epochs
    train(preset_config(args.preset, epochs=1, limit=2000), dataset)  # warm-up
    ours, plain = [], []
    with harness.Report(args) as report:
        for r in range(args.rounds):
            ours.append(train(config, dataset, Progress()).seconds)
            plain.append(plain_fit_seconds(config, dataset))
            report.say(f"round {r + 1}: ours {ours[-1]:.1f} s, plain model.fit {plain[-1]:.1f} s",
                       round=r + 1, ours_s=ours[-1], plain_s=plain[-1])
        o, p = statistics.median(ours), statistics.median(plain)
        report.say(f"{args.preset}, {config.epochs} epochs, batch {config.batch_size}: ours "
                   f"{images / o:,.0f} img/s, plain fit {images / p:,.0f} img/s, "
                   f"throughput ratio ours/plain = {p / o:.3f}", ratio=p / o)

        report.say()
        report.say(f"images/s per preset (one epoch of {len(dataset.x_train) * 0.9:,.0f} images, "
                   "no augmentation):")
        for name in args.each_preset:
            c = preset_config(name, epochs=1, augment=False)
            seconds = train(c, dataset).seconds
            speed = len(dataset.x_train) * 0.9 / seconds
            report.say(f"  {name:14s} {speed:8,.0f}", preset=name, images_per_s=speed)


if __name__ == "__main__":
    main()
