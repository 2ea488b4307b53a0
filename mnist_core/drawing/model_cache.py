"""Loaded models by reference, shared by every session of a server, warmed before use.

Loading a Keras model and tracing its prediction functions takes seconds. A classroom server
must not make the first student wait for that, so the default model is loaded and run once on
a synthetic digit in a background thread as soon as the server serves its first page. Loads
are serialised per reference: two sessions asking at once load a model once.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import Callable

from mnist_core.drawing.inference import Predictor


class PredictorCache:
    """Thread-safe, least-recently-used cache of `Predictor`s (at most `max_models`)."""

    def __init__(self, locate: Callable[[str], Path], max_models: int = 8) -> None:
        self._locate = locate          # ref -> model file; raises KeyError for unknown refs
        self._max = max_models
        self._models: OrderedDict[str, Predictor] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[str, threading.Lock] = {}
        self._warming: dict[str, threading.Thread] = {}
        self.warm_error: str | None = None

    def is_loaded(self, ref: str) -> bool:
        with self._lock:
            return ref in self._models

    def get(self, ref: str) -> Predictor:
        with self._lock:
            if ref in self._models:
                self._models.move_to_end(ref)
                return self._models[ref]
            ref_lock = self._loading.setdefault(ref, threading.Lock())
        with ref_lock:  # one load per model, however many sessions ask at once
            with self._lock:
                if ref in self._models:
                    return self._models[ref]
            from mnist_core.model.files import load_checked

            predictor = Predictor(load_checked(self._locate(ref)))
            with self._lock:
                self._models[ref] = predictor
                while len(self._models) > self._max:
                    self._models.popitem(last=False)
            return predictor

    def warm_up_in_background(self, ref: str) -> threading.Thread:
        """Load `ref` and answer one synthetic drawing in a daemon thread, once per process.

        The first classification traces TensorFlow's functions; doing it here means no
        student pays for it. A failure is kept in `warm_error`; the model then loads (and
        reports its error) on first use as before."""
        with self._lock:
            if ref in self._warming:
                return self._warming[ref]
            thread = threading.Thread(target=self._warm, args=(ref,), daemon=True,
                                      name=f"warm-{ref}")
            self._warming[ref] = thread
        thread.start()
        return thread

    def _warm(self, ref: str) -> None:
        try:
            from mnist_core.drawing.synthetic import drawn_digits

            images, _ = drawn_digits(1, seed=0)
            predictor = self.get(ref)
            predictor.explain(predictor.classify(images[0]).prepared)   # "Where it looked" too
        except Exception as e:  # surfaced on first real use; never kills the server
            self.warm_error = str(e) or type(e).__name__
