"""Train presets with their default hyperparameters on full MNIST and print a table.

    MNIST_DATA_DIR=../shared/mnist python bench/presets.py tutorial keras-example fast

Prints, per preset: test accuracy on the official 10,000 test images, wall-clock training time
(the `train()` call: pipeline, epochs, validation; not TensorFlow's import or data loading),
seconds per epoch, images per second, cores busy ((user + sys CPU time) / wall during the
call) and parameter count. `--precision float32` stands in for a CPU without native bfloat16.
Nothing else should run meanwhile.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mnist_core.quiet import import_tensorflow_quietly  # noqa: E402


def cpu_model() -> str:
    """"AMD EPYC, avx512_bf16" / "..., AVX2 only": what decides the precision and the speed."""
    try:
        info = open("/proc/cpuinfo").read()
    except OSError:
        return "unknown CPU"
    name = next((line.split(":", 1)[1].strip() for line in info.splitlines()
                 if line.startswith("model name")), "unknown CPU")
    flags = ("avx512_bf16" if "avx512_bf16" in info else
             "AVX-512, no bf16" if "avx512f" in info else "AVX2 only" if "avx2" in info else
             "no AVX2")
    return f"{name}, {flags}"


def usable_cpus() -> int:
    """The CPUs this process may run on: `taskset -c 0,1` makes a 16-core machine stand in for a
    2-core laptop, and TensorFlow sizes its thread pools to that set, not to `os.cpu_count()`."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def result_row(name: str, config, result, images: int, **extra) -> dict:
    """One preset's figures as a JSON-able row (here and in bench/presets_on_jax.py): `images`
    is the training set before the validation split; `extra` says where it ran."""
    from mnist_core.model.build import parameter_count

    per_epoch = result.seconds / config.epochs
    return {"preset": name, "test_accuracy": result.test_accuracy, "seconds": result.seconds,
            "seconds_per_epoch": per_epoch,
            "images_per_second": images * (1 - config.validation_fraction) / per_epoch,
            "epochs": config.epochs, "parameters": parameter_count(result.model),
            "epoch_seconds": [h["seconds"] for h in result.history]} | extra


def append_json(path: str | None, row: dict) -> None:
    if path:
        with open(path, "a") as f:
            f.write(json.dumps(row) + "\n")


def main() -> None:
    from mnist_core.training.presets import PRESETS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("presets", nargs="*", default=list(PRESETS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--precision", default="auto", choices=["auto", "float32",
                                                                 "mixed_bfloat16"])
    parser.add_argument("--json", metavar="FILE", help="also append results as JSON lines here")
    args = parser.parse_args()

    import_tensorflow_quietly()
    import tensorflow as tf

    from mnist_core.data.mnist import load_mnist
    from mnist_core.model.build import resolve_precision
    from mnist_core.training.config import TrainConfig
    from mnist_core.training.loop import train

    dataset = load_mnist()
    device = "GPU" if tf.config.list_physical_devices("GPU") else f"CPU x{usable_cpus()}"
    print(f"# {time.strftime('%Y-%m-%d %H:%M')} {platform.node()} {device} ({cpu_model()}) "
          f"precision={resolve_precision(args.precision)} tf={tf.__version__}")
    print("| preset | test accuracy | training time (s) | s/epoch | images/s | cores busy | "
          "epochs | parameters |")
    print("|---|---|---|---|---|---|---|---|")
    for name in args.presets:
        config = TrainConfig.from_preset(name, seed=args.seed, precision=args.precision)
        cpu = os.times()
        result = train(config, dataset)
        used = os.times()
        busy = (used.user + used.system - cpu.user - cpu.system) / result.seconds
        row = result_row(name, config, result, len(dataset.x_train), device=device,
                         cores_busy=busy, precision=args.precision)
        print(f"| {name} | {100 * result.test_accuracy:.2f}% | {result.seconds:.1f} | "
              f"{row['seconds_per_epoch']:.1f} | {row['images_per_second']:.0f} | {busy:.2f} | "
              f"{config.epochs} | {row['parameters']:,} |", flush=True)
        append_json(args.json, row)


if __name__ == "__main__":
    main()
