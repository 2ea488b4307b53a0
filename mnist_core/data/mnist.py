"""Finding, reading and checking MNIST, whatever form it arrives in.

Supported sources: the four official IDX files (gzip-compressed or raw), Keras' `mnist.npz`,
and the Kaggle "Digit Recognizer" CSVs (mnist_core.data.kaggle). Bad files are refused with a
message that says what is wrong and where, because silently wrong training data is the worst
failure a lab can have. What they load is a `mnist_core.data.dataset.Dataset`.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import struct
import threading
from pathlib import Path
from typing import Callable

import numpy as np

from mnist_core import settings
from mnist_core.data.dataset import DataError, Dataset, compact, to_float_images
from mnist_core.data.kaggle import load_kaggle_train

#: MD5 of the *uncompressed* official files, as published with MNIST.
OFFICIAL_MD5 = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}


# --- IDX --------------------------------------------------------------------------------------

def _read_maybe_gzip(path: Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except (EOFError, gzip.BadGzipFile, OSError, Exception) as e:  # zlib.error is not OSError
        raise DataError(f"{path}: cannot be read ({type(e).__name__}: {e}); the file is "
                        "truncated or corrupt, download it again") from e


def read_idx(path: Path, verify_md5: bool = True) -> np.ndarray:
    """Parse one IDX file (images: magic 2051, labels: magic 2049) into a uint8 array."""
    raw = _read_maybe_gzip(path)
    name = path.name.removesuffix(".gz")
    expected = OFFICIAL_MD5.get(name)
    if verify_md5 and expected and hashlib.md5(raw).hexdigest() != expected:
        raise DataError(f"{path}: checksum mismatch (MD5 of the uncompressed content is "
                        f"{hashlib.md5(raw).hexdigest()}, expected {expected}); the file is "
                        "damaged or not the official MNIST file")
    if len(raw) < 8:
        raise DataError(f"{path}: too short to be an IDX file ({len(raw)} bytes)")
    magic, count = struct.unpack(">II", raw[:8])
    if magic == 2049:
        dims, offset = (count,), 8
    elif magic == 2051:
        if len(raw) < 16:
            raise DataError(f"{path}: IDX image header is truncated")
        rows, cols = struct.unpack(">II", raw[8:16])
        dims, offset = (count, rows, cols), 16
        if (rows, cols) != (28, 28):
            raise DataError(f"{path}: images are {rows}x{cols}, MNIST images are 28x28")
    else:
        raise DataError(f"{path}: wrong magic number {magic:#010x}; expected 0x00000801 "
                        "(labels) or 0x00000803 (images)")
    needed = offset + int(np.prod(dims))
    if len(raw) != needed:
        raise DataError(f"{path}: {len(raw)} bytes but the header announces {needed}; "
                        "the file is truncated or has trailing garbage")
    return np.frombuffer(raw, dtype=np.uint8, offset=offset).reshape(dims)


def _find_idx(folder: Path, stem: str) -> Path | None:
    for candidate in (folder / f"{stem}.gz", folder / stem, folder / stem.replace("-idx", ".idx")):
        if candidate.is_file():
            return candidate
    return None


def load_idx_folder(folder: Path) -> Dataset:
    stems = list(OFFICIAL_MD5)
    paths = {stem: _find_idx(folder, stem) for stem in stems}
    missing = [s for s, p in paths.items() if p is None]
    if missing:
        raise DataError(f"{folder}: missing IDX file(s): {', '.join(missing)} (.gz or raw)")
    arrays = {stem: read_idx(p) for stem, p in paths.items()}
    x_tr, y_tr = arrays["train-images-idx3-ubyte"], arrays["train-labels-idx1-ubyte"]
    x_te, y_te = arrays["t10k-images-idx3-ubyte"], arrays["t10k-labels-idx1-ubyte"]
    for x, y, kind in ((x_tr, y_tr, "train"), (x_te, y_te, "test")):
        if len(x) != len(y):
            raise DataError(f"{folder}: {kind} images ({len(x)}) and labels ({len(y)}) differ "
                            "in count")
        _check_labels(y, f"{folder} ({kind} labels)")
    return Dataset(to_float_images(x_tr), y_tr.astype(np.int64), to_float_images(x_te),
                   y_te.astype(np.int64), f"MNIST IDX files in {folder}")


def _check_labels(y: np.ndarray, where: str) -> None:
    bad = np.flatnonzero((y < 0) | (y > 9))
    if bad.size:
        raise DataError(f"{where}: label {int(y[bad[0]])} at index {int(bad[0])} is outside 0-9")


# --- Keras npz --------------------------------------------------------------------------------

def load_npz(path: Path) -> Dataset:
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in ("x_train", "y_train", "x_test", "y_test")}
    except KeyError as e:
        raise DataError(f"{path}: not a Keras mnist.npz (missing array {e})") from e
    except Exception as e:
        raise DataError(f"{path}: cannot be read as .npz ({type(e).__name__}: {e})") from e
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.ndim != 3 or x.shape[1:] != (28, 28) or len(x) != len(y):
            raise DataError(f"{path}: x_{split} has shape {x.shape} and y_{split} {y.shape}; "
                            "expected (N, 28, 28) and (N,)")
        _check_labels(y, f"{path} (y_{split})")
    return Dataset(to_float_images(arrays["x_train"]), arrays["y_train"].astype(np.int64),
                   to_float_images(arrays["x_test"]), arrays["y_test"].astype(np.int64),
                   f"Keras mnist.npz at {path}")


# --- Lookup -----------------------------------------------------------------------------------

def _load_location(path: Path) -> Dataset | None:
    """Load whatever MNIST form `path` holds; None if it holds nothing recognisable."""
    if path.is_file():
        if path.suffix == ".npz":
            return load_npz(path)
        if path.suffix == ".csv":
            return load_kaggle_train(path)
        raise DataError(f"{path}: unsupported file type; give a folder of IDX files, a "
                        "mnist.npz or a Kaggle train.csv")
    if not path.is_dir():
        return None
    if any(_find_idx(path, stem) for stem in OFFICIAL_MD5):
        return load_idx_folder(path)  # partial sets raise: better than silently falling through
    if (path / "mnist.npz").is_file():
        return load_npz(path / "mnist.npz")
    if (path / "train.csv").is_file():
        return load_kaggle_train(path / "train.csv")
    return None


def keras_cache_file() -> Path:
    base = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))
    return base / "datasets" / "mnist.npz"


def load_mnist(path: str | os.PathLike | None = None, *, allow_download: bool = True) -> Dataset:
    """Find MNIST: explicit path, then $MNIST_DATA_DIR, then ./data, then Keras' cache, then a
    download through Keras. A corrupt source is an error, never skipped: wrong data must not
    slip through. If nothing is found, the error lists every place tried."""
    tried: list[str] = []
    candidates: list[tuple[str, Path]] = []
    if path is not None:
        candidates.append(("the path given", Path(path).expanduser()))
    if os.environ.get(settings.DATA_DIR_ENV):
        candidates.append((f"${settings.DATA_DIR_ENV}",
                           Path(os.environ[settings.DATA_DIR_ENV]).expanduser()))
    candidates.append(("the project's data/ folder", settings.project_data_dir()))
    candidates.append(("Keras' cache", keras_cache_file()))
    for label, candidate in candidates:
        dataset = _load_location(candidate)
        if dataset is not None:
            return dataset
        tried.append(f"{label}: {candidate} (nothing found)")
        if label == "the path given":
            break  # the user named a place: looking elsewhere would surprise them
    if allow_download and path is None:
        try:
            import keras

            keras.datasets.mnist.load_data()
            return load_npz(keras_cache_file())
        except Exception as e:  # any network or HTTP failure
            tried.append(f"download through keras.datasets.mnist ({type(e).__name__}: "
                         f"{str(e).splitlines()[0][:120] if str(e) else 'failed'})")
    raise DataError("MNIST was not found. Tried:\n  - " + "\n  - ".join(tried) +
                    f"\nFix: put the four official IDX files (or mnist.npz) in "
                    f"{settings.project_data_dir()}, or set {settings.DATA_DIR_ENV} to a "
                    "folder holding them, or connect to the internet once to let Keras "
                    "download them.")


def start_loading_mnist(path: str | os.PathLike | None = None, *,
                        as_uint8: bool = False) -> Callable[[], Dataset]:
    """Start reading MNIST from disk on a thread and return a waiter: calling it waits for the
    dataset. With `as_uint8`, the images are kept as uint8 (`compact`: what a server keeps, a
    quarter of float32's memory; `expanded` gives the float32 images back).

    Why: a command-line run imports TensorFlow and then reads MNIST; both are mostly C code
    that lets go of the GIL, so on two cores the reading hides inside the import
    (docs/benchmarks.md, "Does `fast` beat the Keras example?").
    The thread never downloads (that needs Keras, and importing it from two threads at once
    invites deadlock): if it finds nothing, or anything goes wrong, the waiter runs the
    caller's own `load_mnist`, which says what is wrong, or downloads."""
    found: dict[str, Dataset] = {}
    shrink = compact if as_uint8 else (lambda dataset: dataset)

    def read() -> None:
        try:
            found["dataset"] = shrink(load_mnist(path, allow_download=False))
        except Exception:
            pass   # the caller loads again and reports it

    thread = threading.Thread(target=read, name="mnist-read", daemon=True)
    thread.start()

    def result() -> Dataset:
        thread.join()
        if "dataset" not in found:
            found["dataset"] = shrink(load_mnist(path))
        return found["dataset"]

    return result
