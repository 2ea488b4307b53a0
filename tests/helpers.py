"""Helpers shared by test modules (not a test module: pytest collects nothing here).

Test modules import from here, never from each other or from a conftest; fixtures live in
tests/conftest.py. Streamlit and OpenCV are imported inside the helpers that need them, so
importing this module stays cheap for the core's unit tests.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from mnist_core.model.spec import ModelSpec, layer
from mnist_core.training.config import TrainConfig

ROOT = Path(__file__).resolve().parent.parent


# --- pages under AppTest ----------------------------------------------------------------------

TIMEOUT = 120  # TensorFlow's import alone exceeds AppTest's default 3 s


def by_label(elements, label):
    return next(e for e in elements if e.label == label)


def open_page(page: str | None = None):
    """The app as AppTest runs it, on Home or switched to `page` ("pages/3_Draw.py")."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=TIMEOUT)
    at.run()
    if page:
        at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def tap(monkeypatch, at, digit: int):
    """Stand in for a tap on the Draw page's row of digits: it reports `digit` in the next run
    only (a trigger), then nothing, as the real component does."""
    import ui.canvas as draw_canvas

    taps = [digit]
    monkeypatch.setattr(draw_canvas, "digit_row", lambda **kwargs: taps.pop() if taps else None)
    return at.run()


TEACHER_KEY = "owl-7-maple"


def unlock(at, key: str):
    """Type `key` into the sidebar's teacher form and press Unlock."""
    at.sidebar.text_input(key="teacher_key_attempt").input(key)
    at.sidebar.button[0].click().run()  # the form's "Unlock" submit button
    return at


# --- the lab's records ------------------------------------------------------------------------

#: What the version before architectures-as-data recorded: a preset name and hyperparameters.
OLD_SCHEMA = {"preset": "tutorial", "epochs": 2, "batch_size": 250, "learning_rate": 0.001,
              "augment": False, "validation_fraction": 0.1, "limit": 2000, "seed": 0,
              "precision": "auto"}
#: A tiny architecture (conv, pool, flatten, softmax): cheap to build.
SMALL_SPEC = ModelSpec("small", (layer("conv2d", filters=4), layer("maxpool"), layer("flatten"),
                                 layer("dense", units=10, activation="softmax")))


def config_with_spec(spec: dict) -> dict:
    """A current run config whose architecture is `spec`, as a record holds it (even one the
    lab would refuse)."""
    return {**TrainConfig(spec=SMALL_SPEC, preset="custom", epochs=1).to_dict(), "spec": spec}


class FakeModel:
    """Stands in for a Keras model: the store only asks it to save itself."""

    def save(self, path):
        Path(path).write_bytes(b"not a real model")


# --- the command line -------------------------------------------------------------------------

def run_cli(*args, timeout=300) -> subprocess.CompletedProcess:
    """`python -m mnist_core ARGS` as a user runs it, in the project root."""
    return subprocess.run([sys.executable, "-m", "mnist_core", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT, env=os.environ.copy())


def assert_clean_error(proc, fragment):
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().startswith("error:") and fragment in proc.stderr


# --- drawings ---------------------------------------------------------------------------------

def stroke_canvas(points, width=18, size=280) -> np.ndarray:
    """A canvas-like RGBA array with one white polyline on black."""
    import cv2

    grey = np.zeros((size, size), np.uint8)
    cv2.polylines(grey, [np.array(points, np.int32).reshape(-1, 1, 2)], False, 255, width,
                  cv2.LINE_AA)
    return np.dstack([grey, grey, grey, np.full_like(grey, 255)])
