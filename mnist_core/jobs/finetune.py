"""Teach the model our handwriting: fine-tune a model on the class's saved drawings.

A model trained on MNIST reads the digits American census workers wrote in the 1990s. A class
that writes its 1s with a long flag (the continental 1) or its 7s with a bar sees them misread.
`fine_tune()` continues training the active model (the bundled one or a stored run's) on the
drawings the class saved, mixed with a replay sample of MNIST training images so that it does
not forget MNIST, for a few epochs:

- The mix: a quarter of each digit's drawings held out to measure the result, the rest
  repeated among the replayed MNIST images, every digit weighted alike
  (mnist_core.jobs.finetune_data).
- Only the top of the network learns: the last convolution and what follows it (at 1e-3, Adam,
  with the loss the model was trained with); the layers before it and every batch-norm layer
  keep their weights and MNIST statistics. A few dozen drawings cannot improve the general
  features of 60,000 images, only disturb them: on synthetic classes (bench/class_teaching.py,
  docs/benchmarks.md) training every layer cost other writers and MNIST more than it gained,
  and 3e-4 closed a quarter as much of the class's gap as 1e-3, with MNIST alike.
- The weights kept are those with the best accuracy on the held-out drawings, the starting
  model included (stricter than training, which keeps its final epoch unless an earlier one
  was clearly better): stopping midway, or an epoch that made things worse, never hands back a
  model worse on them than the one it started from (`loop.fit`, KEEP_BEST). The "after"
  figure on the held-out drawings is thus that of the chosen epoch: with a handful of them,
  read it as a hint.
- Before/after accuracy on the held-out drawings and on the MNIST test set is reported side by
  side and stored with the run (its config: "before", "after").

It refuses fewer than `MIN_DRAWINGS` usable drawings. Unreadable rows (corrupt images, a wrong
size, a label outside 0-9) are skipped and counted. Everything random (split, replay sample,
augmentation, shuffling, initial state) follows the seed; as with training, multi-threaded CPU
arithmetic can still make two runs differ slightly.

It runs as a normal job of the one-job-per-server `JobRegistry` (see `start()`), so the Train
page shows it live, it can be stopped, and it is stored as a run (preset "fine-tune") that
lists, loads and can be made the active model like any other.
"""
from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from mnist_core.data.dataset import Dataset, float_images
from mnist_core.jobs.finetune_data import DRAWING_SHARE, training_mix, weighted_pipeline
from mnist_core.lab.runs import BUNDLED, FINE_TUNE
from mnist_core.lab.store import RunStore
from mnist_core.training.progress import Progress

if TYPE_CHECKING:
    from mnist_core.jobs.registry import JobRegistry
    from mnist_core.jobs.thread_job import TrainingJob

MIN_DRAWINGS = 10
TRAIN_LAYERS = ("head", "top", "all")


@dataclass(frozen=True)
class FineTuneConfig:
    source: str = BUNDLED          # the model to start from: "bundled" or a run id
    epochs: int = 3
    learning_rate: float = 1e-3
    batch_size: int = 64
    held_out_fraction: float = 0.25
    replay: int | None = None      # MNIST images mixed in; None: 20 per drawing, >= 3,000
    augment: bool = True
    seed: int = 0
    train_layers: str = "top"      # "head": the dense layers; "top": from the last
                                   # convolution on; "all"
    drawing_share: float = DRAWING_SHARE   # of each epoch's images: class drawings
    keep_best: bool = True         # keep the epoch best on the held-out drawings, else the last
    preset: str = field(default=FINE_TUNE, init=False)   # what jobs and pages show

    def validate(self) -> None:
        """Raise ValueError with a user-facing message for settings that cannot work."""
        if not isinstance(self.source, str) or not self.source:
            raise ValueError("say which model to fine-tune: 'bundled' or a run id")
        if isinstance(self.epochs, bool) or not isinstance(self.epochs, int) or \
                not 1 <= self.epochs <= 100:
            raise ValueError(f"epochs must be a whole number from 1 to 100, got {self.epochs}")
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int) or \
                self.batch_size < 1:
            raise ValueError(f"batch size must be at least 1, got {self.batch_size}")
        lr = self.learning_rate
        if not isinstance(lr, (int, float)) or not math.isfinite(lr) or not 0 < lr <= 0.1:
            raise ValueError(f"learning rate must be a number in (0, 0.1], got {lr}")
        if not 0 < self.held_out_fraction <= 0.5:
            raise ValueError("the held-out fraction must be in (0, 0.5], got "
                             f"{self.held_out_fraction}")
        if self.train_layers not in TRAIN_LAYERS:
            raise ValueError(f"train_layers must be one of {', '.join(TRAIN_LAYERS)}, got "
                             f"{self.train_layers!r}")
        share = self.drawing_share
        if isinstance(share, bool) or not isinstance(share, (int, float)) or \
                not 0.05 <= share <= 0.9:
            raise ValueError(f"the drawings' share must be from 0.05 to 0.9, got {share}")
        if self.replay is not None and (isinstance(self.replay, bool) or
                                        not isinstance(self.replay, int) or self.replay < 0):
            raise ValueError(f"replay must be a number of images >= 0, got {self.replay}")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Figures:
    """How a model reads the held-out drawings and the MNIST test set."""
    held_out_accuracy: float | None        # None: nothing held out
    held_out_by_digit: dict[int, float]    # digit -> accuracy, digits held out only
    mnist_test_accuracy: float | None      # None: the data has no labelled test set
    mnist_test_loss: float | None

    def to_dict(self) -> dict:
        return {"held_out_accuracy": self.held_out_accuracy,
                "held_out_by_digit": {str(d): a for d, a in self.held_out_by_digit.items()},
                "mnist_test_accuracy": self.mnist_test_accuracy,
                "mnist_test_loss": self.mnist_test_loss}


@dataclass
class FineTuneResult:
    model: object                  # keras.Model, float32, uncompiled: the best weights
    config: FineTuneConfig
    status: str                    # "done" or "stopped"
    history: list[dict]
    before: Figures
    after: Figures
    drawings: int                  # usable class drawings
    held_out: int
    replay: int
    skipped: int                   # unreadable rows left out
    train_only_digits: list[int]   # digits with a single drawing: trained on, not evaluated
    seconds: float
    data_source: str
    mnist_test_images: int = 0

    @property
    def test_accuracy(self) -> float | None:
        return self.after.mnist_test_accuracy

    @property
    def test_loss(self) -> float | None:
        return self.after.mnist_test_loss

    @property
    def record_config(self) -> dict:
        """What the run stores as its config: the settings, the numbers, before and after."""
        return record_config(self.config, self.drawings, self.held_out, self.replay,
                             self.skipped, self.train_only_digits) | {
            "before": self.before.to_dict(), "after": self.after.to_dict(),
            "mnist_test_images": self.mnist_test_images}

    def comparison(self) -> list[dict]:
        return comparison(self.record_config)


def record_config(config: FineTuneConfig, drawings: int, held_out: int, replay: int,
                  skipped: int, train_only_digits: list[int]) -> dict:
    return {"preset": FINE_TUNE, "from": config.source, "drawings": drawings,
            "held_out": held_out, "replay": replay, "skipped": skipped,
            "train_only_digits": list(train_only_digits), "epochs": config.epochs,
            "learning_rate": config.learning_rate, "batch_size": config.batch_size,
            "held_out_fraction": config.held_out_fraction, "augment": config.augment,
            "train_layers": config.train_layers, "drawing_share": config.drawing_share,
            "keep_best": config.keep_best, "seed": config.seed}


def comparison(run_config: dict) -> list[dict]:
    """The before/after table of a fine-tune run's config (rows of strings), [] for others."""
    before, after = run_config.get("before"), run_config.get("after")
    if run_config.get("preset") != FINE_TUNE or not before or not after:
        return []

    def pct(value):
        return "–" if value is None else f"{100 * value:.2f}%"

    def change(b, a):
        return "–" if a is None or b is None else f"{100 * (a - b):+.2f} points"

    held = run_config.get("held_out", 0)
    tests = run_config.get("mnist_test_images") or 0
    rows = [("Held-out class drawings" + (f" ({held})" if held else " (none held out)"),
             "held_out_accuracy"),
            ("MNIST test set" + (f" ({tests:,})" if tests else ""), "mnist_test_accuracy")]
    return [{"measured on": name, "before": pct(before.get(key)), "after": pct(after.get(key)),
             "change": change(before.get(key), after.get(key))} for name, key in rows]


def too_few_message(count: int, skipped: int = 0) -> str:
    unreadable = f" (and {skipped} unreadable, skipped)" if skipped else ""
    return (f"fine-tuning needs at least {MIN_DRAWINGS} saved drawings; the class has "
            f"{count}{unreadable}")


def check_ready(store: RunStore, source: str = BUNDLED) -> int:
    """Cheap checks before starting: enough drawings, a model to start from, and a lab home
    that can keep the result (its model is as big as the one it starts from). Returns the
    number of saved drawings; raises ValueError, KeyError or StoreError with a user-facing
    message."""
    count = len(store.drawing_index()[0])
    if count < MIN_DRAWINGS:
        raise ValueError(too_few_message(count))
    path = source_model_path(store, source)
    store.check_can_save(path.stat().st_size if path.is_file() else 0)
    return count


def source_model_path(store: RunStore, source: str):
    """The model file of "bundled" or a stored run (never an arbitrary path)."""
    try:
        return store.lab_model_path(source)
    except KeyError as e:
        raise KeyError(f"cannot fine-tune '{source}': it is neither 'bundled' nor a stored run "
                       f"with a model ({e.args[0]})") from None


def _layers_to_freeze(model, which: str) -> list:
    """The layers that keep their weights: batch norm always (MNIST's statistics stay); for
    "top" everything before the last convolution (the features every digit is built from),
    for "head" everything before the first dense layer (only the classifier learns)."""
    import keras

    layers = model.layers
    frozen = [layer for layer in layers if isinstance(layer, keras.layers.BatchNormalization)]
    kind = {"top": keras.layers.Conv2D, "head": keras.layers.Dense}.get(which)
    marks = [i for i, layer in enumerate(layers) if kind and isinstance(layer, kind)]
    if marks:
        cut = marks[-1] if which == "top" else marks[0]
        frozen += [layer for layer in layers[:cut] if layer not in frozen]
    return frozen


def _label_smoothing(model) -> float:
    """The label smoothing of the preset that built `model` (models are named after it)."""
    from mnist_core.training.presets import PRESETS

    preset = PRESETS.get(str(getattr(model, "name", "")).replace("_", "-"))
    return preset.config.label_smoothing if preset is not None else 0.0


def _figures(evaluate, x_held, y_held, dataset: Dataset) -> Figures:
    held_acc, by_digit = None, {}
    if len(y_held):
        result = evaluate(x_held, y_held)
        held_acc = result.accuracy
        right = result.predictions == y_held
        by_digit = {int(d): float(right[y_held == d].mean()) for d in np.unique(y_held)}
    test_acc = test_loss = None
    if dataset.x_test is not None:
        result = evaluate(float_images(dataset.x_test), dataset.y_test)
        test_acc, test_loss = result.accuracy, result.loss
    return Figures(held_acc, by_digit, test_acc, test_loss)


def fine_tune(config: FineTuneConfig, model, images: np.ndarray, labels: np.ndarray,
              dataset: Dataset, progress: Progress | None = None,
              stop_event: threading.Event | None = None, *, skipped: int = 0,
              on_ready=None) -> FineTuneResult:
    """Fine-tune `model` (changed in place and returned) on class drawings `images` (uint8 or
    float (N, 28, 28)) with `labels`, replaying MNIST training images from `dataset`.

    `on_ready(record_config)` is called once the split is made and the "before" figures are
    measured, just before training starts (the job records its run there)."""
    import keras

    from mnist_core.model.build import reseed_dropout
    from mnist_core.model.evaluation import traced_evaluator
    from mnist_core.training.loop import KEEP_BEST, KEEP_FINAL, fit, one_hot_labels

    progress = progress or Progress()
    stop_event = stop_event or threading.Event()
    started = time.monotonic()
    config.validate()
    images = np.asarray(images)
    x = (images.astype(np.float32) / 255.0 if images.dtype == np.uint8
         else images.astype(np.float32)).reshape(-1, 28, 28)
    labels = np.asarray(labels, np.int64)
    if len(labels) < MIN_DRAWINGS:
        raise ValueError(too_few_message(len(labels), skipped))

    mix = training_mix(x, labels, dataset, held_out_fraction=config.held_out_fraction,
                       replay=config.replay, augment=config.augment, seed=config.seed,
                       drawing_share=config.drawing_share)
    x_fit, y_fit, x_held, y_held = mix.x_fit, mix.y_fit, mix.x_held, mix.y_held
    x_val, y_val, n_replay, single = mix.x_val, mix.y_val, mix.replay, mix.train_only_digits
    if config.batch_size > len(y_fit):
        raise ValueError(f"batch size {config.batch_size} is larger than the {len(y_fit)} "
                         "training images")

    evaluate = traced_evaluator(model)
    before = _figures(evaluate, x_held, y_held, dataset)
    if on_ready is not None:
        on_ready(record_config(config, len(labels), len(y_held), n_replay, skipped, single)
                 | {"before": before.to_dict()})

    keras.utils.set_random_seed(config.seed)
    reseed_dropout(model, config.seed)
    frozen = [layer for layer in _layers_to_freeze(model, config.train_layers)
              if layer.trainable]
    for layer in frozen:
        layer.trainable = False
    # The loss the model was trained with (label smoothing for 'best'): another loss would
    # move every weight just to change how sure the model sounds.
    smoothing = _label_smoothing(model)
    start = None
    if len(y_held) and config.keep_best:
        # The starting model is a candidate too; an epoch as good wins the tie (Keras'
        # accuracy is float32: 17/22 must tie with ours, not lose to it).
        start = (model.get_weights(), before.held_out_accuracy - 1e-6)
    train_ds = weighted_pipeline(x_fit, y_fit, config.batch_size, config.seed,
                                 one_hot_labels(smoothing))
    stopped = fit(model, train_ds, (x_val, y_val),
                  optimizer=keras.optimizers.Adam(config.learning_rate),
                  label_smoothing=smoothing, epochs=config.epochs,
                  batch_size=config.batch_size,
                  batches_per_epoch=math.ceil(len(y_fit) / config.batch_size),
                  progress=progress, stop_event=stop_event,
                  keep=KEEP_BEST if config.keep_best else KEEP_FINAL, start=start,
                  validation_accuracy=lambda: evaluate(x_val, y_val).accuracy)
    for layer in frozen:
        layer.trainable = True
    after = _figures(evaluate, x_held, y_held, dataset)
    return FineTuneResult(model, config, "stopped" if stopped else "done",
                          progress.snapshot().history, before, after, len(labels), len(y_held),
                          n_replay, skipped, single, time.monotonic() - started,
                          f"{len(labels)} class drawings + {n_replay:,} images of "
                          f"{dataset.source}",
                          0 if dataset.y_test is None else len(dataset.y_test))


def _work(config: FineTuneConfig):
    """The job's work (runs in the job's thread): read the drawings, load the model, fine-tune,
    and record the run once the figures before are known."""
    def work(job) -> FineTuneResult:
        from mnist_core.model.files import load_checked

        if job.store is None:
            raise ValueError("fine-tuning needs the lab's store (the saved drawings)")
        images, labels, skipped = job.store.drawings_for_training()
        if len(labels) < MIN_DRAWINGS:
            raise ValueError(too_few_message(len(labels), skipped))
        model = load_checked(source_model_path(job.store, config.source))
        dataset = job.load_data()
        source = f"{len(labels)} class drawings + {dataset.source}"
        return fine_tune(config, model, images, labels, dataset, job.progress, job.stop_event,
                         skipped=skipped, on_ready=lambda cfg: job.open_run(cfg, source))
    return work


def start(registry: JobRegistry, store: RunStore, config: FineTuneConfig,
          data: Dataset | Callable[[], Dataset]) -> TrainingJob:
    """Start fine-tuning as the server's one job. `data`: MNIST (a Dataset, or a callable that
    loads it in the job's thread). Raises ValueError (too few drawings, bad settings), KeyError
    (no such model) or JobBusy (another job runs), each with a message for the user."""
    config.validate()
    check_ready(store, config.source)
    return registry.start(config, data, store, work=_work(config),
                          label=f"a fine-tuning of the '{config.source}' model")
