"""Finding, reading and checking MNIST, whatever form it arrives in.

Supported sources: the four official IDX files (gzip-compressed or raw), Keras' `mnist.npz`,
and the Kaggle "Digit Recognizer" CSVs. Bad files are refused with a message that says what is
wrong and where, because silently wrong training data is the worst failure a lab can have.
"""
from __future__ import annotations

import csv
import gzip
import hashlib
import io
import os
import re
import struct
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from mnist_core import settings
from mnist_core.untrusted import short

IMAGE_SHAPE = (28, 28, 1)
NUM_CLASSES = 10

#: MD5 of the *uncompressed* official files, as published with MNIST.
OFFICIAL_MD5 = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}
KAGGLE_PIXELS = [f"pixel{i}" for i in range(784)]


class DataError(Exception):
    """A data source is missing, corrupt or malformed; the message says how to fix it."""


@dataclass(frozen=True)
class Dataset:
    """Images as float32 in [0, 1] with shape (N, 28, 28, 1); labels as int64 in 0..9.

    `x_test`/`y_test` are None when the source has no labelled test set (a Kaggle train.csv).
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray | None
    y_test: np.ndarray | None
    source: str

    def limit(self, n: int | None) -> "Dataset":
        """The first `n` training images (and at most `n` test images): quick runs for tests."""
        if not n:
            return self
        cut = lambda a: None if a is None else a[:n]  # noqa: E731
        return Dataset(self.x_train[:n], self.y_train[:n], cut(self.x_test), cut(self.y_test),
                       f"{self.source} (first {n})")


def to_float_images(pixels: np.ndarray) -> np.ndarray:
    """uint8 (N, 28, 28) or (N, 784) -> float32 (N, 28, 28, 1) in [0, 1].

    One pass into a preallocated array: the same values as `float32(pixels) / 255` without
    a 220 MB float32 temporary for the 70,000 MNIST images (less memory, and a little faster:
    what it costs is mostly the OS handing out fresh memory, 0.06-0.3 s)."""
    pixels = np.asarray(pixels)
    images = np.empty(pixels.shape, np.float32)
    np.divide(pixels, np.float32(255), out=images, dtype=np.float32)
    return images.reshape((-1, *IMAGE_SHAPE))


def float_images(images: np.ndarray) -> np.ndarray:
    """Images as float32 in [0, 1], (N, 28, 28, 1): uint8 pixels as `to_float_images` makes
    them, float images as they are. For code that takes MNIST whether or not it is `compact`."""
    images = np.asarray(images)
    if images.dtype == np.uint8:
        return to_float_images(images)
    return np.asarray(images, np.float32).reshape((-1, *IMAGE_SHAPE))


def compact(dataset: Dataset) -> Dataset:
    """The dataset with its images as uint8 when that is exact (MNIST's are k/255): a quarter
    of the bytes, to keep in a server (55 MB instead of 220 MB for MNIST) or send to a training
    child; `expanded` gives back the very same float32 images. Images that are not exactly
    k/255 (or already uint8) are left as they are."""
    def small(x, chunk=2048):
        if x is None or x.dtype != np.float32:
            return x
        pixels = np.empty(x.shape, np.uint8)
        # 6 MB temporaries at a time, not 4 copies of MNIST; in a thread (the server reads
        # MNIST in one) 25 MB ones left 47 MB behind in glibc's heap for good.
        for start in range(0, len(x), chunk):
            part = x[start:start + chunk]
            scaled = np.rint(part * np.float32(255))
            if scaled.size and (scaled.min() < 0 or scaled.max() > 255):
                return x
            pixels[start:start + chunk] = scaled
            if not np.array_equal(pixels[start:start + chunk].astype(np.float32) / 255.0, part):
                return x
        return pixels

    return Dataset(small(dataset.x_train), dataset.y_train, small(dataset.x_test),
                   dataset.y_test, dataset.source)


def expanded(dataset: Dataset) -> Dataset:
    """The reverse of `compact`: float32 images in [0, 1] (the same values as before
    compacting); a dataset whose images are float already is returned as it is."""
    def big(x):
        return float_images(x) if x is not None and x.dtype == np.uint8 else x

    if all(x is None or x.dtype != np.uint8 for x in (dataset.x_train, dataset.x_test)):
        return dataset
    return Dataset(big(dataset.x_train), dataset.y_train, big(dataset.x_test), dataset.y_test,
                   dataset.source)


def split_validation(x: np.ndarray, y: np.ndarray, fraction: float, seed: int = 0):
    """Hold out a reproducible random `fraction` of (x, y): returns (x_tr, y_tr, x_val, y_val)."""
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"validation fraction must be in [0, 1), got {fraction}")
    n_val = int(round(len(x) * fraction))
    if fraction > 0 and (n_val < 1 or n_val >= len(x)):
        raise ValueError(f"validation fraction {fraction} leaves no data on one side of "
                         f"{len(x)} images")
    order = np.random.default_rng(seed).permutation(len(x))
    val, train = order[:n_val], order[n_val:]
    return x[train], y[train], x[val], y[val]


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


# --- Kaggle CSV -------------------------------------------------------------------------------

#: The longest header or row line read before the file is parsed: a Kaggle header is under
#: 7,000 characters and a row under 3,200 (785 cells of "255,"). A first line running on for
#: megabytes (millions of columns) is no Kaggle CSV, and is refused having read only this much.
MAX_LINE_BYTES = 16 * 1024
_NA_VALUES = ["", "nan", "NaN", "NA"]


def read_kaggle_csv(source, *, labelled: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """Read a Kaggle Digit Recognizer CSV (path or file object), validating every cell.

    `labelled=True` expects `label,pixel0..pixel783` (train.csv); False expects only pixels
    (test.csv). Returns (images float32 (N,28,28,1), labels int64 or None).

    The header and the first row are read and checked here, each at most MAX_LINE_BYTES,
    before pandas parses the rest: a file that is not a Kaggle CSV is refused at the cost of
    reading a line, and every row must have exactly the header's cells (pandas would take a
    row with one more as an index column, shifting every column, or silently drop the extra).
    """
    import pandas as pd  # pandas is slow to import; only CSV users pay for it

    name = getattr(source, "name", str(source))
    expected = (["label"] if labelled else []) + KAGGLE_PIXELS
    with _open_csv(source) as stream:
        _check_header(_csv_cells(_read_line(stream, name, "the header"), name), expected,
                      labelled, name)
        skipped = _check_first_row(stream, name, len(expected))
        try:
            frame = pd.read_csv(stream, engine="c", header=None, names=expected,
                                index_col=False, na_values=_NA_VALUES, keep_default_na=False)
        except pd.errors.EmptyDataError:
            frame = pd.DataFrame(columns=expected)
        except pd.errors.ParserError as e:
            raise DataError(f"{name}: malformed CSV: {_ragged_line(e, 1 + skipped)}") from e
        except UnicodeDecodeError as e:
            raise DataError(f"{name}: not a text CSV file ({e})") from e
    columns = expected
    if frame.empty:
        raise DataError(f"{name}: the header is there but there are no data rows")
    # Fast path: pandas parsed every column as numbers. Only a text cell, or an integer too
    # large for 64 bits, makes a column non-numeric, and only then are its cells looked at
    # one by one, to name the first bad one.
    for column in columns:
        if not pd.api.types.is_numeric_dtype(frame[column]):
            upper = 9 if column == "label" else 255
            for r, cell in enumerate(frame[column].tolist()):
                if (problem := _cell_problem(cell, upper)) is not None:
                    raise DataError(f"{name}: row {r + 1} (line {r + 2}), column {column}: "
                                    f"{problem}")
            frame[column] = pd.to_numeric(frame[column])   # every cell was a number in range
    numeric = frame.to_numpy(dtype=np.float64)
    bad = np.argwhere(np.isnan(numeric))
    if bad.size:
        r, c = bad[0]
        raise DataError(f"{name}: row {r + 1} (line {r + 2}), column {columns[c]}: "
                        "the cell is empty or NaN")
    upper = np.where(np.array(columns) == "label", 9, 255)
    bad = np.argwhere((numeric < 0) | (numeric > upper) | (numeric != np.floor(numeric)))
    if bad.size:
        r, c = bad[0]
        allowed = "an integer 0-9" if columns[c] == "label" else "an integer 0-255"
        raise DataError(f"{name}: row {r + 1} (line {r + 2}), column {columns[c]}: value "
                        f"{numeric[r, c]:g} is outside the allowed range ({allowed})")
    pixels = numeric[:, 1:] if labelled else numeric
    labels = numeric[:, 0].astype(np.int64) if labelled else None
    return to_float_images(pixels.astype(np.uint8)), labels


@contextmanager
def _open_csv(source):
    """`source` as a seekable stream from its start: a path is opened (and closed after), a
    file object (an upload) is read from its beginning."""
    if not hasattr(source, "readline"):
        with open(source, "rb") as f:
            yield f
        return
    if not (hasattr(source, "seekable") and source.seekable()):
        source = io.BytesIO(source.read())
    source.seek(0)
    yield source


def _read_line(stream, name: str, what: str) -> str:
    """One line of the CSV, at most MAX_LINE_BYTES long, as text ("" at the end)."""
    line = stream.readline(MAX_LINE_BYTES + 1)
    if len(line) > MAX_LINE_BYTES:
        raise DataError(f"{name}: {what} is longer than {MAX_LINE_BYTES:,} characters, far "
                        "longer than in a Kaggle CSV (a label and 784 pixel columns): not read "
                        "any further")
    if isinstance(line, bytes):
        try:
            line = line.decode("utf-8")
        except UnicodeDecodeError as e:
            raise DataError(f"{name}: not a text CSV file ({e})") from e
    return line.removeprefix("\ufeff")   # a byte-order mark some editors write


def _csv_cells(line: str, name: str) -> list[str]:
    if not line:
        raise DataError(f"{name}: the file is empty")
    return next(csv.reader([line.rstrip("\r\n")]), [])


def _check_header(columns: list[str], expected: list[str], labelled: bool, name: str) -> None:
    if columns == expected:
        return
    kind = "train.csv (label,pixel0..pixel783)" if labelled else "test.csv (pixel0..pixel783)"
    wrong = next((i for i, (a, b) in enumerate(zip(columns, expected)) if a != b), None)
    detail = (f"column {wrong + 1} is {short(columns[wrong])}, expected '{expected[wrong]}'"
              if wrong is not None else f"{len(columns)} columns, expected {len(expected)}")
    raise DataError(f"{name}: header does not match Kaggle {kind}: {detail}")


def _check_first_row(stream, name: str, cells: int) -> int:
    """Check that the first data row has exactly `cells` cells, then put the stream back at
    its start for pandas (which sizes every row by the first one). Returns how many blank
    lines came before it (pandas skips them too)."""
    blank = 0
    while True:
        start = stream.tell()
        line = _read_line(stream, name, f"line {blank + 2}")
        if line.strip() or not line:
            break
        blank += 1
    if line:
        found = len(_csv_cells(line, name))
        if found != cells:
            raise DataError(f"{name}: malformed CSV: row 1 (line {blank + 2}) has {found:,} "
                            f"cells, the header {cells}")
    stream.seek(start)
    return blank


def _ragged_line(error: Exception, offset: int) -> str:
    """pandas' "Expected 785 fields in line 3, saw 786" (counted from where it started
    reading) in the file's own line numbers."""
    found = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(error))
    if found is None:
        return str(error).strip()[:200]
    cells, line, saw = map(int, found.groups())
    return f"line {line + offset} has {saw:,} cells, the header {cells}"


def _cell_problem(cell, upper: int) -> str | None:
    """Why one cell of a column pandas could not read as numbers is not an integer 0..upper
    (None if it is one, or empty: empty cells are reported after). Never float() of a Python
    integer: one of 400 digits raises OverflowError."""
    if isinstance(cell, float) and np.isnan(cell):
        return None
    if isinstance(cell, str):
        try:
            cell = float(cell)
        except ValueError:
            return f"{short(cell)} is not a number"
    if isinstance(cell, bool) or not isinstance(cell, (int, float, np.integer, np.floating)):
        return f"{short(cell)} is not a number"
    if 0 <= cell <= upper and float(cell).is_integer():
        return None
    shown = f"{cell:g}" if isinstance(cell, (float, np.floating)) else short(int(cell))
    allowed = "an integer 0-9" if upper == 9 else "an integer 0-255"
    return f"value {shown} is outside the allowed range ({allowed})"


def load_kaggle_train(path) -> Dataset:
    """A Kaggle train.csv as a Dataset without a test set (Kaggle's test.csv is unlabelled)."""
    x, y = read_kaggle_csv(path, labelled=True)
    return Dataset(x, y, None, None, f"Kaggle CSV {getattr(path, 'name', path)}")


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


def load_mnist_soon(path: str | os.PathLike | None = None, *,
                    as_uint8: bool = False) -> Callable[[], Dataset]:
    """Start reading MNIST from disk on a thread; the returned function waits for it. With
    `as_uint8`, the images are kept as uint8 (`compact`: what a server keeps, 55 MB instead of
    220 MB; `expanded` gives the float32 images back).

    Why: a command-line run imports TensorFlow (~2.8 s) and then reads MNIST (~0.5 s); both are
    mostly C code that lets go of the GIL, so on two cores the reading hides inside the import
    (data ready 3.0-3.5 s after start serially, 2.8-2.9 s overlapped). The thread never
    downloads (that needs Keras, and importing it from two threads at once invites deadlock):
    if it finds nothing, or anything goes wrong, the caller's own `load_mnist` runs and says
    what is wrong, or downloads."""
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
