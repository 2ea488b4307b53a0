"""The presets' training times on a GPU machine that has Keras' JAX backend but no TensorFlow.

    KERAS_BACKEND=jax MNIST_DATA_DIR=../shared/mnist python bench/presets_on_jax.py fast best

Why this exists: the GPU machines lent to this project carry JAX built for CUDA 13 and no
TensorFlow, and TensorFlow's CUDA 12 build (a 0.6 GB wheel plus about 2 GB of CUDA 12
libraries) cannot be carried there. So the presets run through the lab's own loop,
`training.train` (same configs, same models, same split, optimizer, schedule, callbacks and
test evaluation), with the input pipeline swapped: tf.data there becomes a
`keras.utils.PyDataset` over the same in-memory arrays (shuffled each epoch), and the same
augmentation layers run inside the jitted training step rather than in the pipeline. Times
are the `train()` call, as in bench/presets.py. A teacher with an NVIDIA GPU and
`tensorflow[and-cuda]` runs the real thing instead: `python bench/presets.py`.

Measured once (H100, 2026-11-26, docs/benchmarks.md): about 12 ms a step, slower than a
2-vCPU CPU, so not yet a fair GPU figure; the first and later epochs are printed apart to
find out where that time goes.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def array_pipeline(x, y, batch_size: int, *, shuffle_seed: int | None, augmenter=None,
                   one_hot=False):
    """What `training._pipeline` builds with tf.data, as a PyDataset: same batches, a fresh
    shuffle every epoch; `augmenter` (None here: see `augment_inside_the_model`) per batch."""
    import keras

    class ArrayBatches(keras.utils.PyDataset):
        def __init__(self):
            super().__init__()
            self.rng = np.random.default_rng(shuffle_seed)
            self.order = np.arange(len(x))
            self.on_epoch_end()

        def __len__(self) -> int:
            return math.ceil(len(x) / batch_size)

        def __getitem__(self, i: int):
            rows = self.order[i * batch_size:(i + 1) * batch_size]
            images, labels = x[rows], y[rows]
            if augmenter is not None:
                images = np.asarray(augmenter(images, training=True))
            if one_hot:
                labels = np.eye(10, dtype="float32")[labels]
            return images, labels

        def on_epoch_end(self) -> None:
            if shuffle_seed is not None:
                self.rng.shuffle(self.order)

    return ArrayBatches()


def augment_inside_the_model(current: dict) -> None:
    """Run the preset's augmentation layers inside the jitted training step, on the GPU, as a
    first layer of the trained model (inactive when not training), instead of per batch on the
    host: called eagerly per batch on JAX, the three layers cost about 70 ms a batch (lesson:
    34 s an epoch). The saved float32 model is the network alone, as in the lab."""
    import keras

    from mnist_core import models, training

    build, to_float32, make_augmenter = models.build_model, training.as_float32, training._augmenter

    def build_model(spec, precision):
        net = build(spec, precision)
        config = current.pop("config", None)
        if config is None or not config.augment:
            return net
        return keras.Sequential([make_augmenter(config.augmentation, config.seed), net])

    def as_float32(model, spec, precision):
        net = model.layers[-1] if model.layers[0].name == "augmentation" else model
        return to_float32(net, spec, precision)

    models.build_model, training.as_float32 = build_model, as_float32
    training._augmenter = lambda aug, seed: None


def main() -> None:
    import keras

    from mnist_core import training
    from mnist_core.config import TrainConfig
    from mnist_core.data import load_mnist
    from mnist_core.models import parameter_count
    from mnist_core.presets import PRESETS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("presets", nargs="*", default=list(PRESETS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--precision", default="mixed_bfloat16",
                        choices=["float32", "mixed_bfloat16"])
    parser.add_argument("--limit", type=int, help="train on this many images (a quick check)")
    parser.add_argument("--json", metavar="FILE", help="also append results as JSON lines here")
    args = parser.parse_args()

    import jax

    training._pipeline = array_pipeline
    current: dict = {}
    augment_inside_the_model(current)
    dataset = load_mnist()
    device = str(jax.devices()[0].device_kind)
    print(f"# {time.strftime('%Y-%m-%d %H:%M')} {device}, keras {keras.__version__} on "
          f"{keras.backend.backend()} {jax.__version__}, precision={args.precision}")
    print("| preset | test accuracy | training time (s) | s/epoch | first epoch (s) | "
          "later epochs (s) | epochs | parameters |")
    print("|---|---|---|---|---|---|---|---|")
    for name in args.presets:
        config = TrainConfig.from_preset(name, seed=args.seed, precision=args.precision,
                                         limit=args.limit)
        current["config"] = config
        result = training.train(config, dataset)
        per_epoch = result.seconds / config.epochs
        images = args.limit or len(dataset.x_train)
        images_per_s = images * (1 - config.validation_fraction) / per_epoch
        row = {"preset": name, "test_accuracy": result.test_accuracy, "seconds": result.seconds,
               "seconds_per_epoch": per_epoch, "images_per_second": images_per_s,
               "epochs": config.epochs, "parameters": parameter_count(result.model),
               "device": device, "precision": args.precision, "backend": "jax",
               "epoch_seconds": [h["seconds"] for h in result.history]}
        later = row["epoch_seconds"][1:] or [float("nan")]
        print(f"| {name} | {100 * result.test_accuracy:.2f}% | {result.seconds:.1f} | "
              f"{per_epoch:.1f} | {row['epoch_seconds'][0]:.1f} | {np.median(later):.1f} | "
              f"{config.epochs} | {row['parameters']:,} |", flush=True)
        if args.json:
            with open(args.json, "a") as f:
                f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    if os.environ.get("KERAS_BACKEND") != "jax":
        sys.exit("Set KERAS_BACKEND=jax (this script is for machines without TensorFlow).")
    main()
