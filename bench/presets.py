"""Train presets with their default hyperparameters on full MNIST and print a table.

    MNIST_DATA_DIR=../shared/mnist python bench/presets.py tutorial keras-example fast

Prints, per preset: test accuracy on the official 10,000 test images, wall-clock training time
(the `train()` call: pipeline, epochs, validation; not TensorFlow's import or data loading),
seconds per epoch, images per second, cores busy ((user + sys CPU time) / wall during the
call) and parameter count. `--precision float32` stands in for a CPU without native bfloat16.
Nothing else should run meanwhile.
"""
from __future__ import annotations

import os
import platform
import time

import harness


def main() -> None:
    from mnist_core.training.presets import DEFAULT_PRESET, PRESETS

    parser = harness.parser(__doc__)
    parser.add_argument("presets", nargs="*", default=None,
                        help=f"default: all ({', '.join(PRESETS)})")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--precision", default="auto", choices=["auto", "float32",
                                                                 "mixed_bfloat16"])
    args = parser.parse_args()
    args.epochs, args.limit = None, None     # the presets' own, all of MNIST
    harness.shrink(args, epochs=1, limit=1000, presets=args.presets or [DEFAULT_PRESET])
    args.presets = args.presets or list(PRESETS)

    from mnist_core.quiet import import_tensorflow_quietly

    import_tensorflow_quietly()
    import tensorflow as tf

    from mnist_core.data.mnist import load_mnist
    from mnist_core.model.build import resolve_precision
    from mnist_core.training.loop import train
    from mnist_core.training.presets import preset_config

    dataset = load_mnist()
    device = "GPU" if tf.config.list_physical_devices("GPU") else f"CPU x{harness.usable_cpus()}"
    with harness.Report(args) as report:
        report.say(f"# {time.strftime('%Y-%m-%d %H:%M')} {platform.node()} {device} "
                   f"({harness.cpu().summary()}) precision={resolve_precision(args.precision)} "
                   f"tf={tf.__version__}")
        table = report.table("presets", [
            "preset", "test accuracy", "training time (s)", "s/epoch", "images/s", "cores busy",
            "epochs", "parameters"])
        for name in args.presets:
            config = preset_config(name, seed=args.seed, precision=args.precision,
                                   epochs=args.epochs, limit=args.limit)
            cpu = os.times()
            result = train(config, dataset)
            used = os.times()
            busy = (used.user + used.system - cpu.user - cpu.system) / result.seconds
            images = min(len(dataset.x_train), config.limit or len(dataset.x_train))
            row = harness.train_row(name, config, result, images, device=device,
                                    cores_busy=busy, precision=args.precision)
            table.row(name, f"{100 * result.test_accuracy:.2f}%", f"{result.seconds:.1f}",
                      f"{row['seconds_per_epoch']:.1f}", f"{row['images_per_second']:.0f}",
                      f"{busy:.2f}", config.epochs, f"{row['parameters']:,}", **row)


if __name__ == "__main__":
    main()
