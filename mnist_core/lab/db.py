"""The lab's SQLite database under the lab home: its connection, schema and migrations, the
read-only fallback, and the lab_settings rows (class model, device salt, teacher links).

SQLite in WAL mode with a busy timeout lets two processes (two servers, or the CLI beside the
app) share one home. A fresh connection per operation keeps it safe across threads. The runs
and the class drawings are kept through this connection by `mnist_core.lab.runs` and
`mnist_core.lab.drawings`; `mnist_core.lab.store.RunStore` is all three in one object.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import tempfile
import time
from contextlib import closing, contextmanager
from errno import ENOSPC
from pathlib import Path

from mnist_core import settings

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
    device TEXT,
    tag TEXT
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
    device TEXT,
    tag TEXT
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
# Created after the migration below: a database from before the hash column needs it first.
_DRAWING_INDEXES = """
CREATE UNIQUE INDEX IF NOT EXISTS drawings_hash ON drawings (hash);
CREATE INDEX IF NOT EXISTS drawings_device ON drawings (device);
CREATE INDEX IF NOT EXISTS drawings_label ON drawings (label);
CREATE INDEX IF NOT EXISTS drawings_tag ON drawings (tag);
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


class LabDatabase:
    """The lab home's database, opened (created, migrated) when made: writable, or read-only
    with the reason in `read_only`. StoreError when it cannot be used at all."""

    def __init__(self, home: Path | str | None = None) -> None:
        self.home = Path(home) if home is not None else settings.lab_home()
        self.models_dir = self.home / "models"
        self.db_path = self.home / "lab.sqlite3"
        #: Why this lab home cannot be written (None: it can). A read-only home (a read-only
        #: mount, a folder of another user) still shows its runs and saved drawings; every
        #: write is a StoreError saying so, and `check_can_save` refuses a training up front.
        self.read_only: str | None = None
        self._read_uri: str | None = None   # the read-only URI `connect` opens, if read-only
        try:
            self._open_for_writing()
        except (OSError, sqlite3.Error, StoreError) as e:
            if not self._open_for_reading(e):
                if isinstance(e, StoreError):
                    raise
                raise StoreError(f"the lab home {self.home} cannot be used ({e}); set "
                                 f"{settings.HOME_ENV} to a writable folder") from e

    def _open_for_writing(self) -> None:
        """Create or migrate the database and check that it takes a write (rolled back): SQLite
        opens a file it may not write read-only without a word, and says so only at the first
        write, which would be a student's save or the end of a training."""
        self.models_dir.mkdir(parents=True, exist_ok=True)
        with self.connect(for_writing=True) as db:
            _use_wal(db)
            db.executescript(_SCHEMA)
            _add_drawing_hashes(db)
            _add_device_columns(db)
            _add_tag_columns(db)
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
    def connect(self, for_writing: bool = False):
        """A new connection (closed on leaving the `with`): rows as sqlite3.Row, SQLite's errors
        as StoreError with the reason and the fix."""
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
            with self.connect() as db:
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

    # --- lab settings and teacher links -----------------------------------------------------

    def setting(self, name: str) -> str | None:
        with self.connect() as db:
            row = db.execute("SELECT value FROM lab_settings WHERE name = ?", (name,)).fetchone()
        return None if row is None else row[0]

    def set_setting(self, name: str, value: str) -> None:
        with self.connect() as db:
            db.execute("INSERT INTO lab_settings (name, value, updated_at) VALUES (?, ?, ?) "
                       "ON CONFLICT (name) DO UPDATE SET value = excluded.value, "
                       "updated_at = excluded.updated_at", (name, str(value), time.time()))

    def add_teacher_link(self, digest: str, expires_at: float) -> None:
        """Remember a one-time teacher link by its token's digest (never the token itself);
        expired links are forgotten on the way."""
        now = time.time()
        with self.connect() as db:
            db.execute("DELETE FROM teacher_links WHERE expires_at <= ?", (now,))
            db.execute("INSERT OR REPLACE INTO teacher_links (hash, created_at, expires_at) "
                       "VALUES (?, ?, ?)", (digest, now, float(expires_at)))

    def use_teacher_link(self, digest: str) -> bool:
        """True once for a link that exists and has not expired; it is used up at once, so two
        browsers opening the same link cannot both get in."""
        with self.connect() as db:
            return db.execute("DELETE FROM teacher_links WHERE hash = ? AND expires_at > ?",
                              (digest, time.time())).rowcount == 1


def image_hash(data: bytes) -> str:
    """The content hash that keeps each saved drawing once."""
    return hashlib.sha256(data).hexdigest()


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
def immediate(db: sqlite3.Connection):
    """A write transaction that takes the lock at once, so its reads and writes are atomic."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        if db.in_transaction:  # SQLite may have rolled back already (e.g. disk full)
            db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _add_device_columns(db: sqlite3.Connection) -> None:
    """Migrate a database from before per-device quotas: drawings saved before it belong to
    no device (they count against the class set's cap only)."""
    for table in ("drawings", "deleted_drawings"):
        columns = {r["name"] for r in db.execute(f"PRAGMA table_info({table})")}
        if "device" not in columns:
            with immediate(db):
                if "device" not in {r["name"] for r in
                                    db.execute(f"PRAGMA table_info({table})")}:
                    db.execute(f"ALTER TABLE {table} ADD COLUMN device TEXT")


def _add_tag_columns(db: sqlite3.Connection) -> None:
    """Migrate a database from before tagged drawings (a drawing that fooled the network is
    tagged "fooled"): drawings saved before it have no tag."""
    for table in ("drawings", "deleted_drawings"):
        if "tag" not in {r["name"] for r in db.execute(f"PRAGMA table_info({table})")}:
            with immediate(db):
                if "tag" not in {r["name"] for r in
                                 db.execute(f"PRAGMA table_info({table})")}:
                    db.execute(f"ALTER TABLE {table} ADD COLUMN tag TEXT")


def _add_drawing_hashes(db: sqlite3.Connection) -> None:
    """Migrate a database from before content hashes: add the column, hash every drawing and
    delete repeated images (keeping the first save), all in one transaction so that two
    processes opening the old database at once migrate it once."""
    def has_hash() -> bool:
        return any(r["name"] == "hash" for r in db.execute("PRAGMA table_info(drawings)"))

    if has_hash():
        return
    with immediate(db):
        if has_hash():  # another process migrated it while we waited for the lock
            return
        db.execute("ALTER TABLE drawings ADD COLUMN hash TEXT")
        first: dict[str, int] = {}
        repeats: list[tuple[int]] = []
        for row in db.execute("SELECT id, image FROM drawings ORDER BY id"):
            digest = image_hash(bytes(row["image"]))
            if digest in first:
                repeats.append((row["id"],))
            else:
                first[digest] = row["id"]
        db.executemany("DELETE FROM drawings WHERE id = ?", repeats)
        db.executemany("UPDATE drawings SET hash = ? WHERE id = ?", list(first.items()))
