"""A run's progress: written by the training thread, read by any other thread.

Viewers (the app's fragments, the CLI's progress bar) never touch the training thread: they
read a consistent copy with `Progress.snapshot()`.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace


#: At most this many "watch it learn" records are kept per run (epoch 0 and the latest ones):
#: a few kilobytes each, so a run of many epochs stays small in memory and in every message.
MAX_LEARNING_RECORDS = 51


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
    # The run's batches done at each of those points: one point per call into TensorFlow, which
    # may cover several batches (mnist_core.training.loop.steps_per_execution).
    batch_steps: list[int] = field(default_factory=list)
    history: list[dict] = field(default_factory=list)          # one dict per finished epoch
    images_per_second: float = 0.0
    eta_seconds: float | None = None
    elapsed_seconds: float = 0.0
    error: str | None = None
    run_id: str | None = None
    test_accuracy: float | None = None
    test_loss: float | None = None
    # "Watch it learn": one record per epoch, epoch 0 (random weights) first, each
    # {"epoch": int, "kernels": the first Conv2D's (k, k, in, filters) float32 or None,
    # "probabilities": the watched test digit's ten}; epoch 0's also has the digit's "image"
    # (uint8 28x28) and "label" (mnist_core.training.callbacks.EpochSnapshots). Records are
    # never changed once added, so snapshots share them.
    learning: list[dict] = field(default_factory=list)

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

    @property
    def status(self) -> str:
        """The status alone (no copy of the curves)."""
        with self._lock:
            return self._state.status

    def speed(self) -> tuple[float, float | None]:
        """(images per second, seconds left) alone, without copying the curves as
        `snapshot()` does: the training child sends these ten times a second."""
        with self._lock:
            return self._state.images_per_second, self._state.eta_seconds

    def snapshot(self) -> Snapshot:
        with self._lock:
            s = self._state
            return replace(s, batch_loss=list(s.batch_loss), batch_accuracy=list(s.batch_accuracy),
                           batch_steps=list(s.batch_steps),
                           history=[dict(h) for h in s.history],
                           learning=list(s.learning),
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
            s.batch_steps.append(s.epoch * s.batches_per_epoch + s.batch)
            rate = s.batch / max(now - self._epoch_started, 1e-9)  # batches per second
            s.images_per_second = rate * batch_size
            remaining = (s.epochs - s.epoch) * s.batches_per_epoch - s.batch
            s.eta_seconds = remaining / rate

    def end_epoch(self, record: dict) -> None:
        with self._lock:
            self._state.epoch += 1
            self._state.history.append(record)

    def end_learning(self, record: dict) -> None:
        """Add one "watch it learn" record; beyond MAX_LEARNING_RECORDS, the oldest after
        epoch 0 make way (the start is the picture a class compares with)."""
        with self._lock:
            learning = self._state.learning
            learning.append(record)
            if len(learning) > MAX_LEARNING_RECORDS:
                del learning[1]

    def finish(self, status: str, **fields) -> None:
        with self._lock:
            self._state.elapsed_seconds = time.monotonic() - self._started
            self._state.status = status
            self._state.eta_seconds = 0.0 if status == "done" else None
            for key, value in fields.items():
                setattr(self._state, key, value)
