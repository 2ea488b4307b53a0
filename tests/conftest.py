"""Shared fixtures, and the kind of every test. MNIST comes from $MNIST_DATA_DIR
(CI: ../shared/mnist), never a download. Helpers that are not fixtures: tests/helpers.py.

Markers (registered in pytest.ini), given here at collection unless a test sets its own:
  e2e   tests under tests/e2e: a real browser against a real server;
  app   modules that drive the pages with Streamlit's AppTest (each test starts with empty
        process-wide caches: `fresh_resources`);
  unit  the rest: the core (and a few ui/ functions called directly), no AppTest, no browser.
  slow  set by hand (`pytestmark` or a decorator): a test that trains for real, starts
        TensorFlow in another process, or takes more than a few seconds.
Everyday: `python -m pytest -m "not slow and not e2e"`; CI runs everything.
"""
from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("MNIST_DATA_DIR", str((ROOT.parent / "shared" / "mnist").resolve()))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# The app trains in a child process (mnist_core.jobs.child_training.ProcessTrainingJob):
# tests/test_process_jobs.py and the browser tests cover that. Elsewhere a thread is enough,
# and a few seconds faster per run.
os.environ.setdefault("MNIST_LAB_TRAINING", "thread")

from mnist_core import settings  # noqa: E402  (after the environment above)

_BUNDLED_MODEL = Path(settings.BUNDLED_MODEL)   # as shipped, before any test patches it

KINDS = ("unit", "app", "e2e")


def pytest_collection_modifyitems(config, items):
    """Give each test its kind (KINDS), unless it is marked with one already."""
    e2e = Path(__file__).resolve().parent / "e2e"
    kinds: dict[Path, str] = {}   # per file
    for item in items:
        if any(item.get_closest_marker(kind) for kind in KINDS):
            continue
        path = Path(item.path)
        if path not in kinds:
            kinds[path] = ("e2e" if e2e in path.parents else
                           "app" if _uses_apptest(getattr(item, "module", None)) else "unit")
        item.add_marker(kinds[path])


def _uses_apptest(module) -> bool:
    """Whether a test module drives pages: it holds AppTest, or the helper that opens a page."""
    from tests.helpers import open_page

    if module is None:
        return False
    testing = sys.modules.get("streamlit.testing.v1")   # imported already if the module did
    app_test = testing.AppTest if testing is not None else open_page
    return any(value is open_page or value is app_test for value in vars(module).values())


@pytest.fixture(autouse=True)
def lab_home(tmp_path, monkeypatch) -> Path:
    """Every test gets its own empty lab home: no test sees another's runs."""
    home = tmp_path / "lab"
    monkeypatch.setenv("MNIST_LAB_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def mnist():
    from mnist_core.data.mnist import load_mnist

    return load_mnist(allow_download=False)


@pytest.fixture(scope="session")
def small_mnist(mnist):
    """3,000 training and 1,000 test images: enough to learn, quick enough for CI."""
    from mnist_core.data.dataset import Dataset

    return Dataset(mnist.x_train[:3000], mnist.y_train[:3000], mnist.x_test[:1000],
                   mnist.y_test[:1000], "MNIST subset")


@pytest.fixture(scope="session")
def synthetic_digits():
    """A seeded stand-in for MNIST where real MNIST is not the point: 3,000 training and 1,000
    test images of digits drawn by mnist_core.drawing.synthetic's hands (float32 (N, 28, 28, 1)
    in [0, 1], labels balanced), made in about a second. A fast preset learns them in an epoch
    or two; `limit(n)` takes fewer."""
    from mnist_core.data.dataset import Dataset, to_float_images

    images, labels = _synthetic_images(4000, seed=0)
    images = to_float_images(images)
    return Dataset(images[:3000], labels[:3000], images[3000:], labels[3000:],
                   "synthetic digits")


def _synthetic_images(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """`n` uint8 (n, 28, 28) digits, MNIST-like: each drawing's strokes scaled into a 20-pixel
    box centred in 28x28 and drawn anti-aliased 1-4 pixels wide; labels shuffled, balanced."""
    import cv2

    from mnist_core.drawing.synthetic import stroke_paths

    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n) % 10)
    images = np.zeros((n, 28, 28), np.uint8)
    for image, digit in zip(images, labels):
        strokes, width = stroke_paths(int(digit), rng)
        points = np.vstack(strokes)
        lo, hi = points.min(axis=0) - width / 2, points.max(axis=0) + width / 2
        scale = 20 / (hi - lo).max()
        offset = 14 - (lo + hi) / 2 * scale
        thickness = int(np.clip(round(width * scale), 1, 4))
        for stroke in strokes:
            pixels = np.round((stroke * scale + offset) * 16).astype(np.int32)  # shift=4
            cv2.polylines(image, [pixels.reshape(-1, 1, 2)], False, 255, thickness,
                          cv2.LINE_AA, shift=4)
    return images, labels.astype(np.int64)


@pytest.fixture
def synthetic_app_data(monkeypatch, synthetic_digits):
    """The app (ui.resources) reads `synthetic_digits` where it would read MNIST: page tests
    that only need some digits to train on, evaluate or show."""
    from mnist_core.data.dataset import compact
    from ui import resources

    data = compact(synthetic_digits)   # as the server keeps MNIST: uint8
    monkeypatch.setattr(resources, "_mnist_reading", lambda: lambda: data)
    return data


@pytest.fixture
def fresh_resources():
    """Empty process-wide caches (st.cache_resource) before and after the test, so that it
    sees its own lab home, store, jobs and models; a job it left running is stopped."""
    import streamlit as st

    from ui import resources

    st.cache_resource.clear()
    yield
    job = resources.job_registry().current
    if job is not None:
        job.stop()
        job.join(timeout=60)
    st.cache_resource.clear()


@pytest.fixture(autouse=True)
def _fresh_resources_for_app_tests(request):
    if request.node.get_closest_marker("app") is not None:
        request.getfixturevalue("once_per_process")
        request.getfixturevalue("fresh_resources")


_step_timings: dict = {}
_bundled: dict = {}
_bundled_lock = threading.Lock()


@pytest.fixture
def once_per_process(monkeypatch):
    """What a server does once in its life, done once per test session (every `app` test has
    it): timing an architecture's training steps (mnist_core.training.estimate, kept by
    ui.resources.step_timing), and loading and tracing the bundled model for the pages'
    predictions (mnist_core.drawing.model_cache). Neither depends on the lab home or the test;
    redoing both after every `fresh_resources` cost seconds of CPU per page test.

    A test still gets its own where it patches time_steps (its patch comes later) or the
    bundled model's file (settings.BUNDLED_MODEL); the shared model only ever predicts (a
    fine-tune loads its own copy through mnist_core.model.files)."""
    from mnist_core.drawing.inference import Predictor
    from mnist_core.drawing.model_cache import PredictorCache
    from mnist_core.lab.runs import BUNDLED
    from mnist_core.model.files import load_checked
    from mnist_core.training import estimate

    time_steps, get, is_loaded = estimate.time_steps, PredictorCache.get, PredictorCache.is_loaded

    def timed_once(spec, batch_size, precision="auto", augmentation=None):
        key = (repr(spec.to_dict()["layers"]), batch_size, precision, repr(augmentation))
        if key not in _step_timings:
            _step_timings[key] = time_steps(spec, batch_size, precision, augmentation)
        return _step_timings[key]

    def the_bundled(ref) -> bool:
        return ref == BUNDLED and Path(settings.BUNDLED_MODEL) == _BUNDLED_MODEL

    def shared_get(cache, ref):
        if not the_bundled(ref):
            return get(cache, ref)
        with _bundled_lock:
            if "predictor" not in _bundled:
                _bundled["predictor"] = Predictor(load_checked(_BUNDLED_MODEL))
            return _bundled["predictor"]

    monkeypatch.setattr(estimate, "time_steps", timed_once)
    monkeypatch.setattr(PredictorCache, "get", shared_get)
    monkeypatch.setattr(PredictorCache, "is_loaded",
                        lambda cache, ref: the_bundled(ref) or is_loaded(cache, ref))


@pytest.fixture(scope="session")
def bundled_model():
    from mnist_core import settings
    from mnist_core.model.files import load_checked

    return load_checked(settings.BUNDLED_MODEL)


def pytest_sessionfinish(session, exitstatus):
    """Let background threads that run TensorFlow (the app's model warm-up, training jobs)
    finish before the interpreter shuts down: TensorFlow aborting in a half-torn-down process
    would turn a green run into a crash."""
    for thread in threading.enumerate():
        if thread.daemon and thread.name.startswith(("warm-", "train-")):
            thread.join(timeout=60)


class FakeCanvas:
    """The Draw page's canvas, for AppTest (which has no browser to draw in): `show(image)`
    makes the page's canvas hold a drawing that renders to `image` (an RGBA canvas array, as
    mnist_core.drawing.synthetic draws them) from the next run on. Like the real canvas, the
    drawing belongs to the canvas generation it was drawn in: Clear, or a save, empties it."""

    def __init__(self, monkeypatch):
        from mnist_core.drawing import strokes

        self.image, self.generation = None, None
        self._render = strokes.render_strokes
        monkeypatch.setattr("ui.canvas.draw_canvas", self._draw_canvas)
        monkeypatch.setattr(strokes, "render_strokes", self._render_strokes)

    def show(self, image: np.ndarray) -> None:
        self.image, self.generation = image, None

    def _draw_canvas(self, *, generation: int = 0, **_):
        if self.image is None:
            return None
        if self.generation is None:   # drawn in the generation the page shows now
            self.generation = generation
        return [self.image] if generation == self.generation else None

    def _render_strokes(self, drawn, width):
        if drawn and drawn[0] is self.image:
            return self.image
        return self._render(drawn, width)


@pytest.fixture
def fake_canvas(monkeypatch) -> FakeCanvas:
    return FakeCanvas(monkeypatch)
