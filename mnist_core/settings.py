"""Where the lab keeps its files, decided in one place.

Everything is overridable by environment variables so that tests, CI and classroom servers can
point the lab elsewhere without code changes.
"""
from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ASSETS_DIR = PROJECT_ROOT / "assets"
BUNDLED_MODEL = ASSETS_DIR / "model.keras"
BUNDLED_MODEL_CARD = ASSETS_DIR / "model.json"

#: Variable naming a folder that holds MNIST (IDX files, mnist.npz or Kaggle CSVs).
DATA_DIR_ENV = "MNIST_DATA_DIR"
#: Variable naming the lab's home folder (SQLite store, trained models).
HOME_ENV = "MNIST_LAB_HOME"


def lab_home() -> Path:
    """The folder for the run store and trained models; outside the repo by default."""
    configured = os.environ.get(HOME_ENV)
    return Path(configured).expanduser() if configured else Path.home() / ".mnist-lab"


def project_data_dir() -> Path:
    """The conventional `data/` folder of the project, searched after the environment variable."""
    return PROJECT_ROOT / "data"
