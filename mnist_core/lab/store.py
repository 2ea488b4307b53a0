"""The lab's memory: every training run and every labelled drawing, in SQLite under the lab
home, with trained models beside it.

SQLite in WAL mode with a busy timeout lets two processes (two servers, or the CLI beside the
app) share one home. A fresh connection per operation keeps it safe across threads.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import socket
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from errno import ENOSPC
from itertools import chain
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnist_core import settings
from mnist_core.model.files import save_atomic
from mnist_core.untrusted import is_number, load_json, short

BUNDLED = "bundled"
FINE_TUNE = "fine-tune"   # the preset field of runs made by mnist_core.jobs.finetune
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
    hash TEXT,
    device TEXT
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
    batch TEXT NOT NULL,
    device TEXT
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
_DRAWING_COLUMNS = "id, created_at, label, predicted, model, image, hash, device"
#: The lab_settings row holding the salt of device tags (mnist_core.lab.devices.device_tag).
DEVICE_SALT = "device_salt"
#: How long deleted drawings can be restored ("Undo" on the Class page), in seconds.
UNDO_SECONDS = 24 * 3600
#: The lab_settings row naming the class model: the model every browser uses unless it picked
#: its own (the teacher sets it; it survives a server restart).
CLASS_MODEL = "class_model"
# Created after the migration below: a database from before the hash column needs it first.
_DRAWING_INDEXES = """
CREATE UNIQUE INDEX IF NOT EXISTS drawings_hash ON drawings (hash);
CREATE INDEX IF NOT EXISTS drawings_device ON drawings (device);
CREATE INDEX IF NOT EXISTS drawings_label ON drawings (label);
"""


#: Free disk space a training needs beyond its model file: the database's growth (history,
#: WAL), the model's temporary file before its atomic rename, and room left for the system.
SAVE_MARGIN_BYTES = 64 * 1024 * 1024


def model_file_bytes(parameters: int) -> int:
    """About how big a trained model's .keras file is: float32 weights (4 bytes per learned
    parameter, a quarter more for batch normalisation's statistics) plus the architecture and
    zip headers: the bundled `best`, 325,994 parameters, is 1.41 MB; this says 1.89 MB."""
    return int(parameters) * 5 + 256 * 1024


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


class DamagedRun(StoreError):
    """A run's record holds what this lab never writes (edited by hand, a damaged file): the
    run is skipped with its id and the reason, and every other run still shows."""

    def __init__(self, run_id: str, reason: str) -> None:
        super().__init__(f"run {run_id}'s record is damaged ({reason})")
        self.run_id = run_id
        self.reason = reason


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
        if self.preset == FINE_TUNE and "from" in self.config:  # see mnist_core.jobs.finetune
            source, drawings = self.config["from"], self.config.get("drawings", "?")
            name = (f"fine-tuned from {source if isinstance(source, str) else short(source)} "
                    f"on {drawings if isinstance(drawings, int) else short(drawings)} drawings")
        if self.status in ("done", "stopped", "running"):
            return f"{name} · {self.id}"
        return f"{name} · {self.id} · {self.status} after {self.how_far()}"


def _pid_alive(pid: int) -> bool:
    if type(pid) is not int or not 0 < pid < 2 ** 31:   # a damaged record: no live process
        return False
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
        #: Why this lab home cannot be written (None: it can). A read-only home (a read-only
        #: mount, a folder of another user) still shows its runs and saved drawings; every
        #: write is a StoreError saying so, and `check_can_save` refuses a training up front.
        self.read_only: str | None = None
        self._read_uri: str | None = None   # the read-only URI `_connect` opens, if read-only
        try:
            self._open_for_writing()
        except (OSError, sqlite3.Error, StoreError) as e:
            if not self._open_for_reading(e):
                if isinstance(e, StoreError):
                    raise
                raise StoreError(f"the lab home {self.home} cannot be used ({e}); set "
                                 f"{settings.HOME_ENV} to a writable folder") from e
        if self.read_only is None:
            self.mark_interrupted()

    def _open_for_writing(self) -> None:
        """Create or migrate the database and check that it takes a write (rolled back): SQLite
        opens a file it may not write read-only without a word, and says so only at the first
        write, which would be a student's save or the end of a training."""
        self.models_dir.mkdir(parents=True, exist_ok=True)
        with self._connect(for_writing=True) as db:
            _use_wal(db)
            db.executescript(_SCHEMA)
            _add_drawing_hashes(db)
            _add_device_columns(db)
            db.executescript(_DRAWING_INDEXES)
            _write_check(db)

    def _open_for_reading(self, error: Exception) -> bool:
        """After `error` from `_open_for_writing`: open an existing database read-only, so that
        its runs and drawings can still be seen. True if that worked (`read_only` then says why
        the home cannot be written). A WAL database needs its -shm file, which a read-only
        folder cannot create: then the file is opened as immutable (nothing changes it here)."""
        if not self.db_path.is_file():
            return False
        base = self.db_path.resolve().as_uri()
        for options in ("mode=ro", "mode=ro&immutable=1"):
            try:
                with closing(sqlite3.connect(f"{base}?{options}", uri=True, timeout=30)) as db:
                    for table in ("runs", "drawings", "lab_settings"):
                        db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()
            except sqlite3.Error:
                continue
            self._read_uri = f"{base}?{options}"
            self.read_only = self._write_problem() or str(error.__cause__ or error)
            return True
        return False

    @contextmanager
    def _connect(self, for_writing: bool = False):
        if self._read_uri is not None and not for_writing:
            db = sqlite3.connect(self._read_uri, uri=True, timeout=30, isolation_level=None)
        else:
            db = sqlite3.connect(self.db_path, timeout=30, isolation_level=None)
        try:
            db.row_factory = sqlite3.Row
            yield db
        except sqlite3.Error as e:
            if self.read_only is not None and "readonly" in str(e):
                raise StoreError(self._read_only_message("nothing can be saved")) from e
            cannot_write = any(w in str(e) for w in ("full", "I/O", "readonly", "unable to open"))
            hint = (" (is the disk full or the lab home read-only? free some space or set "
                    f"{settings.HOME_ENV} to another folder)" if cannot_write else "")
            raise StoreError(f"the lab's database {self.db_path} failed: {e}{hint}") from e
        finally:
            db.close()

    def _write_problem(self) -> str | None:
        """Why nothing can be written in this home, in the system's words, if it says."""
        problem = _write_problem(self.home) or _write_problem(self.models_dir)
        try:
            if problem is None and shutil.disk_usage(self.home).free < 1024 * 1024:
                problem = _FULL_DISK   # an empty file still fits (an inode), a database page not
        except OSError:
            pass
        return problem

    def _read_only_message(self, consequence: str) -> str:
        fix = ("Free some disk space" if self.read_only in (_FULL_DISK, os.strerror(ENOSPC))
               else "Make it writable")
        return (f"the lab home {self.home} cannot be written ({self.read_only}), so "
                f"{consequence}; saved drawings and runs can still be viewed. {fix} or set "
                f"{settings.HOME_ENV} to a writable folder")

    def check_can_save(self, model_bytes: int = 0) -> None:
        """Before a training: can this home keep its result? A StoreError saying why not, at
        once, rather than after minutes of training: a read-only home (checked again: it may
        have been fixed since), a models folder or database that refuses a write, or less free
        disk space than the model file (`model_bytes`, see `model_file_bytes`) plus
        SAVE_MARGIN_BYTES for the database and temporary files."""
        if self.read_only is not None:
            try:
                self._open_for_writing()
            except (OSError, sqlite3.Error, StoreError):
                self.read_only = self._write_problem() or self.read_only
                raise StoreError(self._read_only_message(
                    "a run's model and record could not be saved")) from None
            self.read_only, self._read_uri = None, None   # writable again: back to normal
        try:
            self.models_dir.mkdir(parents=True, exist_ok=True)   # deleted meanwhile?
        except OSError:
            pass   # said just below
        if problem := _write_problem(self.models_dir):
            raise StoreError(f"the lab's model folder {self.models_dir} cannot be written "
                             f"({problem}), so a run's model could not be saved. Make it "
                             f"writable or set {settings.HOME_ENV} to a writable folder")
        try:
            with self._connect() as db:
                _write_check(db)
        except StoreError as e:
            raise StoreError(f"a run could not be recorded: {e}") from None
        free = shutil.disk_usage(self.models_dir).free
        needed = int(model_bytes) + SAVE_MARGIN_BYTES
        if free < needed:
            raise StoreError(f"the disk of the lab home {self.home} has {_megabytes(free)} "
                             f"free, and a run needs about {_megabytes(needed)} (its model file "
                             f"and room for the database). Free some disk space or set "
                             f"{settings.HOME_ENV} to a folder on another disk")

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
        """The run `run_id`: KeyError if there is none, DamagedRun if its record is damaged."""
        with self._connect() as db:
            row = db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise KeyError(f"no run with id '{run_id}'")
        return self._record(row)

    def list_runs(self) -> list[RunRecord]:
        """Every run whose record can be read, newest first; damaged ones are left out (see
        `read_runs`), so that one bad row does not take every page down."""
        return self.read_runs()[0]

    def read_runs(self) -> tuple[list[RunRecord], list[DamagedRun]]:
        """(every readable run, newest first; a DamagedRun for each record that cannot be
        read, with its id and reason). Each damaged record is also logged, once."""
        with self._connect() as db:
            rows = db.execute("SELECT * FROM runs ORDER BY created_at DESC").fetchall()
        runs, damaged = [], []
        for row in rows:
            try:
                runs.append(self._record(row))
            except DamagedRun as e:
                damaged.append(e)
        return runs, damaged

    def latest_run(self) -> RunRecord | None:
        """The newest run whose record can be read (None if none)."""
        with self._connect() as db:
            for row in db.execute("SELECT * FROM runs ORDER BY created_at DESC"):
                try:
                    return self._record(row)
                except DamagedRun:
                    continue
        return None

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
        """A runs row as a RunRecord, or DamagedRun saying which field is not what this lab
        writes there (invalid JSON, nesting or a number no page can use, a list where text
        belongs, a model file outside the models folder)."""
        run_id = row["id"] if isinstance(row["id"], str) else short(row["id"])
        try:
            return RunRecord(
                _text_field(row, "id"), _number_field(row, "created_at"),
                _number_field(row, "finished_at", optional=True), _text_field(row, "preset"),
                _json_field(row, "config", dict), _text_field(row, "data_source"),
                _text_field(row, "status"), _history(row),
                _number_field(row, "test_accuracy", optional=True),
                _number_field(row, "test_loss", optional=True),
                _number_field(row, "seconds", optional=True), _model_file(row),
                _text_field(row, "error", optional=True))
        except ValueError as e:
            _log_damaged(run_id, str(e))
            raise DamagedRun(run_id, str(e)) from None

    # --- drawings -----------------------------------------------------------------------------
    # Each saved drawing is stored once: its content hash is UNIQUE, so a double-clicked "Save"
    # or a repeated save of the same image never counts twice in the class's accuracy. A save
    # checks the duplicate and the configured cap and inserts in one BEGIN IMMEDIATE
    # transaction, so two writers (threads or processes) cannot both slip past either check.

    def add_drawing(self, image: np.ndarray, label: int, predicted: int | None,
                    model: str | None, device: str | None = None) -> int:
        """Keep a user's drawing (the 28x28 image the network saw) with its true label.

        Returns the new drawing's id. Raises `DuplicateDrawing` (a StoreError: the pages show
        its message) when the same image is already saved, whatever its label, and
        `DrawingLimitReached` when the class set is full, or when `device` (the saving
        client's, mnist_core.lab.devices; None for the CLI and scripts) holds its share of it
        already; nothing is written then. The store keeps only a salted digest of `device`.
        """
        tag = None if device is None else self._device_tag(device)
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
            share = settings.max_drawings_per_device()
            if tag is not None and db.execute("SELECT COUNT(*) FROM drawings WHERE device = ?",
                                              (tag,)).fetchone()[0] >= share:
                raise DrawingLimitReached(
                    f"this device has saved {share:,} drawings, the most one device may keep "
                    f"(1/{settings.DEVICE_SHARE_OF_DRAWINGS} of the class set's "
                    f"{cap:,}). The teacher can delete some on the Class page")
            cur = db.execute("INSERT INTO drawings (created_at, label, predicted, model, image, "
                             "hash, device) VALUES (?, ?, ?, ?, ?, ?, ?)",
                             (time.time(), label, predicted, model, data, digest, tag))
            return int(cur.lastrowid)

    def _device_tag(self, device: str) -> str:
        """The salted digest kept for a device; the salt is made once per lab home."""
        from mnist_core.lab.devices import device_tag

        salt = getattr(self, "_salt", None) or self.setting(DEVICE_SALT)
        if salt is None:
            with self._connect() as db:
                db.execute("INSERT OR IGNORE INTO lab_settings (name, value, updated_at) "
                           "VALUES (?, ?, ?)", (DEVICE_SALT, uuid.uuid4().hex, time.time()))
            salt = self.setting(DEVICE_SALT)
        self._salt = salt
        return device_tag(device, salt)

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


_LOG = logging.getLogger(__name__)
_DAMAGE_LOGGED: set[tuple[str, str]] = set()


def _log_damaged(run_id: str, reason: str) -> None:
    """Log a damaged run record once per process, not at every page view that lists runs."""
    if (run_id, reason) not in _DAMAGE_LOGGED and len(_DAMAGE_LOGGED) < 1000:
        _DAMAGE_LOGGED.add((run_id, reason))
        _LOG.warning("run %s skipped: its record is damaged (%s)", run_id, reason)


def _text_field(row: sqlite3.Row, name: str, optional: bool = False) -> str | None:
    value = row[name]
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{name} is {short(value)}, not text")
    return value


def _number_field(row: sqlite3.Row, name: str, optional: bool = False) -> float | None:
    value = row[name]
    if value is None and optional:
        return None
    if not is_number(value):
        raise ValueError(f"{name} is {short(value)}, not a number")
    return float(value)


def _json_field(row: sqlite3.Row, name: str, kind: type) -> dict | list:
    """The JSON in column `name`, which must be a `kind` (dict or list), bounded in nesting
    and numbers (mnist_core.untrusted): no page can then fail on it."""
    value = load_json(row[name], name)
    if not isinstance(value, kind):
        raise ValueError(f"{name} is {type(value).__name__}, not a JSON "
                         f"{'object' if kind is dict else 'list'}")
    return value


def _history(row: sqlite3.Row) -> list[dict]:
    """The per-epoch metrics: a list of objects of numbers or nulls (charts and tables read
    them)."""
    history = _json_field(row, "history", list)
    for epoch, entry in enumerate(history, 1):
        if not isinstance(entry, dict) or not all(v is None or is_number(v)
                                                  for v in entry.values()):
            raise ValueError(f"epoch {epoch} of its history is not a set of numbers")
    return history


def _model_file(row: sqlite3.Row) -> str | None:
    """A model file's name in the models folder: never a path that leads out of it."""
    name = _text_field(row, "model_file", optional=True)
    if name is not None and (Path(name).name != name or name.startswith(".")
                             or not name.endswith(".keras")):
        raise ValueError(f"model_file {short(name)} is not a model's name in the models folder")
    return name


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


def _write_check(db: sqlite3.Connection) -> None:
    """A write that is rolled back: SQLite refuses it where the file or its folder cannot be
    written (opening, reading and even BEGIN IMMEDIATE succeed there)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute("INSERT OR REPLACE INTO lab_settings (name, value, updated_at) "
                   "VALUES ('write check', '', 0)")
    finally:
        if db.in_transaction:   # SQLite may have rolled back already (a full disk)
            db.execute("ROLLBACK")


_FULL_DISK = "its disk is full"


def _write_problem(folder: Path) -> str | None:
    """Why no file can be created in `folder` ("Read-only file system", "Permission denied"),
    or None if one can (tried for real: root passes os.access on a read-only mount)."""
    try:
        fd, name = tempfile.mkstemp(prefix=".write-check-", dir=folder)
    except OSError as e:
        return e.strerror or str(e)
    os.close(fd)
    try:
        os.unlink(name)
    except OSError:
        pass
    return None


def _megabytes(size: int) -> str:
    return f"{size / 1e6:,.1f} MB" if size < 10e6 else f"{size / 1e6:,.0f} MB"


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


def _add_device_columns(db: sqlite3.Connection) -> None:
    """Migrate a database from before per-device quotas: drawings saved before it belong to
    no device (they count against the class set's cap only)."""
    for table in ("drawings", "deleted_drawings"):
        columns = {r["name"] for r in db.execute(f"PRAGMA table_info({table})")}
        if "device" not in columns:
            with _immediate(db):
                if "device" not in {r["name"] for r in
                                    db.execute(f"PRAGMA table_info({table})")}:
                    db.execute(f"ALTER TABLE {table} ADD COLUMN device TEXT")


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
