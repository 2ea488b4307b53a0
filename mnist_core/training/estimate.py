"""How long one epoch of an architecture takes on this machine, measured, not guessed.

Parameter counts say little about speed: a 3x3 convolution over a 28x28 map costs far more
time per parameter than a Dense layer, and pooling, batch size and the CPU's bfloat16 support
change everything again. So the builder times a few real training steps of the student's
stack on random data of MNIST's shape (augmented, if training augments) and multiplies by the
steps in an epoch. The timing excludes validation and data loading (a few percent on MNIST).

Timings are serialised by a lock: two at once would share the CPU cores and each would
report twice the real time.
"""
from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

import numpy as np

from mnist_core.training.config import Augmentation
from mnist_core.model.spec import INPUT_SHAPE, NUM_CLASSES, ModelSpec

WARM_UP_STEPS = 2        # after the first call (which traces the graph), still slow steps
TIMED_STEPS = 5          # their median is the answer: robust to one step that waited
TIME_BUDGET = 1.0        # seconds of steps after tracing, at most: a huge stack stops early

_lock = threading.Lock()


@dataclass(frozen=True)
class StepTiming:
    """Seconds per training step of one (architecture, batch size, precision)."""

    seconds_per_step: float
    batch_size: int
    precision: str       # as resolved: "float32" or "mixed_bfloat16"
    steps_run: int       # timed calls after tracing (each runs steps_per_execution steps)

    def per_epoch(self, n_train: int) -> float:
        """Seconds for one pass over `n_train` training images (the last batch may be short,
        but it costs a step all the same)."""
        return math.ceil(n_train / self.batch_size) * self.seconds_per_step


def time_steps(spec: ModelSpec, batch_size: int, precision: str = "auto",
               augmentation: Augmentation | None = None) -> StepTiming:
    """Build and compile `spec` the way training does (steps grouped per call into TensorFlow
    as `loop.steps_per_execution` groups them) and run training steps on random images:
    one call to trace, WARM_UP_STEPS calls to settle, then the median of up to TIMED_STEPS
    calls (all within TIME_BUDGET seconds after tracing), divided by the steps per call.

    With `augmentation`, every batch is augmented on the way in, in parallel as in training:
    on two cores it competes with the steps for the CPU (mnist_core.training.augment)."""
    import keras
    import tensorflow as tf

    from mnist_core.model.build import build_model, resolve_precision
    from mnist_core.training.augment import augmenter
    from mnist_core.training.loop import optimizer, steps_per_execution, without_autotune

    precision = resolve_precision(precision)
    group = steps_per_execution(spec, batch_size)
    rng = np.random.default_rng(0)
    x = rng.random((batch_size, *INPUT_SHAPE), dtype=np.float32)
    y = rng.integers(0, NUM_CLASSES, batch_size)
    batches = tf.data.Dataset.from_tensors((x, y)).repeat()
    if augmentation is not None:
        jitter = augmenter(augmentation, seed=0)
        batches = batches.map(lambda a, b: (jitter(a), b),
                              num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
    batches = without_autotune(batches)
    with _lock:
        model = build_model(spec, precision)
        model.compile(optimizer=optimizer("adam", 1e-3),
                      loss=keras.losses.SparseCategoricalCrossentropy(), metrics=["accuracy"],
                      steps_per_execution=group)
        model.fit(batches, steps_per_epoch=group, verbose=0, shuffle=False)  # traces only
        feed = iter(batches)
        steps: list[float] = []
        deadline = time.perf_counter() + TIME_BUDGET
        while len(steps) < WARM_UP_STEPS + TIMED_STEPS and \
                (not steps or time.perf_counter() < deadline):
            started = time.perf_counter()
            model.train_function(feed)
            steps.append((time.perf_counter() - started) / group)
    # A slow stack may run out of time during the warm-up: then its (slightly high) fastest
    # step is the best measure there is.
    timed = steps[WARM_UP_STEPS:]
    return StepTiming(float(np.median(timed)) if timed else min(steps), batch_size, precision,
                      len(steps))


def seconds_per_epoch(spec: ModelSpec, batch_size: int, n_train: int,
                      precision: str = "auto", augmentation: Augmentation | None = None) -> float:
    """Measured seconds of training per epoch of `n_train` images (see `time_steps`)."""
    return time_steps(spec, batch_size, precision, augmentation).per_epoch(n_train)
