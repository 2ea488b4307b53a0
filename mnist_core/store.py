"""The lab's memory: every training run and every labelled drawing, in SQLite under the lab
home, with trained models beside it.

SQLite in WAL mode with a busy timeout lets two processes (two servers, or the CLI beside the
app) share one home. A fresh connection per operation keeps it safe across threads.
"""
from __future__ import annotations

import hashlib
import json
import os
import socket
import sqlite3
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from itertools import chain
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import settings
from .model_files import save_atomic

BUNDLED = "bundled"
FINE_TUNE = "fine-tune"   # the preset field of runs made by mnist_core.finetune
_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    created_at REAL NOT NULL,
    finished_at REAL,
    preset TEXT NOT NULL,
    config TEXT NOT NULL,
    data_source TEXT NOT NULL,
    status TEXT NOT NULL,
    history TEXT NOT NULL DEFAULT '[]',
    test_accuracy REAL,
    test_loss REAL,
    seconds REAL,
    model_file TEXT,
    error TEXT,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS drawings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at REAL NOT NULL,
    label INTEGER NOT NULL CHECK (label BETWEEN 0 AND 9),
    predicted INTEGER,
    model TEXT,
    image BLOB NOT NULL,
    hash TEXT
);
CREATE TABLE IF NOT EXISTS deleted_drawings (
    id INTEGER PRIMARY KEY,
    created_at REAL NOT NULL,
    label INTEGER NOT NULL,
    predicted INTEGER,
    model TEXT,
    image BLOB NOT NULL,
    hash TEXT,
    deleted_at REAL NOT NULL,
    batch TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS deleted_drawings_batch ON deleted_drawings (batch);
CREATE TABLE IF NOT EXISTS lab_settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS teacher_links (
    hash TEXT PRIMARY KEY,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL
);
"""
_DRAWING_COLUMNS = "id, created_at, label, predicted, model, image, hash"
#: How long deleted drawings can be restored ("Undo" on the Class page), in seconds.
UNDO_SECONDS = 24 * 3600
#: The lab_settings row naming the class model: the model every browser uses unless it picked
#: its own (the teacher sets it; it survives a server restart).
CLASS_MODEL = "class_model"
# Created after the migration below: a database from before the hash column needs it first.
_DRAWING_INDEXES = """
CREATE UNIQUE INDEX IF NOT EXISTS drawings_hash ON drawings (hash);
CREATE INDEX IF NOT EXISTS drawings_label ON drawings (label);
"""


class StoreError(Exception):
    """The lab home cannot be used (unwritable, disk full, damaged database)."""


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
class RunRecord:
    id: str
    created_at: float
    finished_at: float | None
    preset: str
    config: dict
    data_source: str
    status: str
    history: list[dict]
    test_accuracy: float | None
    test_loss: float | None
    seconds: float | None
    model_file: str | None
    error: str | None

    @property
    def has_model(self) -> bool:
        return self.model_file is not None

    @property
    def offers_model(self) -> bool:
        """Has a model worth offering in the app's model lists: a run stopped or interrupted
        before its first epoch ended (a Start pressed by mistake, then Stop) has nothing learnt
        worth keeping. Records from before that rule may still carry such a model: it is not
        offered."""
        return self.has_model and (self.status == "done" or self.epochs_done > 0)

    @property
    def epochs_done(self) -> int:
        return len(self.history)

    @property
    def epochs_planned(self) -> int | None:
        epochs = self.config.get("epochs")
        return epochs if isinstance(epochs, int) else None

    def how_far(self) -> str:
        """"3 of 10 epochs": how far a run got, for runs that did not finish."""
        planned = self.epochs_planned
        return f"{self.epochs_done} of {planned} epochs" if planned else \
            f"{self.epochs_done} epochs"

    def title(self) -> str:
        """"fast · 20261125-101500-ab12cd", plus how far it got if it did not finish."""
        name = self.preset
        if self.preset == FINE_TUNE and "from" in self.config:  # see mnist_core.finetune
            name = (f"fine-tuned from {self.config['from']} on "
                    f"{self.config.get('drawings', '?')} drawings")
        if self.status in ("done", "stopped", "running"):
            return f"{name} · {self.id}"
        return f"{name} · {self.id} · {self.status} after {self.how_far()}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _use_wal(db: sqlite3.Connection, patience: float = 30.0) -> None:
    """Put the database in WAL mode (several processes read while one writes), which the file
    keeps: done once, when a store opens its home, not on every connection.

    Switching needs the database to itself, and SQLite answers "database is locked" at once
    instead of waiting its busy timeout when another connection is writing: two processes
    opening a new lab home together (a server and a CLI, two tests) failed that way. So the
    switch is retried, and skipped where the file is already in WAL mode."""
    deadline = time.monotonic() + patience
    while True:
        try:
            if db.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


class RunStore:
    def __init__(self, home: Path | str | None = None) -> None:
        self.home = Path(home) if home is not None else settings.lab_home()
        self.models_dir = self.home / "models"
        self.db_path = self.home / "lab.sqlite3"
        try:
            self.models_dir.mkdir(parents=True, exist_ok=True)
            with self._connect() as db:
                _use_wal(db)
                db.executescript(_SCHEMA)
                _add_drawing_hashes(db)
                db.executescript(_DRAWING_INDEXES)
        except (OSError, sqlite3.Error) as e:
            raise StoreError(f"the lab home {self.home} cannot be used ({e}); set "
                             f"{settings.HOME_ENV} to a writable folder") from e
        self.mark_interrupted()

    @contextmanager
    def _connect(self):
        db = sqlite3.connect(self.db_path, timeout=30, isolation_level=None)
        try:
            db.row_factory = sqlite3.Row
            yield db
        except sqlite3.Error as e:
            cannot_write = any(w in str(e) for w in ("full", "I/O", "readonly", "unable to open"))
            hint = (" (is the disk full or the lab home read-only? free some space or set "
                    f"{settings.HOME_ENV} to another folder)" if cannot_write else "")
            raise StoreError(f"the lab's database {self.db_path} failed: {e}{hint}") from e
        finally:
            db.close()

    # --- runs ---------------------------------------------------------------------------------

    def create_run(self, config: dict, data_source: str) -> str:
        run_id = time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:6]
        with self._connect() as db:
            db.execute("INSERT INTO runs (id, created_at, preset, config, data_source, status,"
                       " host, pid) VALUES (?, ?, ?, ?, ?, 'running', ?, ?)",
                       (run_id, time.time(), config["preset"], json.dumps(config), data_source,
                        socket.gethostname(), os.getpid()))
        return run_id

    def record_history(self, run_id: str, history: list[dict]) -> None:
        with self._connect() as db:
            db.execute("UPDATE runs SET history = ? WHERE id = ?", (json.dumps(history), run_id))

    def finish_run(self, run_id: str, *, status: str, history: list[dict], model=None,
                   test_accuracy: float | None = None, test_loss: float | None = None,
                   seconds: float | None = None, error: str | None = None,
                   config: dict | None = None) -> RunRecord:
        """Close a run; the model file is fully written before the row points at it.

        `config`, if given, replaces the config recorded at the start (a fine-tune adds the
        before/after figures it only knows at the end). A run stopped or interrupted before its
        first epoch ended keeps its record but no model (see `RunRecord.offers_model`)."""
        model_file = None
        if status != "done" and not history:
            model = None
        if model is not None:
            try:
                model_file = save_atomic(model, self.models_dir / f"{run_id}.keras").name
            except OSError as e:  # disk full, folder gone read-only: the run says so, no file
                status = "failed"
                error = (f"the model could not be saved in {self.models_dir} "
                         f"({e.strerror or e}); free some disk space or set {settings.HOME_ENV} "
                         "to another folder, then train again")
        with self._connect() as db:
            db.execute("UPDATE runs SET status=?, finished_at=?, history=?, test_accuracy=?, "
                       "test_loss=?, seconds=?, model_file=?, error=?, "
                       "config=COALESCE(?, config) WHERE id=?",
                       (status, time.time(), json.dumps(history), test_accuracy, test_loss,
                        seconds, model_file, error,
                        None if config is None else json.dumps(config), run_id))
        return self.get_run(run_id)

    def get_run(self, run_id: str) -> RunRecord:
        with self._connect() as db:
            row = db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise KeyError(f"no run with id '{run_id}'")
        return self._record(row)

    def list_runs(self) -> list[RunRecord]:
        with self._connect() as db:
            rows = db.execute("SELECT * FROM runs ORDER BY created_at DESC").fetchall()
        return [self._record(r) for r in rows]

    def latest_run(self) -> RunRecord | None:
        with self._connect() as db:
            row = db.execute("SELECT * FROM runs ORDER BY created_at DESC LIMIT 1").fetchone()
        return None if row is None else self._record(row)

    def model_path(self, run_id: str) -> Path:
        run = self.get_run(run_id)
        if not run.has_model:
            raise KeyError(f"run '{run_id}' has no model (status: {run.status})")
        return self.models_dir / run.model_file

    def lab_model_path(self, ref: str | None) -> Path:
        """The file of "bundled"/None or a stored run: the only models the app opens (never a
        path a user typed). KeyError for anything else."""
        return settings.BUNDLED_MODEL if ref in (None, "", BUNDLED) else self.model_path(ref)

    def mark_interrupted(self) -> int:
        """Runs left 'running' by a process that no longer exists were cut off (killed, power
        loss): say so rather than show them as running forever, and delete the temporary model
        file a kill during saving leaves behind (it was never registered)."""
        host = socket.gethostname()
        with self._connect() as db:
            rows = db.execute("SELECT id, pid, host FROM runs WHERE status IN "
                              "('running', 'stopping')").fetchall()
            dead = [r["id"] for r in rows if r["host"] == host and not _pid_alive(r["pid"])]
            for run_id in dead:
                db.execute("UPDATE runs SET status='interrupted', finished_at=?, error=? "
                           "WHERE id=?", (time.time(), "the training process ended "
                                          "unexpectedly", run_id))
        for run_id in dead:
            for partial in self.models_dir.glob(f".{run_id}-*.keras"):
                partial.unlink(missing_ok=True)
        return len(dead)

    @staticmethod
    def _record(row: sqlite3.Row) -> RunRecord:
        return RunRecord(row["id"], row["created_at"], row["finished_at"], row["preset"],
                         json.loads(row["config"]), row["data_source"], row["status"],
                         json.loads(row["history"]), row["test_accuracy"], row["test_loss"],
                         row["seconds"], row["model_file"], row["error"])

    # --- drawings -----------------------------------------------------------------------------
    # Each saved drawing is stored once: its content hash is UNIQUE, so a double-clicked "Save"
    # or a repeated save of the same image never counts twice in the class's accuracy. A save
    # checks the duplicate and the configured cap and inserts in one BEGIN IMMEDIATE
    # transaction, so two writers (threads or processes) cannot both slip past either check.

    def add_drawing(self, image: np.ndarray, label: int, predicted: int | None,
                    model: str | None) -> int:
        """Keep a user's drawing (the 28x28 image the network saw) with its true label.

        Returns the new drawing's id. Raises `DuplicateDrawing` (a StoreError: the pages show
        its message) when the same image is already saved, whatever its label, and
        `DrawingLimitReached` when the class set is full; nothing is written then.
        """
        label = _digit(label)
        pixels = np.clip(np.asarray(image, np.float32).reshape(28, 28) * 255, 0, 255)
        data = pixels.round().astype(np.uint8).tobytes()
        digest = _image_hash(data)
        cap = _max_drawings()
        with self._connect() as db, _immediate(db):
            same = db.execute("SELECT id, label FROM drawings WHERE hash = ?",
                              (digest,)).fetchone()
            if same is not None:
                raise DuplicateDrawing(same["id"], same["label"])
            if db.execute("SELECT COUNT(*) FROM drawings").fetchone()[0] >= cap:
                raise DrawingLimitReached(
                    f"the class set is full: this server keeps at most {cap:,} drawings. The "
                    "teacher can export them on the Class page and delete some, or raise the "
                    f"limit with the environment variable {settings.MAX_DRAWINGS_ENV}")
            cur = db.execute("INSERT INTO drawings (created_at, label, predicted, model, image, "
                             "hash) VALUES (?, ?, ?, ?, ?, ?)",
                             (time.time(), label, predicted, model, data, digest))
            return int(cur.lastrowid)

    def drawings(self) -> tuple[np.ndarray, np.ndarray]:
        """All saved drawings as (images float32 (N, 28, 28, 1), labels int64 (N,))."""
        with self._connect() as db:
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
        with self._connect() as db:
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
        with self._connect() as db:
            rows = db.execute(f"SELECT * FROM drawings {where} ORDER BY id DESC LIMIT ? OFFSET ?",
                              (*args, int(limit), int(offset))).fetchall()
        return [_saved(r) for r in rows]

    def drawings_after(self, after_id: int = 0, limit: int = 1000) -> list[SavedDrawing]:
        """Drawings with an id above `after_id`, oldest first (keyset pagination).

        Ids only grow (AUTOINCREMENT, inserts serialised), so a reader that remembers the last
        id it saw gets exactly the drawings saved since, however many there are in total.
        """
        with self._connect() as db:
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
        with self._connect() as db:
            for start in range(0, len(ids), 500):
                part = ids[start:start + 500]
                rows = db.execute(f"SELECT * FROM drawings WHERE id IN "
                                  f"({', '.join('?' * len(part))})", part).fetchall()
                found.update((r["id"], _saved(r)) for r in rows)
        return [found[i] for i in ids if i in found]

    def drawing_index(self) -> tuple[np.ndarray, np.ndarray]:
        """(ids, labels) of every drawing, by id, without images: cheap enough to read for
        every refresh of the class wall (the label index covers it)."""
        with self._connect() as db:
            cursor = db.cursor()
            cursor.row_factory = None  # plain tuples: half the time of sqlite3.Row here
            rows = cursor.execute("SELECT id, label FROM drawings").fetchall()
        table = np.fromiter(chain.from_iterable(rows), np.int64, 2 * len(rows)).reshape(-1, 2)
        table = table[np.argsort(table[:, 0], kind="stable")]
        return table[:, 0], table[:, 1]

    def label_counts(self) -> dict[int, int]:
        """How many drawings are saved with each true digit (all ten digits present)."""
        with self._connect() as db:
            rows = db.execute("SELECT label, COUNT(*) FROM drawings GROUP BY label").fetchall()
        return {d: 0 for d in range(10)} | {int(r[0]): int(r[1]) for r in rows}

    def relabel_drawing(self, drawing_id: int, new_label: int, expected_label: int) -> None:
        """Give drawing `drawing_id` the true label `new_label`, if it is still labelled
        `expected_label` (what the editor saw). Optimistic concurrency: of two teachers
        editing one drawing, the second gets `DrawingChanged` instead of silently undoing the
        first's change."""
        new_label, expected_label = _digit(new_label), _digit(expected_label)
        with self._connect() as db, _immediate(db):
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
        with self._connect() as db, _immediate(db):
            row = db.execute("SELECT id FROM drawings WHERE id = ? AND (? IS NULL OR label = ?)",
                             (int(drawing_id), expected, expected)).fetchone()
            if row is None:
                raise _changed(db, drawing_id)
            return _move_to_bin(db, [int(drawing_id)])[0]

    def delete_drawings(self, ids: Sequence[int]) -> tuple[str, int]:
        """Delete every drawing of `ids` still stored (a teacher's selection): (batch id for
        `restore_drawings`, how many were deleted). Ids already gone are skipped."""
        with self._connect() as db, _immediate(db):
            return _move_to_bin(db, sorted({int(i) for i in ids}))

    def delete_drawings_since(self, seconds: float) -> tuple[str, int]:
        """Delete every drawing saved in the last `seconds` (say, a lesson's last 10 minutes
        gone wrong): (batch id for `restore_drawings`, how many were deleted)."""
        since = time.time() - float(seconds)
        with self._connect() as db, _immediate(db):
            ids = [r[0] for r in db.execute("SELECT id FROM drawings WHERE created_at >= ?",
                                            (since,))]
            return _move_to_bin(db, ids)

    def count_drawings_since(self, seconds: float) -> int:
        """How many drawings were saved in the last `seconds` (what deleting them would take)."""
        with self._connect() as db:
            return int(db.execute("SELECT COUNT(*) FROM drawings WHERE created_at >= ?",
                                  (time.time() - float(seconds),)).fetchone()[0])

    def restore_drawings(self, batch: str) -> int:
        """Undo a deletion: put its drawings back, with their ids, labels and dates. A drawing
        whose image was saved again meanwhile is not restored twice. Returns how many came back
        (0 when the batch is unknown or older than `UNDO_SECONDS`)."""
        with self._connect() as db, _immediate(db):
            restored = db.execute(
                f"INSERT INTO drawings ({_DRAWING_COLUMNS}) SELECT {_DRAWING_COLUMNS} FROM "
                "deleted_drawings AS d WHERE batch = ? AND deleted_at >= ? AND NOT EXISTS "
                "(SELECT 1 FROM drawings WHERE hash = d.hash OR id = d.id)",
                (str(batch), time.time() - UNDO_SECONDS)).rowcount
            db.execute("DELETE FROM deleted_drawings WHERE batch = ?", (str(batch),))
            return int(restored)

    # --- lab settings and teacher links -------------------------------------------------------

    def setting(self, name: str) -> str | None:
        with self._connect() as db:
            row = db.execute("SELECT value FROM lab_settings WHERE name = ?", (name,)).fetchone()
        return None if row is None else row[0]

    def set_setting(self, name: str, value: str) -> None:
        with self._connect() as db:
            db.execute("INSERT INTO lab_settings (name, value, updated_at) VALUES (?, ?, ?) "
                       "ON CONFLICT (name) DO UPDATE SET value = excluded.value, "
                       "updated_at = excluded.updated_at", (name, str(value), time.time()))

    def class_model(self) -> str:
        """The class model's ref ("bundled" until the teacher picks another)."""
        return self.setting(CLASS_MODEL) or BUNDLED

    def set_class_model(self, ref: str) -> None:
        """Make `ref` the class model: "bundled", or a stored run that offers a model (KeyError
        with the reason otherwise, and nothing changes)."""
        if ref != BUNDLED:
            run = self.get_run(ref)
            if not run.offers_model:
                raise KeyError(f"run '{ref}' has no model to use (status: {run.status})")
        self.set_setting(CLASS_MODEL, ref)

    def add_teacher_link(self, digest: str, expires_at: float) -> None:
        """Remember a one-time teacher link by its token's digest (never the token itself);
        expired links are forgotten on the way."""
        now = time.time()
        with self._connect() as db:
            db.execute("DELETE FROM teacher_links WHERE expires_at <= ?", (now,))
            db.execute("INSERT OR REPLACE INTO teacher_links (hash, created_at, expires_at) "
                       "VALUES (?, ?, ?)", (digest, now, float(expires_at)))

    def use_teacher_link(self, digest: str) -> bool:
        """True once for a link that exists and has not expired; it is used up at once, so two
        browsers opening the same link cannot both get in."""
        with self._connect() as db:
            return db.execute("DELETE FROM teacher_links WHERE hash = ? AND expires_at > ?",
                              (digest, time.time())).rowcount == 1


@dataclass(frozen=True)
class SavedDrawing:
    id: int
    created_at: float
    label: int
    predicted: int | None      # what the saving student's model answered
    model: str | None          # that model's ref ("bundled" or a run id)
    image: np.ndarray          # uint8 (28, 28), 0 = background


#: What a damaged row shows (mid-grey): visible on the class wall, so the teacher can delete it,
#: instead of one bad row breaking the page for everyone.
UNREADABLE = np.full((28, 28), 128, np.uint8)


def _pixels(blob) -> np.ndarray | None:
    if isinstance(blob, bytes) and len(blob) == 28 * 28:
        return np.frombuffer(blob, np.uint8).reshape(28, 28)
    return None


def _saved(row: sqlite3.Row) -> SavedDrawing:
    pixels = _pixels(row["image"])
    return SavedDrawing(row["id"], row["created_at"], row["label"], row["predicted"],
                        row["model"], UNREADABLE if pixels is None else pixels)


def _digit(label) -> int:
    if isinstance(label, bool) or not isinstance(label, (int, np.integer)) or \
            not 0 <= int(label) <= 9:
        raise ValueError(f"label must be a digit 0-9, got {label!r}")
    return int(label)


def _image_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


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


@contextmanager
def _immediate(db: sqlite3.Connection):
    """A write transaction that takes the lock at once, so its reads and writes are atomic."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        if db.in_transaction:  # SQLite may have rolled back already (e.g. disk full)
            db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


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


def _add_drawing_hashes(db: sqlite3.Connection) -> None:
    """Migrate a database from before content hashes: add the column, hash every drawing and
    delete repeated images (keeping the first save), all in one transaction so that two
    processes opening the old database at once migrate it once."""
    def has_hash() -> bool:
        return any(r["name"] == "hash" for r in db.execute("PRAGMA table_info(drawings)"))

    if has_hash():
        return
    with _immediate(db):
        if has_hash():  # another process migrated it while we waited for the lock
            return
        db.execute("ALTER TABLE drawings ADD COLUMN hash TEXT")
        first: dict[str, int] = {}
        repeats: list[tuple[int]] = []
        for row in db.execute("SELECT id, image FROM drawings ORDER BY id"):
            digest = _image_hash(bytes(row["image"]))
            if digest in first:
                repeats.append((row["id"],))
            else:
                first[digest] = row["id"]
        db.executemany("DELETE FROM drawings WHERE id = ?", repeats)
        db.executemany("UPDATE drawings SET hash = ? WHERE id = ?", list(first.items()))
