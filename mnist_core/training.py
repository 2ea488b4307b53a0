"""The one training path, used by the command line and the app alike.

`train()` runs in whatever thread calls it and reports through a `Progress` object, which any
other thread may read with `snapshot()`. Stopping is cooperative: a callback sets
`model.stop_training`, which Keras checks after every batch.
"""
from __future__ import annotations

import math
import threading
import time
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from .data import NUM_CLASSES, Dataset, split_validation
from .models import Augmentation, get_preset, resolve_precision



@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a run; saved with every model so a run can be reproduced."""

    preset: str = "fast"
    epochs: int = 3
    batch_size: int = 128
    learning_rate: float = 3e-3
    augment: bool = False
    validation_fraction: float = 0.1
    limit: int | None = None
    seed: int = 0
    precision: str = "auto"

    @classmethod
    def from_preset(cls, name: str, **overrides) -> "TrainConfig":
        """The preset's defaults, with any non-None override applied."""
        p = get_preset(name)
        base = cls(preset=name, epochs=p.epochs, batch_size=p.batch_size,
                   learning_rate=p.learning_rate, augment=p.augmentation is not None)
        return replace(base, **{k: v for k, v in overrides.items() if v is not None})

    def validate(self, n_train: int | None = None) -> None:
        """Raise ValueError with a user-facing message for hyperparameters that cannot work."""
        get_preset(self.preset)
        if not isinstance(self.epochs, int) or self.epochs < 1:
            raise ValueError(f"epochs must be a whole number of at least 1, got {self.epochs}")
        if not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise ValueError(f"batch size must be at least 1, got {self.batch_size}")
        lr = self.learning_rate
        if not isinstance(lr, (int, float)) or not math.isfinite(lr) or not 0 < lr <= 1:
            raise ValueError(f"learning rate must be a number in (0, 1], got {lr}")
        if not 0 <= self.validation_fraction <= 0.5:
            raise ValueError("validation fraction must be between 0 and 0.5, got "
                             f"{self.validation_fraction}")
        if self.limit is not None and self.limit < 20:
            raise ValueError(f"limit must be at least 20 images, got {self.limit}")
        if n_train is not None and self.batch_size > n_train:
            raise ValueError(f"batch size {self.batch_size} is larger than the {n_train} "
                             "training images; lower it or use more data")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Snapshot:
    """A consistent copy of a run's progress, safe to read from any thread."""

    status: str = "pending"       # pending, running, stopping, stopped, done or failed
    epoch: int = 0                 # epochs completed
    epochs: int = 0
    batch: int = 0                 # batches completed in the current epoch
    batches_per_epoch: int = 0
    batch_loss: list[float] = field(default_factory=list)      # running mean within the epoch
    batch_accuracy: list[float] = field(default_factory=list)
    history: list[dict] = field(default_factory=list)          # one dict per finished epoch
    images_per_second: float = 0.0
    eta_seconds: float | None = None
    elapsed_seconds: float = 0.0
    error: str | None = None
    run_id: str | None = None
    test_accuracy: float | None = None
    test_loss: float | None = None

    @property
    def fraction_done(self) -> float:
        total = self.epochs * self.batches_per_epoch
        return 0.0 if not total else min(1.0, (self.epoch * self.batches_per_epoch + self.batch) / total)

    @property
    def active(self) -> bool:
        return self.status in ("pending", "running", "stopping")


class Progress:
    """Written by the training thread, read by everyone else; every access holds the lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state = Snapshot()
        self._epoch_started = time.monotonic()
        self._started = time.monotonic()

    def update(self, **fields) -> None:
        with self._lock:
            for key, value in fields.items():
                setattr(self._state, key, value)

    def snapshot(self) -> Snapshot:
        with self._lock:
            s = self._state
            return replace(s, batch_loss=list(s.batch_loss), batch_accuracy=list(s.batch_accuracy),
                           history=[dict(h) for h in s.history],
                           elapsed_seconds=time.monotonic() - self._started
                           if s.active else s.elapsed_seconds)

    # Called from Keras callbacks in the training thread.
    def begin(self, epochs: int, batches_per_epoch: int) -> None:
        self._started = time.monotonic()
        self.update(status="running", epochs=epochs, batches_per_epoch=batches_per_epoch)

    def begin_epoch(self) -> None:
        self._epoch_started = time.monotonic()
        self.update(batch=0)

    def end_batch(self, batch: int, loss: float, accuracy: float, batch_size: int) -> None:
        now = time.monotonic()
        with self._lock:
            s = self._state
            s.batch = batch + 1
            s.batch_loss.append(loss)
            s.batch_accuracy.append(accuracy)
            rate = s.batch / max(now - self._epoch_started, 1e-9)  # batches per second
            s.images_per_second = rate * batch_size
            remaining = (s.epochs - s.epoch) * s.batches_per_epoch - s.batch
            s.eta_seconds = remaining / rate

    def end_epoch(self, record: dict) -> None:
        with self._lock:
            self._state.epoch += 1
            self._state.history.append(record)

    def finish(self, status: str, **fields) -> None:
        with self._lock:
            self._state.elapsed_seconds = time.monotonic() - self._started
            self._state.status = status
            self._state.eta_seconds = 0.0 if status == "done" else None
            for key, value in fields.items():
                setattr(self._state, key, value)


@dataclass
class TrainResult:
    model: object                  # keras.Model in float32, uncompiled, best-validation weights
    config: TrainConfig
    status: str                    # "done" or "stopped"
    history: list[dict]
    test_accuracy: float | None
    test_loss: float | None
    seconds: float
    data_source: str


def _make_callbacks(progress: Progress, stop_event: threading.Event, batch_size: int):
    import keras

    class LiveMetrics(keras.callbacks.Callback):
        """Feeds the progress object and turns a stop request into `model.stop_training`."""

        def on_epoch_begin(self, epoch, logs=None):
            progress.begin_epoch()

        def on_train_batch_end(self, batch, logs=None):
            logs = logs or {}
            progress.end_batch(batch, float(logs.get("loss", np.nan)),
                               float(logs.get("accuracy", np.nan)), batch_size)
            if stop_event.is_set():
                self.model.stop_training = True

        def on_epoch_end(self, epoch, logs=None):
            if stop_event.is_set() and "val_loss" not in (logs or {}):
                return  # interrupted mid-epoch: not a complete epoch
            progress.end_epoch({k: float(v) for k, v in (logs or {}).items()
                                if k in ("loss", "accuracy", "val_loss", "val_accuracy")}
                               | {"epoch": epoch + 1})

    class KeepBest(keras.callbacks.Callback):
        """Remembers the weights of the epoch with the best validation accuracy."""

        def __init__(self):
            super().__init__()
            self.best_weights, self.best_key = None, (-1.0, float("-inf"))

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            if "val_accuracy" in logs:
                key = (float(logs["val_accuracy"]), -float(logs["val_loss"]))
                if key > self.best_key:
                    self.best_key, self.best_weights = key, self.model.get_weights()

    return LiveMetrics(), KeepBest()


def _augmenter(aug: Augmentation, seed: int):
    import keras

    return keras.Sequential([
        keras.layers.RandomRotation(aug.rotation_degrees / 360.0, fill_mode="constant", seed=seed),
        keras.layers.RandomZoom(aug.zoom, fill_mode="constant", seed=seed + 1),
        keras.layers.RandomTranslation(aug.shift, aug.shift, fill_mode="constant", seed=seed + 2),
    ], name="augmentation")


def learning_rate(preset, peak: float, steps: int):
    """The preset's rate: constant, or "one-cycle" = linear warm-up over the first 20% of
    `steps` from peak/10 to `peak`, then cosine decay to 1% of it."""
    if preset.schedule != "one-cycle":
        return peak
    import keras

    warmup = max(1, steps // 5)
    return keras.optimizers.schedules.CosineDecay(
        peak / 10, decay_steps=max(1, steps - warmup), alpha=0.01, warmup_target=peak,
        warmup_steps=warmup)


def augmentation_preview(images: np.ndarray, aug: Augmentation, copies: int = 3,
                         seed: int = 0) -> np.ndarray:
    """A grid: the original `images` in the top row, `copies` augmented versions below."""
    augmenter = _augmenter(aug, seed)
    rows = [images[..., 0]] + [np.asarray(augmenter(images, training=True))[..., 0]
                               for _ in range(copies)]
    return np.vstack([np.hstack(list(row)) for row in rows])


def _pipeline(x, y, batch_size: int, *, shuffle_seed: int | None, augmenter=None, one_hot=False):
    """tf.data: in-memory tensors -> shuffle -> batch -> (augment in parallel) -> prefetch."""
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices((x, y))
    if shuffle_seed is not None:
        ds = ds.shuffle(len(x), seed=shuffle_seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    if augmenter is not None:
        ds = ds.map(lambda a, b: (augmenter(a, training=True), b),
                    num_parallel_calls=tf.data.AUTOTUNE)
    if one_hot:
        ds = ds.map(lambda a, b: (a, tf.one_hot(b, NUM_CLASSES)))
    return ds.prefetch(tf.data.AUTOTUNE)


def train(config: TrainConfig, dataset: Dataset, progress: Progress | None = None,
          stop_event: threading.Event | None = None) -> TrainResult:
    """Train `config` on `dataset`; return the best-validation model and its test metrics.

    A stop request ends training at the next batch boundary; the result is then "stopped" but
    still carries the best weights seen (never lost).
    """
    import keras

    from .evaluation import evaluate
    from .models import build_model

    progress = progress or Progress()
    stop_event = stop_event or threading.Event()
    started = time.monotonic()
    config.validate()
    dataset = dataset.limit(config.limit)
    preset = get_preset(config.preset)
    x_tr, y_tr, x_val, y_val = split_validation(dataset.x_train, dataset.y_train,
                                                config.validation_fraction, config.seed)
    config.validate(len(x_tr))
    keras.utils.set_random_seed(config.seed)

    precision = resolve_precision(config.precision)
    model = build_model(config.preset, precision)
    batches = math.ceil(len(x_tr) / config.batch_size)
    steps = batches * config.epochs
    rate = learning_rate(preset, config.learning_rate, steps)
    one_hot = preset.label_smoothing > 0
    loss = (keras.losses.CategoricalCrossentropy(label_smoothing=preset.label_smoothing)
            if one_hot else keras.losses.SparseCategoricalCrossentropy())
    model.compile(optimizer=keras.optimizers.Adam(rate), loss=loss, metrics=["accuracy"])

    augmenter = (_augmenter(preset.augmentation or Augmentation(), config.seed)
                 if config.augment else None)
    train_ds = _pipeline(x_tr, y_tr, config.batch_size, shuffle_seed=config.seed,
                         augmenter=augmenter, one_hot=one_hot)
    val_ds = (_pipeline(x_val, y_val, 1000, shuffle_seed=None, one_hot=one_hot)
              if len(x_val) else None)
    live, keep_best = _make_callbacks(progress, stop_event, config.batch_size)
    progress.begin(config.epochs, batches)
    model.fit(train_ds, epochs=config.epochs, validation_data=val_ds, verbose=0, shuffle=False,
              callbacks=[live, keep_best])

    stopped = stop_event.is_set()
    if keep_best.best_weights is not None and len(x_val):
        current = evaluate(model, x_val, y_val).accuracy if stopped else -1.0
        if current < keep_best.best_key[0]:
            model.set_weights(keep_best.best_weights)
    final = _as_float32(model, config.preset, precision)
    test_acc = test_loss = None
    if dataset.x_test is not None:
        result = evaluate(final, dataset.x_test, dataset.y_test)
        test_acc, test_loss = result.accuracy, result.loss
    return TrainResult(final, config, "stopped" if stopped else "done",
                       progress.snapshot().history, test_acc, test_loss,
                       time.monotonic() - started, dataset.source)


def _as_float32(model, preset: str, precision: str):
    """Saved models are always float32 so they run fast on any CPU, whatever trained them."""
    from .models import build_model

    if precision == "float32":
        return model
    clone = build_model(preset, "float32")
    clone.set_weights(model.get_weights())
    return clone
