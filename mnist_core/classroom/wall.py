"""The class set: every drawing the students saved, how a model reads them, and exports.

The Class page projects this live while thirty students keep saving, refreshing every two
seconds. So the work per refresh must not grow with the class set: the store gives the ids
and labels (no images) for the per-digit numbers, each drawing is classified once per model
(`PredictionCache`), and only the one page of tiles on screen is read with its images.
"""
from __future__ import annotations

import base64
import csv
import functools
import io
import threading
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone

import cv2
import numpy as np

from mnist_core.lab.drawings import FOOLED, SavedDrawing
from mnist_core.lab.store import RunStore

#: (N, 28, 28, 1) float32 images in [0, 1] -> (N, 10) probabilities, e.g. Predictor.probabilities
Probabilities = Callable[[np.ndarray], np.ndarray]
UNKNOWN = -1  # no prediction yet (a big class set's first refreshes) or a drawing just deleted


@dataclass(frozen=True)
class DigitStats:
    digit: int
    drawings: int
    correct: int

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.drawings if self.drawings else None


def digit_stats(labels: np.ndarray, predictions: np.ndarray) -> list[DigitStats]:
    """Per true digit: how many drawings, how many the model read right. A drawing without a
    prediction (UNKNOWN) is left out, so it cannot count as a mistake."""
    labels, predictions = np.asarray(labels), np.asarray(predictions)
    judged = predictions != UNKNOWN
    counts = np.bincount(labels[judged], minlength=10)
    correct = np.bincount(labels[judged & (predictions == labels)], minlength=10)
    return [DigitStats(d, int(counts[d]), int(correct[d])) for d in range(10)]


def overall_accuracy(stats: list[DigitStats]) -> float | None:
    total = sum(s.drawings for s in stats)
    return sum(s.correct for s in stats) / total if total else None


@dataclass(frozen=True)
class Known:
    """Predictions of one model for the drawings up to `last_id` (ids ascending)."""
    ids: np.ndarray
    digits: np.ndarray
    last_id: int

    def lookup(self, ids: np.ndarray) -> np.ndarray:
        """The predicted digit for each id, UNKNOWN where this model has not seen it."""
        ids = np.asarray(ids, np.int64)
        if len(self.ids) == 0:
            return np.full(len(ids), UNKNOWN, np.int64)
        at = np.minimum(np.searchsorted(self.ids, ids), len(self.ids) - 1)
        return np.where(self.ids[at] == ids, self.digits[at], UNKNOWN)


_NOTHING = Known(np.zeros(0, np.int64), np.zeros(0, np.int64), 0)


class PredictionCache:
    """Drawing id -> predicted digit, per store and model, shared by every session.

    Drawing ids only grow, so each update asks the store for the drawings after the last id
    seen and classifies only those: a wall of 10,000 drawings refreshed every 2 s costs one
    small query once they are known. A drawing saved with this model already carries its
    prediction (the student's model classified the same image), which is used as it is.
    Relabelling does not change a prediction; a deleted drawing's entry is simply never
    looked up again, and one restored by an undo is still known (or read again, see `ids`).
    Each (store, model) has its own lock: two sessions refreshing at once classify a new
    drawing once, and a slow first fill for one model does not block another.
    """

    def __init__(self, batch: int = 1024) -> None:
        self.batch = batch
        self._known: dict[tuple[str, str], Known] = {}
        self._locks: dict[tuple[str, str], threading.Lock] = {}
        self._guard = threading.Lock()

    def predictions(self, store: RunStore, ref: str, probabilities: Probabilities,
                    budget: int | None = None, ids: np.ndarray | None = None) -> Known:
        """What model `ref` answers for the drawings saved so far. With `budget`, stop once
        about that many images were classified in this call (whole batches): a first look at
        a big class set then fills over a few refreshes instead of one long wait. With `ids`
        (the store's index), drawings among them that this model has never seen although
        their ids are old (a deletion undone after the model was first shown) are read too."""
        key = (str(store.db_path), ref)
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            known, spent = self._known.get(key, _NOTHING), 0
            while (budget is None or spent < budget) and \
                    (batch := store.drawings_after(known.last_id, self.batch)):
                known, classified = _extend(known, batch, ref, probabilities)
                self._known[key] = known  # published per batch: an error keeps the progress
                spent += classified
            if ids is not None and (budget is None or spent < budget):
                ids = np.asarray(ids, np.int64)
                holes = ids[(ids <= known.last_id) & (known.lookup(ids) == UNKNOWN)]
                if len(holes):
                    batch = store.get_drawings(holes[:self.batch].tolist())
                    known, _ = _extend(known, batch, ref, probabilities)
                    self._known[key] = known
            return known


def _extend(known: Known, batch: list[SavedDrawing], ref: str,
            probabilities: Probabilities) -> tuple[Known, int]:
    """`known` plus this batch, and how many images had to be classified for it."""
    if not batch:
        return known, 0
    digits = np.array([d.predicted if d.model == ref and d.predicted in range(10) else UNKNOWN
                       for d in batch], np.int64)
    todo = np.flatnonzero(digits == UNKNOWN)
    if len(todo):
        images = np.stack([batch[i].image for i in todo]).astype(np.float32) / 255.0
        digits[todo] = np.asarray(probabilities(images[..., None])).argmax(axis=1)
    ids = np.array([d.id for d in batch], np.int64)
    all_ids, all_digits = np.concatenate([known.ids, ids]), np.concatenate([known.digits, digits])
    if len(known.ids) and ids.min() <= known.last_id:   # holes filled: keep the ids sorted
        order = np.argsort(all_ids, kind="stable")
        all_ids, all_digits = all_ids[order], all_digits[order]
    return Known(all_ids, all_digits, max(known.last_id, int(ids.max()))), len(todo)


def tile_url(image: np.ndarray) -> str:
    """A drawing (uint8 28x28) as a `data:` URL of its PNG, about 400 bytes.

    Each 2-second refresh shows the same 60 tiles again: encoding each once (cached by
    content, so two drawings can never swap images) and passing a URL, which st.image uses
    as it is, takes the image work out of the refresh. The page enlarges them in the browser
    with pixelated scaling, so a refresh carries 28x28 images, not 84x84 ones."""
    return _png_url(np.ascontiguousarray(image, np.uint8).tobytes())


@functools.lru_cache(maxsize=4096)
def _png_url(pixels: bytes) -> str:
    ok, png = cv2.imencode(".png", np.frombuffer(pixels, np.uint8).reshape(28, 28))
    if not ok:
        raise ValueError("a drawing could not be encoded as PNG")
    return "data:image/png;base64," + base64.b64encode(png.tobytes()).decode("ascii")


@dataclass(frozen=True)
class Tile:
    drawing: SavedDrawing
    predicted: int | None

    @property
    def wrong(self) -> bool:
        return self.predicted is not None and self.predicted != self.drawing.label

    @property
    def caption(self) -> str:
        """Markdown under the tile: the true digit, then a red "✗ read as 7" for a mistake
        (visible from the back of a classroom), a green tick, or "…" while not read yet."""
        answer = (f":red[**✗ read as {self.predicted}**]" if self.wrong else
                  ":green[✓]" if self.predicted is not None else ":gray[…]")
        # A drawing made to fool the network, tagged on the Fool it page.
        fooled = " :orange-badge[:material/theater_comedy: fooled]" if self.fooled else ""
        return f"**{self.drawing.label}** {answer}{fooled}"

    @property
    def fooled(self) -> bool:
        return self.drawing.tag == FOOLED


@dataclass(frozen=True)
class WallView:
    """What the Class page shows at one refresh."""
    total: int                 # drawings in the class set
    pending: int               # of those, not classified yet (a big set's first refreshes)
    stats: list[DigitStats]    # per digit, over the classified drawings
    matching: int              # drawings that pass the filters
    page: int                  # 1-based, clamped to the pages that exist
    pages: int
    tiles: list[Tile]          # this page's drawings, newest first

    @property
    def accuracy(self) -> float | None:
        return overall_accuracy(self.stats)

    @property
    def misread(self) -> int:
        return sum(s.drawings - s.correct for s in self.stats)

    def digit_table(self):
        """Per digit, as a small pandas table: a row of counts and a row of accuracies."""
        import pandas as pd

        return pd.DataFrame({str(s.digit): [f"{s.drawings:,}", "–" if s.accuracy is None
                                            else f"{100 * s.accuracy:.0f}%"]
                             for s in self.stats},
                            index=pd.Index(["drawings", "read right"], name="digit"))  # a header


def wall_view(store: RunStore, cache: PredictionCache, ref: str, probabilities: Probabilities,
              *, digit: int | None = None, wrong_only: bool = False,
              fooled_only: bool = False, page: int = 1,
              per_page: int = 60, budget: int | None = 1024) -> WallView:
    """One refresh of the class wall: per-digit numbers for model `ref` over every drawing,
    and the `page`-th page of those that match the filters, newest first. Reads images only
    for that page, and classifies at most about `budget` new drawings per refresh (well under
    a second of the server's time), so a first look at a big class set fills over a few
    refreshes (docs/benchmarks.md, "How big can the class wall get?")."""
    ids, labels = store.drawing_index()      # first: the cache then covers every id read here
    predictions = cache.predictions(store, ref, probabilities, budget, ids).lookup(ids)
    keep = np.ones(len(ids), bool)
    if digit is not None:
        keep &= labels == digit
    if wrong_only:
        keep &= (predictions != UNKNOWN) & (predictions != labels)
    if fooled_only:
        keep &= np.isin(ids, store.tagged_ids(FOOLED))
    matching = ids[keep][::-1]
    pages = max(1, -(-len(matching) // per_page))
    page = min(max(1, int(page)), pages)
    shown = matching[(page - 1) * per_page:page * per_page]
    by_id = dict(zip(ids[keep].tolist(), predictions[keep].tolist()))
    tiles = [Tile(d, None if by_id[d.id] == UNKNOWN else by_id[d.id])
             for d in store.get_drawings(shown)]
    return WallView(len(ids), int((predictions == UNKNOWN).sum()),
                    digit_stats(labels, predictions), len(matching), page, pages, tiles)


def class_accuracy(store: RunStore, cache: PredictionCache, ref: str,
                   probabilities: Probabilities) -> tuple[int, float | None]:
    """(number of saved drawings, share model `ref` reads right), through the shared cache:
    a page showing it again costs one small query, not a pass over every drawing."""
    ids, labels = store.drawing_index()
    predictions = cache.predictions(store, ref, probabilities, ids=ids).lookup(ids)
    return len(ids), overall_accuracy(digit_stats(labels, predictions))


# --- exports ------------------------------------------------------------------------------


def export_zip(drawings: Iterable[SavedDrawing]) -> bytes:
    """A zip with one folder per true digit of 28x28 PNGs (white on black, like MNIST) and
    labels.csv (file, label, id, saved_at): a data set anyone can open without this lab."""
    buffer = io.BytesIO()
    table = io.StringIO()
    rows = csv.writer(table, lineterminator="\n")
    rows.writerow(["file", "label", "id", "saved_at"])
    with zipfile.ZipFile(buffer, "w") as archive:
        for d in drawings:
            name = f"{d.label}/{d.id:06d}.png"
            ok, png = cv2.imencode(".png", d.image)
            if not ok:
                raise ValueError(f"drawing #{d.id} could not be encoded as PNG")
            archive.writestr(name, png.tobytes())  # PNG is compressed already: stored as is
            rows.writerow([name, d.label, d.id, _iso(d.created_at)])
        archive.writestr("labels.csv", table.getvalue(), compress_type=zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def export_npz(drawings: Iterable[SavedDrawing]) -> bytes:
    """The class set as NumPy arrays, like keras.datasets.mnist: images uint8 (N, 28, 28),
    labels uint8 (N,), plus ids int64 (N,) to trace a row back to the lab."""
    drawings = list(drawings)
    images = np.array([d.image for d in drawings], np.uint8).reshape(-1, 28, 28)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, images=images,
                        labels=np.array([d.label for d in drawings], np.uint8),
                        ids=np.array([d.id for d in drawings], np.int64))
    return buffer.getvalue()


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, timezone.utc).isoformat(timespec="seconds")
