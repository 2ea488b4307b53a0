"""The one training loop, used by the command line and the app alike.

Setup -> data -> build -> train -> evaluate. `train()` runs in whatever thread calls it and
reports through a `Progress` (mnist_core.training.progress), which any other thread may read.
Stopping is cooperative (mnist_core.training.callbacks). The config was checked when it was
made (mnist_core.training.config), so nothing here validates it again. `fit` is the fit step
that training and fine-tuning (mnist_core.jobs.finetune) share.
"""
from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

import numpy as np

from mnist_core.training.augment import augmenter
from mnist_core.training.config import Augmentation, TrainConfig
from mnist_core.data.dataset import NUM_CLASSES, Dataset, expanded, split_validation
from mnist_core.model.build import resolve_precision
from mnist_core.training.progress import Progress
from mnist_core.model.spec import ModelSpec


@dataclass
class TrainResult:
    model: object | None           # keras.Model in float32, uncompiled (which weights and
                                   # when None: `train`)
    config: TrainConfig
    status: str                    # "done" or "stopped"
    history: list[dict]
    test_accuracy: float | None
    test_loss: float | None
    seconds: float
    data_source: str


def learning_rate(schedule: str, peak: float, steps: int):
    """The rate: "constant", or "one-cycle" = linear warm-up over the first 20% of `steps`
    from peak/10 to `peak`, then cosine decay to 1% of it."""
    if schedule != "one-cycle":
        return peak
    import keras

    warmup = max(1, steps // 5)
    return keras.optimizers.schedules.CosineDecay(
        peak / 10, decay_steps=max(1, steps - warmup), alpha=0.01, warmup_target=peak,
        warmup_steps=warmup)


def augmentation_preview(images: np.ndarray, aug: Augmentation, copies: int = 3,
                         seed: int = 0) -> np.ndarray:
    """A grid: the original `images` in the top row, `copies` augmented versions below."""
    jitter = augmenter(aug, seed)
    rows = [images[..., 0]] + [np.asarray(jitter(images))[..., 0]
                               for _ in range(copies)]
    return np.vstack([np.hstack(list(row)) for row in rows])


def without_autotune(ds):
    """`ds` with tf.data's autotuner off. With it on, epochs began at random with a stall of a
    second or two between `on_epoch_begin` and the first batch (the old epoch's iterator, being
    torn down, waits for the autotuner's thread): a large share of a short epoch. The pipeline
    is in-memory tensors, so there is nothing for the autotuner to tune; off, every epoch
    starts at once (docs/benchmarks.md, "Why is tf.data's autotuner off?")."""
    import tensorflow as tf

    options = tf.data.Options()
    options.autotune.enabled = False
    return ds.with_options(options)


def dataset_pipeline(x, y, batch_size: int, *, shuffle_seed: int | None, jitter=None,
                     one_hot: bool = False):
    """The tf.data pipeline every training and fine-tune reads: in-memory tensors (`x`
    images, `y` labels) -> shuffled with `shuffle_seed` (None: in order, as for validation)
    -> batches of `batch_size` -> `jitter` (an augmenter) on each batch in parallel ->
    labels one-hot if `one_hot` (label smoothing needs them) -> prefetch; the autotuner off
    (`without_autotune`)."""
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices((x, y))
    if shuffle_seed is not None:
        ds = ds.shuffle(len(x), seed=shuffle_seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    if jitter is not None:
        ds = ds.map(lambda a, b: (jitter(a), b),
                    num_parallel_calls=tf.data.AUTOTUNE)
    if one_hot:
        ds = ds.map(lambda a, b: (a, tf.one_hot(b, NUM_CLASSES)))
    return without_autotune(ds.prefetch(tf.data.AUTOTUNE))


# Keras calls into TensorFlow once per `steps_per_execution` training steps. Each call costs a
# fixed overhead of Python and dispatch (our callbacks included): a large share of a cheap
# step such as `fast`'s, nothing beside a `best` step. So cheap steps run in groups of about
# this much work, at most MAX_STEPS_PER_EXECUTION at a time. Callbacks (live curves, a Stop
# request) run after each group, which stays well under a second even on a slow laptop,
# inside the live view's 2 s refresh (docs/benchmarks.md, "Precision, `fast`'s design, steps
# per execution").
MULTIPLY_ADDS_PER_EXECUTION = 800_000_000
MAX_STEPS_PER_EXECUTION = 8


def steps_per_execution(spec: ModelSpec, batch_size: int) -> int:
    """Training steps per call into TensorFlow: 8 for `fast` and `dense-only` at batch 128, 5 for
    the tutorial, 2 for the Keras example and `lesson`, 1 for `best`. The same weights come out
    either way; only the Python between steps is saved."""
    per_step = spec.multiply_adds() * batch_size
    return max(1, min(MAX_STEPS_PER_EXECUTION, MULTIPLY_ADDS_PER_EXECUTION // max(per_step, 1)))


def optimizer(name: str, rate):
    import keras

    if name == "sgd":
        return keras.optimizers.SGD(rate, momentum=0.9)
    return keras.optimizers.Adam(rate)


#: What `fit` keeps when the epochs have all run: training keeps the final weights unless an
#: earlier epoch was clearly better; a fine-tune keeps its best epoch (or its starting model).
KEEP_FINAL = "final unless an earlier epoch is clearly better"
KEEP_BEST = "best"


def one_hot_labels(label_smoothing: float) -> bool:
    """Whether a pipeline must give one-hot labels: Keras smooths only one-hot labels."""
    return label_smoothing > 0


def fit(model, train_ds, validation: tuple[np.ndarray, np.ndarray] | None, *, optimizer,
        label_smoothing: float, epochs: int, batch_size: int, batches_per_epoch: int,
        progress: Progress, stop_event: threading.Event, keep: str = KEEP_FINAL,
        start: tuple[list, float] | None = None, validation_accuracy=None,
        steps_per_execution: int = 1, watch: tuple[np.ndarray, int] | None = None) -> bool:
    """The one fit step of training and fine-tuning: compile `model` (cross-entropy, with
    `label_smoothing`; `train_ds` must then have one-hot labels, see `one_hot_labels`), train
    it for `epochs` with the lab's callbacks (live progress, Stop, best weights), then choose
    the weights it keeps. Returns whether it was stopped.

    `validation` is (images, labels) or None. The weights kept:
    - stopped: the best epoch's (or `start`'s) if they beat the current weights on
      validation (`validation_accuracy()`, by default `evaluation.evaluate`): Stop promises
      the best weights seen so far;
    - all epochs run, `keep` KEEP_FINAL: the final weights, where the rate schedule ends,
      unless an earlier epoch was better by more than the validation set can tell apart
      (`callbacks.clearly_better`);
    - all epochs run, `keep` KEEP_BEST: the best epoch's, or `start`'s.
    `start` = (weights, accuracy) makes the starting model a candidate (a fine-tune's).
    `watch`, one (28, 28, 1) image and its label, adds "Watch it learn" records to `progress`
    (`callbacks.EpochSnapshots`)."""
    import keras

    from mnist_core.training import callbacks   # read at call time (tests replace KeepBest)

    one_hot = one_hot_labels(label_smoothing)
    loss = (keras.losses.CategoricalCrossentropy(label_smoothing=label_smoothing)
            if one_hot else keras.losses.SparseCategoricalCrossentropy())
    model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"],
                  steps_per_execution=steps_per_execution)
    x_val, y_val = validation if validation is not None else (None, None)
    val_ds = (dataset_pipeline(x_val, y_val, 1000, shuffle_seed=None, one_hot=one_hot)
              if y_val is not None and len(y_val) else None)
    keep_best = callbacks.KeepBest(*start) if start is not None else callbacks.KeepBest()
    progress.begin(epochs, batches_per_epoch)
    watching = [] if watch is None else [callbacks.EpochSnapshots(progress, *watch)]
    model.fit(train_ds, epochs=epochs, validation_data=val_ds, verbose=0, shuffle=False,
              callbacks=[callbacks.StopOnRequest(stop_event),
                         callbacks.LiveMetrics(progress, batch_size), keep_best, *watching])

    stopped = stop_event.is_set()
    if keep_best.best_weights is not None and val_ds is not None:
        best = keep_best.best_key[0]
        if stopped:
            if validation_accuracy is None:
                from mnist_core.model.evaluation import evaluate

                current = evaluate(model, x_val, y_val).accuracy
            else:
                current = validation_accuracy()
            restore = current < best
        elif keep == KEEP_BEST:
            restore = True
        else:
            restore = callbacks.clearly_better(best, keep_best.last_accuracy, len(y_val))
        if restore:
            model.set_weights(keep_best.best_weights)
    return stopped


def train(config: TrainConfig, dataset: Dataset, progress: Progress | None = None,
          stop_event: threading.Event | None = None) -> TrainResult:
    """Train `config` on `dataset`; return the model and its test metrics.

    A run that ends its epochs keeps its final weights, unless an earlier epoch was better on
    validation by more than the validation set can tell apart (`fit`, KEEP_FINAL).

    A stop request ends training after the current group of batches (`steps_per_execution`, at
    most 8, well under a second); the result is then "stopped" but still carries the best
    weights seen (never lost), unless no epoch had ended: then it has no model and no test
    figures (a few hundred batches of one epoch are not a model worth offering).
    """
    import keras

    from mnist_core.model.build import build_model
    from mnist_core.model.evaluation import evaluate

    progress = progress or Progress()
    stop_event = stop_event or threading.Event()
    started = time.monotonic()
    dataset = expanded(dataset.limit(config.limit))   # float32, were it kept as uint8
    x_tr, y_tr, x_val, y_val = split_validation(dataset.x_train, dataset.y_train,
                                                config.validation_fraction, config.seed)
    keras.utils.set_random_seed(config.seed)

    precision = resolve_precision(config.precision)
    model = build_model(config.spec, precision)
    batches = math.ceil(len(x_tr) / config.batch_size)
    rate = learning_rate(config.schedule, config.learning_rate, batches * config.epochs)
    jitter = augmenter(config.augmentation, config.seed) if config.augment else None
    from mnist_core.training.callbacks import watched_digit

    watched = watched_digit(dataset.x_test, dataset.y_test, x_val, y_val)
    train_ds = dataset_pipeline(x_tr, y_tr, config.batch_size, shuffle_seed=config.seed,
                                jitter=jitter, one_hot=one_hot_labels(config.label_smoothing))
    stopped = fit(model, train_ds, (x_val, y_val),
                  optimizer=optimizer(config.optimizer, rate),
                  label_smoothing=config.label_smoothing, epochs=config.epochs,
                  batch_size=config.batch_size, batches_per_epoch=batches, progress=progress,
                  stop_event=stop_event, keep=KEEP_FINAL,
                  steps_per_execution=steps_per_execution(config.spec, config.batch_size),
                  watch=watched)

    if stopped and not progress.snapshot().history:   # Start, then Stop: nothing to keep
        return TrainResult(None, config, "stopped", [], None, None, time.monotonic() - started,
                           dataset.source)
    final = as_float32(model, config.spec, precision)
    test_acc = test_loss = None
    if dataset.x_test is not None:
        result = evaluate(final, dataset.x_test, dataset.y_test)
        test_acc, test_loss = result.accuracy, result.loss
    return TrainResult(final, config, "stopped" if stopped else "done",
                       progress.snapshot().history, test_acc, test_loss,
                       time.monotonic() - started, dataset.source)


def as_float32(model, spec, precision: str):
    """Saved models are always float32 so they run fast on any CPU, whatever trained them."""
    from mnist_core.model.build import build_model

    if precision == "float32":
        return model
    clone = build_model(spec, "float32")
    clone.set_weights(model.get_weights())
    return clone
