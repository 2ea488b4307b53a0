"""The presets' training times on a GPU machine that has Keras' JAX backend but no TensorFlow.

    KERAS_BACKEND=jax MNIST_DATA_DIR=../shared/mnist python bench/presets_on_jax.py fast best

Why this exists: the GPU machines lent to this project carry JAX built for CUDA 13 and no
TensorFlow, and TensorFlow's CUDA 12 build (a 0.6 GB wheel plus about 2 GB of CUDA 12
libraries) cannot be carried there. So the presets run through the lab's own loop,
`training.train` (same configs, same models, same split, optimizer, schedule, callbacks and
test evaluation), with the input pipeline swapped: tf.data there becomes a
`keras.utils.PyDataset` over the same in-memory arrays (shuffled each epoch), and the same
augmentation layers run per batch as one jitted function. Times are the `train()` call, as
in bench/presets.py. A teacher with an NVIDIA GPU and `tensorflow[and-cuda]` runs the real
thing instead: `python bench/presets.py`.

Measured on an H100 (docs/benchmarks.md): most of each run is XLA compiling in the first
epoch, so the first and later epochs are printed apart.
"""
from __future__ import annotations

import importlib.util
import math
import os
import sys
import time

import numpy as np

import harness


def array_pipeline(x, y, batch_size: int, *, shuffle_seed: int | None, jitter=None,
                   one_hot=False):
    """What `training.dataset_pipeline` builds with tf.data, as a PyDataset: same batches, a fresh
    shuffle every epoch; `jitter` (a `JittedAugmenter`) per batch."""
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
            if jitter is not None:
                images = jitter(images)
            if one_hot:
                labels = np.eye(10, dtype="float32")[labels]
            return images, labels

        def on_epoch_end(self) -> None:
            if shuffle_seed is not None:
                self.rng.shuffle(self.order)

    return ArrayBatches()


class JittedAugmenter:
    """The lab's augmentation (`mnist_core.training.augment`: one affine resampling per image, the same
    transforms) as one jitted JAX function on the default device, called per batch with a
    fresh key. Called eagerly op by op, Keras' augmentation layers cost about 70 ms a batch on
    the GPU machine (`lesson` 34 s an epoch); inside the jitted training step, XLA took minutes
    to compile them."""

    def __init__(self, aug, seed: int) -> None:
        import jax
        import jax.numpy as jnp
        from keras import ops

        from mnist_core.training.augment import transforms

        self.key, self.calls = jax.random.PRNGKey(seed), 0

        def augment(images, key):
            u = jax.random.uniform(key, (images.shape[0], 4), minval=-1.0, maxval=1.0)
            maps = transforms(jnp, u, aug, float(images.shape[1]), float(images.shape[2]))
            return ops.image.affine_transform(images, maps, interpolation="bilinear",
                                              fill_mode="constant", fill_value=0)

        self.augment = jax.jit(augment)

    def __call__(self, images):
        import jax

        self.calls += 1
        return self.augment(images, jax.random.fold_in(self.key, self.calls))


def main() -> None:
    from mnist_core.training.presets import DEFAULT_PRESET, PRESETS

    parser = harness.parser(__doc__)
    parser.add_argument("presets", nargs="*", default=None,
                        help=f"default: all ({', '.join(PRESETS)})")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--precision", default="mixed_bfloat16",
                        choices=["float32", "mixed_bfloat16"])
    parser.add_argument("--limit", type=int, help="train on this many images (a quick check)")
    parser.add_argument("--steps-per-execution", type=int, default=None, metavar="N",
                        help="training steps per jitted call (default: the lab's own choice, "
                             "training.steps_per_execution; the live curves see every Nth batch)")
    args = parser.parse_args()
    args.epochs = None    # the presets' own
    harness.shrink(args, presets=args.presets or [DEFAULT_PRESET], limit=1000, epochs=1)
    args.presets = args.presets or list(PRESETS)
    if os.environ.get("KERAS_BACKEND") != "jax":
        if not args.dry_run:
            sys.exit("Set KERAS_BACKEND=jax (this script is for machines without TensorFlow).")
        if importlib.util.find_spec("jax") is None:
            print("skipped: JAX is not installed here (this script is for machines that have "
                  "it and no TensorFlow)", flush=True)
            return
        os.environ["KERAS_BACKEND"] = "jax"   # before Keras is imported: the dry run sets it

    import jax
    import keras

    from mnist_core.data.mnist import load_mnist
    from mnist_core.training import loop as training
    from mnist_core.training.presets import preset_config

    training.dataset_pipeline = array_pipeline
    training.augmenter = JittedAugmenter
    if args.steps_per_execution:
        training.steps_per_execution = lambda spec, batch_size: args.steps_per_execution
    dataset = load_mnist()
    device = str(jax.devices()[0].device_kind)
    with harness.Report(args) as report:
        report.say(f"# {time.strftime('%Y-%m-%d %H:%M')} {device}, keras {keras.__version__} on "
                   f"{keras.backend.backend()} {jax.__version__}, precision={args.precision}, "
                   f"steps per execution {args.steps_per_execution or 'as the lab chooses'}")
        table = report.table("presets", [
            "preset", "test accuracy", "training time (s)", "s/epoch", "first epoch (s)",
            "later epochs (s)", "epochs", "parameters"])
        for name in args.presets:
            config = preset_config(name, seed=args.seed, precision=args.precision,
                                   limit=args.limit, epochs=args.epochs)
            result = training.train(config, dataset)
            row = harness.train_row(name, config, result, args.limit or len(dataset.x_train),
                                    device=device, precision=args.precision, backend="jax",
                                    steps_per_execution=training.steps_per_execution(
                                        config.spec, config.batch_size))
            later = row["epoch_seconds"][1:] or [float("nan")]
            table.row(name, f"{100 * result.test_accuracy:.2f}%", f"{result.seconds:.1f}",
                      f"{row['seconds_per_epoch']:.1f}", f"{row['epoch_seconds'][0]:.1f}",
                      f"{np.median(later):.1f}", config.epochs, f"{row['parameters']:,}", **row)


if __name__ == "__main__":
    main()
