"""The server's digit maps: each computed once per model, in one background thread, one at a
time, and shared by every browser.

A map costs the features of 70,000 images, the most expensive thing a student can ask for, so
a class must not be able to multiply it: thirty browsers opening the page start ONE
computation and all watch its progress; a map already on disk is only read; and while one map
computes, at most one other model waits (the latest asked for; a page that still wants its
model asks again when it next polls). Nothing here touches Streamlit: pages poll `request`.

While a training runs, the map competes with it for the CPU (the training child runs at lower
priority, so the map, like a drawing, goes first); it computes in passes of 128 images, so
drawings are still answered between passes.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from mnist_core.drawing.digit_map import DigitMap, Placement, build_map
from mnist_core.drawing.digit_map_cache import load_map, model_key, save_map
from mnist_core.drawing.digit_map_features import HiddenFeatures
from mnist_core.drawing.preprocess import Prepared

READY, COMPUTING, WAITING, FAILED = "ready", "computing", "waiting", "failed"
#: Maps kept in memory (each about 30 MB for the bundled model); older ones are read again
#: from disk when asked for.
KEEP_IN_MEMORY = 3
#: A failed map is tried again after this long (a model file being written, a full disk).
RETRY_AFTER_SECONDS = 60.0
_LOG = logging.getLogger(__name__)


@dataclass
class MapState:
    """What a page shows for one model's map."""

    status: str                   # READY, COMPUTING, WAITING or FAILED
    done: int = 0                 # images whose features are computed
    total: int = 0                # images to compute (0 before the data is read)
    error: str | None = None      # FAILED: why, in words
    digit_map: DigitMap | None = field(default=None, repr=False)
    features: HiddenFeatures | None = field(default=None, repr=False)
    train_images: np.ndarray | None = field(default=None, repr=False)  # what neighbours index
    failed_at: float = field(default=0.0, repr=False)

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 0.0

    def place(self, prepared: Prepared) -> Placement:
        """A ready map's placement of one drawing (its features, one pass)."""
        return self.digit_map.place(self.features(prepared.batch())[0])


Identity = tuple   # (ref, model file, its size, its modification time)


class DigitMaps:
    """Process-wide: `request` a model's map from any thread; a daemon thread computes."""

    def __init__(self, load_data: Callable, folder: Callable[[], Path] | None = None) -> None:
        self._load_data = load_data            # -> Dataset (waits for MNIST's reading)
        self._folder = folder                  # -> where map files go (default: lab home)
        self._lock = threading.Lock()
        self._states: OrderedDict[Identity, MapState] = OrderedDict()
        self._pending: tuple[Identity, Path, Callable] | None = None
        self._running: Identity | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def request(self, ref: str, model_file: str | os.PathLike,
                load_model: Callable[[], object]) -> MapState:
        """The state of `ref`'s map, starting its computation if it has none (at most one
        computes; the latest other request waits). `load_model` is called in the thread."""
        path = Path(model_file)
        stat = path.stat()
        identity = (ref, str(path), stat.st_size, stat.st_mtime_ns)
        with self._lock:
            state = self._states.get(identity)
            if state is not None:
                self._states.move_to_end(identity)
                retry = time.monotonic() - state.failed_at >= RETRY_AFTER_SECONDS
                if state.status != FAILED or not retry:
                    return state
            if self._running == identity:
                return self._states[identity]
            self._pending = (identity, path, load_model)
            if self._thread is None or not self._thread.is_alive():
                # "warm-": like the model warm-up, a thread running TensorFlow that the tests
                # let finish before the interpreter exits (tests/conftest.py)
                self._thread = threading.Thread(target=self._work, daemon=True,
                                                name="warm-digit-map")
                self._thread.start()
            return MapState(WAITING)

    def close(self, timeout: float = 30) -> None:
        """Stop the computation in progress (tests; a server shutting down)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _work(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                if self._pending is None:
                    self._thread = None
                    return
                identity, path, load_model = self._pending
                self._pending, self._running = None, identity
                state = self._states[identity] = MapState(COMPUTING)
                self._forget_old()
            try:
                self._compute(state, path, load_model)
            except Exception as e:   # shown on the page; the server keeps running
                _LOG.exception("the digit map of %s failed", identity[0])
                state.error, state.failed_at = str(e) or type(e).__name__, time.monotonic()
                state.status = FAILED
            finally:
                with self._lock:
                    self._running = None

    def _compute(self, state: MapState, path: Path, load_model: Callable) -> None:
        key = model_key(path)
        data = self._load_data()
        folder = self._folder() if self._folder else None
        train_labels = np.asarray(data.y_train, np.uint8)
        test_labels = np.asarray(data.y_test, np.uint8)
        features = HiddenFeatures(load_model())
        digit_map = load_map(key, train_labels, test_labels, folder)
        if digit_map is None:
            n_train = len(data.x_train)
            state.total = n_train + len(data.x_test)
            stopped = self._stop.is_set
            train = features.of_many(data.x_train, lambda n: setattr(state, "done", n), stopped)
            test = features.of_many(data.x_test,
                                    lambda n: setattr(state, "done", n_train + n), stopped)
            if self._stop.is_set():
                raise RuntimeError("the server is stopping")
            digit_map = build_map(key, train, train_labels, test, test_labels)
            save_map(digit_map, folder)
        state.features, state.train_images = features, data.x_train
        state.digit_map, state.done = digit_map, state.total
        state.status = READY   # last: a page that sees READY finds everything set

    def _forget_old(self) -> None:
        while len(self._states) > KEEP_IN_MEMORY + 1:   # + the one computing
            oldest = next(iter(self._states))
            if oldest == self._running:
                self._states.move_to_end(oldest)
                continue
            del self._states[oldest]
