"""Digit maps kept on disk, one file per model, so a map is computed once per model, ever.

A map is keyed by the model FILE's content (SHA-256), not its name: a retrained or fine-tuned
model is a new file and gets a new map, while the same model under another name (a copy, the
bundled model after a restart) reuses its map. Files are written atomically (a temporary file,
then a rename), read without pickle, and checked against the data they were made from; a file
that cannot be read, or no longer matches, is simply computed again.
"""
from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path

import numpy as np

from mnist_core import settings
from mnist_core.drawing.digit_map import DigitMap, Projection

#: Bumped whenever what a map file holds, or how it is computed, changes: older files are
#: then ignored (and replaced), never misread.
FORMAT = 1
_LOG = logging.getLogger(__name__)


def maps_dir() -> Path:
    """Where map files live: `maps/` in the lab home, beside `models/`."""
    return settings.lab_home() / "maps"


def model_key(model_file: str | os.PathLike) -> str:
    """The map key of a model: the format and a digest of its file's bytes."""
    digest = hashlib.sha256()
    with open(model_file, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return f"v{FORMAT}-{digest.hexdigest()[:32]}"


def map_file(key: str, folder: Path | None = None) -> Path:
    return (folder or maps_dir()) / f"{key}.npz"


def save_map(digit_map: DigitMap, folder: Path | None = None) -> Path | None:
    """Write the map atomically; None (and a log line) where the home cannot be written: the
    map still works from memory until the server stops."""
    path = map_file(digit_map.key, folder)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".map-", suffix=".npz", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                # float16 features: half the disk, and neighbours come out the same
                np.savez(f, key=np.array(digit_map.key), positions=digit_map.positions,
                         test_labels=digit_map.test_labels,
                         train_features=digit_map.train_features.astype(np.float16),
                         train_labels=digit_map.train_labels, mean=digit_map.projection.mean,
                         directions=digit_map.projection.directions)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path
    except OSError as e:
        _LOG.warning("the digit map could not be saved to %s (%s): kept in memory only", path, e)
        return None


def load_map(key: str, train_labels: np.ndarray, test_labels: np.ndarray,
             folder: Path | None = None) -> DigitMap | None:
    """The saved map for `key` if there is one that is whole and made from these labels;
    None otherwise (missing, damaged, truncated, or from other data: compute it again)."""
    path = map_file(key, folder)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {name: f[name] for name in ("key", "positions", "test_labels",
                                                 "train_features", "train_labels", "mean",
                                                 "directions")}
        width = arrays["mean"].shape[0]
        ok = (str(arrays["key"]) == key
              and arrays["positions"].shape == (len(test_labels), 2)
              and np.array_equal(arrays["test_labels"], test_labels)
              and np.array_equal(arrays["train_labels"], train_labels)
              and arrays["train_features"].shape == (len(train_labels), width)
              and arrays["directions"].shape == (width, 2)
              and all(np.isfinite(arrays[n]).all() for n in ("positions", "mean", "directions")))
        if not ok:
            raise ValueError("it does not match this model's data")
    except Exception as e:   # any damage at all: recompute, never a traceback for a student
        _LOG.warning("digit map %s is unusable (%s): computing it again", path, e)
        return None
    return DigitMap(key, arrays["positions"].astype(np.float32),
                    arrays["test_labels"].astype(np.uint8),
                    np.ascontiguousarray(arrays["train_features"], np.float32),
                    arrays["train_labels"].astype(np.uint8),
                    Projection(arrays["mean"].astype(np.float32),
                               arrays["directions"].astype(np.float32)))
