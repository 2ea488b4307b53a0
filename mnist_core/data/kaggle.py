"""The Kaggle "Digit Recognizer" CSVs: train.csv (a label and 784 pixels a row) and test.csv
(pixels only), every cell checked, a bad file refused with the row and column at fault.
"""
from __future__ import annotations

import csv
import io
import re
from contextlib import contextmanager

import numpy as np

from mnist_core.data.dataset import DataError, Dataset, to_float_images
from mnist_core.untrusted import short

KAGGLE_PIXELS = [f"pixel{i}" for i in range(784)]
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
