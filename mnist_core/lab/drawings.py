"""The class drawings side of the lab's store: every labelled drawing the students saved,
once each, within the class set's cap and each device's share of it, with a day's undo for
deletions.
"""
from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import chain

import numpy as np

from mnist_core import settings
from mnist_core.lab.db import LabDatabase, StoreError, image_hash, immediate
from mnist_core.lab.devices import device_tag

_DRAWING_COLUMNS = "id, created_at, label, predicted, model, image, hash, device, tag"
#: The tag of a drawing saved from the Fool it page: the model read it as `predicted` although
#: it still shows its `label` (mnist_core.drawing.fooling_challenge).
FOOLED = "fooled"
TAGS = (FOOLED,)
#: The lab_settings row holding the salt of device tags (mnist_core.lab.devices.device_tag).
DEVICE_SALT = "device_salt"
#: How long deleted drawings can be restored ("Undo" on the Class page), in seconds.
UNDO_SECONDS = 24 * 3600


class DuplicateDrawing(StoreError):
    """This exact 28x28 image is already saved: one drawing counts once in the class set."""

    def __init__(self, drawing_id: int, label: int) -> None:
        super().__init__(f"this drawing is already saved (drawing #{drawing_id}, as a {label})")
        self.drawing_id = drawing_id
        self.label = label


class DrawingLimitReached(StoreError):
    """The class set holds as many drawings as this server is configured to keep."""


class DrawingChanged(StoreError):
    """Someone else deleted or relabelled a drawing between looking at it and editing it."""



@dataclass(frozen=True)
class SavedDrawing:
    id: int
    created_at: float
    label: int
    predicted: int | None      # what the saving student's model answered
    model: str | None          # that model's ref ("bundled" or a run id)
    image: np.ndarray          # uint8 (28, 28), 0 = background
    tag: str | None = None     # FOOLED, or None for an ordinary drawing


#: What a damaged row shows (mid-grey): visible on the class wall, so the teacher can delete it,
#: instead of one bad row breaking the page for everyone.
UNREADABLE = np.full((28, 28), 128, np.uint8)


class DrawingsStore(LabDatabase):
    """The drawings table (and its bin of deletions that can still be undone)."""

    # Each saved drawing is stored once: its content hash is UNIQUE, so a double-clicked "Save"
    # or a repeated save of the same image never counts twice in the class's accuracy. A save
    # checks the duplicate and the configured cap and inserts in one BEGIN IMMEDIATE
    # transaction, so two writers (threads or processes) cannot both slip past either check.

    def add_drawing(self, image: np.ndarray, label: int, predicted: int | None,
                    model: str | None, device: str | None = None,
                    tag: str | None = None) -> int:
        """Keep a user's drawing (the 28x28 image the network saw) with its true label.

        Returns the new drawing's id. Raises `DuplicateDrawing` (a StoreError: the pages show
        its message) when the same image is already saved, whatever its label, and
        `DrawingLimitReached` when the class set is full, or when `device` (the saving
        client's, mnist_core.lab.devices; None for the CLI and scripts) holds its share of it
        already; nothing is written then. The store keeps only a salted digest of `device`.
        `tag`: FOOLED for a drawing that fooled the network (None otherwise).
        """
        if tag is not None and tag not in TAGS:
            raise ValueError(f"unknown drawing tag {tag!r}")
        device_tag = None if device is None else self._device_tag(device)
        label = _digit(label)
        pixels = np.clip(np.asarray(image, np.float32).reshape(28, 28) * 255, 0, 255)
        data = pixels.round().astype(np.uint8).tobytes()
        digest = image_hash(data)
        cap = _max_drawings()
        with self.connect() as db, immediate(db):
            same = db.execute("SELECT id, label FROM drawings WHERE hash = ?",
                              (digest,)).fetchone()
            if same is not None:
                raise DuplicateDrawing(same["id"], same["label"])
            if db.execute("SELECT COUNT(*) FROM drawings").fetchone()[0] >= cap:
                raise DrawingLimitReached(
                    f"the class set is full: this server keeps at most {cap:,} drawings. The "
                    "teacher can export them on the Class page and delete some, or raise the "
                    f"limit with the environment variable {settings.MAX_DRAWINGS_ENV}")
            share = settings.max_drawings_per_device()
            if device_tag is not None and db.execute(
                    "SELECT COUNT(*) FROM drawings WHERE device = ?",
                    (device_tag,)).fetchone()[0] >= share:
                raise DrawingLimitReached(
                    f"this device has saved {share:,} drawings, the most one device may keep "
                    f"(1/{settings.DEVICE_SHARE_OF_DRAWINGS} of the class set's "
                    f"{cap:,}). The teacher can delete some on the Class page")
            cur = db.execute("INSERT INTO drawings (created_at, label, predicted, model, image, "
                             "hash, device, tag) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                             (time.time(), label, predicted, model, data, digest, device_tag,
                              tag))
            return int(cur.lastrowid)

    def _device_tag(self, device: str) -> str:
        """The salted digest kept for a device; the salt is made once per lab home."""
        salt = getattr(self, "_salt", None) or self.setting(DEVICE_SALT)
        if salt is None:
            with self.connect() as db:
                db.execute("INSERT OR IGNORE INTO lab_settings (name, value, updated_at) "
                           "VALUES (?, ?, ?)", (DEVICE_SALT, uuid.uuid4().hex, time.time()))
            salt = self.setting(DEVICE_SALT)
        self._salt = salt
        return device_tag(device, salt)

    def drawings(self) -> tuple[np.ndarray, np.ndarray]:
        """All saved drawings as (images float32 (N, 28, 28, 1), labels int64 (N,))."""
        with self.connect() as db:
            rows = db.execute("SELECT image, label FROM drawings ORDER BY id").fetchall()
        rows = [r for r in rows if _pixels(r["image"]) is not None
                and type(r["label"]) is int and 0 <= r["label"] <= 9]   # damaged rows skipped
        images = np.array([_pixels(r["image"]) for r in rows], np.float32)
        return (images.reshape(-1, 28, 28, 1) / 255.0,
                np.array([r["label"] for r in rows], np.int64))

    def drawings_for_training(self) -> tuple[np.ndarray, np.ndarray, int]:
        """Every usable drawing as (images uint8 (N, 28, 28), labels int64 (N,), skipped).

        Tolerant, for fine-tuning: a row whose image is not 784 bytes (corrupt, or of another
        shape) or whose label is not a whole number 0-9 is skipped and counted, not fatal."""
        with self.connect() as db:
            cursor = db.cursor()
            cursor.row_factory = None
            rows = cursor.execute("SELECT image, label FROM drawings ORDER BY id").fetchall()
        good = [(image, label) for image, label in rows
                if isinstance(image, bytes) and len(image) == 28 * 28
                and type(label) is int and 0 <= label <= 9]
        images = np.frombuffer(b"".join(image for image, _ in good), np.uint8)
        labels = np.array([label for _, label in good], np.int64)
        return images.reshape(-1, 28, 28).copy(), labels, len(rows) - len(good)

    def list_drawings(self, label: int | None = None, *, limit: int = 60,
                      offset: int = 0) -> list[SavedDrawing]:
        """One page of drawings, newest first, optionally only those labelled `label`."""
        where, args = ("WHERE label = ?", [_digit(label)]) if label is not None else ("", [])
        with self.connect() as db:
            rows = db.execute(f"SELECT * FROM drawings {where} ORDER BY id DESC LIMIT ? OFFSET ?",
                              (*args, int(limit), int(offset))).fetchall()
        return [_saved(r) for r in rows]

    def drawings_after(self, after_id: int = 0, limit: int = 1000) -> list[SavedDrawing]:
        """Drawings with an id above `after_id`, oldest first (keyset pagination).

        Ids only grow (AUTOINCREMENT, inserts serialised), so a reader that remembers the last
        id it saw gets exactly the drawings saved since, however many there are in total.
        """
        with self.connect() as db:
            rows = db.execute("SELECT * FROM drawings WHERE id > ? ORDER BY id LIMIT ?",
                              (int(after_id), int(limit))).fetchall()
        return [_saved(r) for r in rows]

    def iter_drawings(self, chunk: int = 1000) -> Iterator[SavedDrawing]:
        """Every drawing, oldest first, read `chunk` rows at a time (for exports)."""
        last = 0
        while batch := self.drawings_after(last, chunk):
            yield from batch
            last = batch[-1].id

    def get_drawings(self, ids: Sequence[int]) -> list[SavedDrawing]:
        """The drawings with these ids, in the order given; ids no longer stored are skipped."""
        ids = [int(i) for i in ids]
        if not ids:
            return []
        found: dict[int, SavedDrawing] = {}
        with self.connect() as db:
            for start in range(0, len(ids), 500):
                part = ids[start:start + 500]
                rows = db.execute(f"SELECT * FROM drawings WHERE id IN "
                                  f"({', '.join('?' * len(part))})", part).fetchall()
                found.update((r["id"], _saved(r)) for r in rows)
        return [found[i] for i in ids if i in found]

    def tagged_ids(self, tag: str) -> np.ndarray:
        """The ids of the drawings tagged `tag` (the class wall's "fooled" filter)."""
        with self.connect() as db:
            rows = db.execute("SELECT id FROM drawings WHERE tag = ? ORDER BY id",
                              (str(tag),)).fetchall()
        return np.array([r[0] for r in rows], np.int64)

    def drawing_index(self) -> tuple[np.ndarray, np.ndarray]:
        """(ids, labels) of every drawing, by id, without images: cheap enough to read for
        every refresh of the class wall (the label index covers it)."""
        with self.connect() as db:
            cursor = db.cursor()
            cursor.row_factory = None  # plain tuples: half the time of sqlite3.Row here
            rows = cursor.execute("SELECT id, label FROM drawings").fetchall()
        table = np.fromiter(chain.from_iterable(rows), np.int64, 2 * len(rows)).reshape(-1, 2)
        table = table[np.argsort(table[:, 0], kind="stable")]
        return table[:, 0], table[:, 1]

    def label_counts(self) -> dict[int, int]:
        """How many drawings are saved with each true digit (all ten digits present)."""
        with self.connect() as db:
            rows = db.execute("SELECT label, COUNT(*) FROM drawings GROUP BY label").fetchall()
        return {d: 0 for d in range(10)} | {int(r[0]): int(r[1]) for r in rows}

    def relabel_drawing(self, drawing_id: int, new_label: int, expected_label: int) -> None:
        """Give drawing `drawing_id` the true label `new_label`, if it is still labelled
        `expected_label` (what the editor saw). Optimistic concurrency: of two teachers
        editing one drawing, the second gets `DrawingChanged` instead of silently undoing the
        first's change."""
        new_label, expected_label = _digit(new_label), _digit(expected_label)
        with self.connect() as db, immediate(db):
            cur = db.execute("UPDATE drawings SET label = ? WHERE id = ? AND label = ?",
                             (new_label, int(drawing_id), expected_label))
            if cur.rowcount == 0:
                raise _changed(db, drawing_id)

    def delete_drawing(self, drawing_id: int, expected_label: int | None = None) -> str:
        """Delete a drawing; with `expected_label`, only if it still has that label. Returns
        the deletion's batch id, which `restore_drawings` takes to undo it.

        Raises `DrawingChanged` when it was already deleted, or relabelled since the editor
        looked at it (then it is kept: the other teacher may have just fixed it)."""
        expected = None if expected_label is None else _digit(expected_label)
        with self.connect() as db, immediate(db):
            row = db.execute("SELECT id FROM drawings WHERE id = ? AND (? IS NULL OR label = ?)",
                             (int(drawing_id), expected, expected)).fetchone()
            if row is None:
                raise _changed(db, drawing_id)
            return _move_to_bin(db, [int(drawing_id)])[0]

    def delete_drawings(self, ids: Sequence[int]) -> tuple[str, int]:
        """Delete every drawing of `ids` still stored (a teacher's selection): (batch id for
        `restore_drawings`, how many were deleted). Ids already gone are skipped."""
        with self.connect() as db, immediate(db):
            return _move_to_bin(db, sorted({int(i) for i in ids}))

    def delete_drawings_since(self, seconds: float) -> tuple[str, int]:
        """Delete every drawing saved in the last `seconds` (say, a lesson's last 10 minutes
        gone wrong): (batch id for `restore_drawings`, how many were deleted)."""
        since = time.time() - float(seconds)
        with self.connect() as db, immediate(db):
            ids = [r[0] for r in db.execute("SELECT id FROM drawings WHERE created_at >= ?",
                                            (since,))]
            return _move_to_bin(db, ids)

    def count_drawings_since(self, seconds: float) -> int:
        """How many drawings were saved in the last `seconds` (what deleting them would take)."""
        with self.connect() as db:
            return int(db.execute("SELECT COUNT(*) FROM drawings WHERE created_at >= ?",
                                  (time.time() - float(seconds),)).fetchone()[0])

    def restore_drawings(self, batch: str) -> int:
        """Undo a deletion: put its drawings back, with their ids, labels and dates. A drawing
        whose image was saved again meanwhile is not restored twice. Returns how many came back
        (0 when the batch is unknown or older than `UNDO_SECONDS`)."""
        with self.connect() as db, immediate(db):
            restored = db.execute(
                f"INSERT INTO drawings ({_DRAWING_COLUMNS}) SELECT {_DRAWING_COLUMNS} FROM "
                "deleted_drawings AS d WHERE batch = ? AND deleted_at >= ? AND NOT EXISTS "
                "(SELECT 1 FROM drawings WHERE hash = d.hash OR id = d.id)",
                (str(batch), time.time() - UNDO_SECONDS)).rowcount
            db.execute("DELETE FROM deleted_drawings WHERE batch = ?", (str(batch),))
            return int(restored)


def _pixels(blob) -> np.ndarray | None:
    if isinstance(blob, bytes) and len(blob) == 28 * 28:
        return np.frombuffer(blob, np.uint8).reshape(28, 28)
    return None


def _saved(row: sqlite3.Row) -> SavedDrawing:
    pixels = _pixels(row["image"])
    tag = row["tag"] if row["tag"] in TAGS else None   # an unknown tag shows as none
    return SavedDrawing(row["id"], row["created_at"], row["label"], row["predicted"],
                        row["model"], UNREADABLE if pixels is None else pixels, tag)



def _digit(label) -> int:
    if isinstance(label, bool) or not isinstance(label, (int, np.integer)) or \
            not 0 <= int(label) <= 9:
        raise ValueError(f"label must be a digit 0-9, got {label!r}")
    return int(label)


def _max_drawings() -> int:
    try:
        return settings.max_drawings()
    except ValueError as e:  # a typo in the server's environment: a message, not a crash
        raise StoreError(str(e)) from e


def _changed(db: sqlite3.Connection, drawing_id: int) -> DrawingChanged:
    row = db.execute("SELECT label FROM drawings WHERE id = ?", (int(drawing_id),)).fetchone()
    if row is None:
        return DrawingChanged(f"drawing #{drawing_id} was already deleted by someone else")
    return DrawingChanged(f"drawing #{drawing_id} was changed by someone else meanwhile: it is "
                          f"now labelled {row['label']}; nothing was done, look at it again")


def _move_to_bin(db: sqlite3.Connection, ids: list[int]) -> tuple[str, int]:
    """Move the drawings `ids` that exist into deleted_drawings under a new batch id (inside
    the caller's transaction), and forget deletions older than UNDO_SECONDS. Returns (batch,
    how many were moved)."""
    now, batch, moved = time.time(), uuid.uuid4().hex, 0
    db.execute("DELETE FROM deleted_drawings WHERE deleted_at < ?", (now - UNDO_SECONDS,))
    for start in range(0, len(ids), 500):
        part = ids[start:start + 500]
        marks = ", ".join("?" * len(part))
        db.execute(f"INSERT OR REPLACE INTO deleted_drawings ({_DRAWING_COLUMNS}, deleted_at, "
                   f"batch) SELECT {_DRAWING_COLUMNS}, ?, ? FROM drawings WHERE id IN ({marks})",
                   (now, batch, *part))
        moved += db.execute(f"DELETE FROM drawings WHERE id IN ({marks})", part).rowcount
    return batch, moved
