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
#: Variable capping how many drawings the class set keeps (a flood of saves cannot fill the disk).
MAX_DRAWINGS_ENV = "MNIST_LAB_MAX_DRAWINGS"
DEFAULT_MAX_DRAWINGS = 50_000
#: Of the class set's cap, the share one device may fill: a device keeps at most cap / 25
#: drawings (2,000 of 50,000), so no single device can fill it.
DEVICE_SHARE_OF_DRAWINGS = 25
#: Variable listing the addresses of reverse proxies in front of the server (comma-separated),
#: whose X-Forwarded-For header then names the device (mnist_core.lab.devices).
TRUSTED_PROXIES_ENV = "MNIST_LAB_TRUSTED_PROXIES"


def lab_home() -> Path:
    """The folder for the run store and trained models; outside the repo by default."""
    configured = os.environ.get(HOME_ENV)
    return Path(configured).expanduser() if configured else Path.home() / ".mnist-lab"


def project_data_dir() -> Path:
    """The conventional `data/` folder of the project, searched after the environment variable."""
    return PROJECT_ROOT / "data"


def max_drawings() -> int:
    """The most saved drawings the store keeps; 50,000 (about 60 MB) unless configured.

    Read at each save, so a test or a restarted server sees a changed value. A value that is
    not a positive whole number is a ValueError naming the variable, never silently ignored.
    """
    raw = os.environ.get(MAX_DRAWINGS_ENV, "").strip().replace("_", "")
    if not raw:
        return DEFAULT_MAX_DRAWINGS
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"{MAX_DRAWINGS_ENV} must be a positive whole number, got "
                         f"{os.environ[MAX_DRAWINGS_ENV]!r}")
    return value


def max_drawings_per_device() -> int:
    """The most saved drawings one device (client address) may have in the class set."""
    return max(1, max_drawings() // DEVICE_SHARE_OF_DRAWINGS)


def trusted_proxies() -> frozenset[str]:
    """The reverse proxies' addresses whose X-Forwarded-For header is believed (none unless
    configured)."""
    raw = os.environ.get(TRUSTED_PROXIES_ENV, "")
    return frozenset(part.strip() for part in raw.split(",") if part.strip())


#: Variable choosing where the app's trainings run: "process" (the default: a child process at
#: lower priority, so drawing students are answered first) or "thread" (in the server's own
#: process, as before; tests use it to keep CI fast).
TRAINING_ENV = "MNIST_LAB_TRAINING"
#: Variable: how much lower a training child's priority is (os.nice; unset: 10, 0: the same).
TRAIN_NICE_ENV = "MNIST_LAB_TRAIN_NICE"


def train_in_child_process() -> bool:
    """Whether the app's trainings run in a child process: True unless MNIST_LAB_TRAINING says
    "thread" (then in a thread of the server's own process); any other value is a ValueError."""
    value = os.environ.get(TRAINING_ENV, "process").strip().lower() or "process"
    if value not in ("process", "thread"):
        raise ValueError(f"{TRAINING_ENV} must be 'process' or 'thread', got "
                         f"{os.environ[TRAINING_ENV]!r}")
    return value == "process"


def _whole(name: str, default: int | None, low: int, high: int) -> int | None:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise ValueError(f"{name} must be a whole number from {low} to {high}, got {raw!r}")
    return value


def train_nice() -> int:
    """The training child's niceness increment (0-19; 10 by default)."""
    return _whole(TRAIN_NICE_ENV, 10, 0, 19)
