"""Shared fixtures. MNIST comes from $MNIST_DATA_DIR (CI: ../shared/mnist), never a download."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("MNIST_DATA_DIR", str((ROOT.parent / "shared" / "mnist").resolve()))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# The app trains in a child process (mnist_core.jobs.registry.ProcessTrainingJob): tests/test_process_jobs.py
# and the browser tests cover that. Elsewhere a thread is enough, and a few seconds faster per run.
os.environ.setdefault("MNIST_LAB_TRAINING", "thread")


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
    from mnist_core.data.mnist import Dataset

    return Dataset(mnist.x_train[:3000], mnist.y_train[:3000], mnist.x_test[:1000],
                   mnist.y_test[:1000], "MNIST subset")


@pytest.fixture(scope="session")
def bundled_model():
    from mnist_core import settings
    from mnist_core.model.files import load_checked

    return load_checked(settings.BUNDLED_MODEL)


def stroke_canvas(points, width=18, size=280) -> np.ndarray:
    """A canvas-like RGBA array with one white polyline on black."""
    import cv2

    grey = np.zeros((size, size), np.uint8)
    cv2.polylines(grey, [np.array(points, np.int32).reshape(-1, 1, 2)], False, 255, width,
                  cv2.LINE_AA)
    return np.dstack([grey, grey, grey, np.full_like(grey, 255)])


def pytest_sessionfinish(session, exitstatus):
    """Let background threads that run TensorFlow (the app's model warm-up, training jobs)
    finish before the interpreter shuts down: TensorFlow aborting in a half-torn-down process
    would turn a green run into a crash."""
    import threading

    for thread in threading.enumerate():
        if thread.daemon and thread.name.startswith(("warm-", "train-")):
            thread.join(timeout=60)
