"""The lab's memory: every training run and every labelled drawing, in SQLite under the lab
home, with trained models beside it.

SQLite in WAL mode with a busy timeout lets two processes (two servers, or the CLI beside the
app) share one home. A fresh connection per operation keeps it safe across threads.
"""
from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import settings
from .model_files import save_atomic

BUNDLED = "bundled"
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
    image BLOB NOT NULL
);
"""


class StoreError(Exception):
    """The lab home cannot be used (unwritable, disk full, damaged database)."""


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


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunStore:
    def __init__(self, home: Path | str | None = None) -> None:
        self.home = Path(home) if home is not None else settings.lab_home()
        self.models_dir = self.home / "models"
        self.db_path = self.home / "lab.sqlite3"
        try:
            self.models_dir.mkdir(parents=True, exist_ok=True)
            with self._connect() as db:
                db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as e:
            raise StoreError(f"the lab home {self.home} cannot be used ({e}); set "
                             f"{settings.HOME_ENV} to a writable folder") from e
        self.mark_interrupted()

    @contextmanager
    def _connect(self):
        db = sqlite3.connect(self.db_path, timeout=30, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA busy_timeout=30000")
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
                   seconds: float | None = None, error: str | None = None) -> RunRecord:
        """Close a run; the model file is fully written before the row points at it."""
        model_file = None
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
                       "test_loss=?, seconds=?, model_file=?, error=? WHERE id=?",
                       (status, time.time(), json.dumps(history), test_accuracy, test_loss,
                        seconds, model_file, error, run_id))
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

    def model_path(self, run_id: str) -> Path:
        run = self.get_run(run_id)
        if not run.has_model:
            raise KeyError(f"run '{run_id}' has no model (status: {run.status})")
        return self.models_dir / run.model_file

    def resolve_model(self, ref: str | None) -> tuple[Path, str]:
        """(file, display name) for "bundled"/None, a run id, or a .keras path (CLI only)."""
        if ref in (None, "", BUNDLED):
            return settings.BUNDLED_MODEL, BUNDLED
        try:
            return self.model_path(ref), ref
        except KeyError as missing:
            candidate = Path(ref).expanduser()
            if candidate.suffix in (".keras", ".h5", ".hdf5") and candidate.exists():
                return candidate, candidate.name
            raise KeyError(f"'{ref}' is neither 'bundled', a stored run with a model, nor a "
                           f".keras file ({missing.args[0]})") from None

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

    def add_drawing(self, image: np.ndarray, label: int, predicted: int | None,
                    model: str | None) -> int:
        """Keep a user's drawing (the 28x28 image the network saw) with its true label."""
        if not 0 <= int(label) <= 9:
            raise ValueError(f"label must be a digit 0-9, got {label}")
        pixels = np.clip(np.asarray(image, np.float32).reshape(28, 28) * 255, 0, 255)
        with self._connect() as db:
            cur = db.execute("INSERT INTO drawings (created_at, label, predicted, model, image) "
                             "VALUES (?, ?, ?, ?, ?)", (time.time(), int(label), predicted, model,
                                                        pixels.round().astype(np.uint8).tobytes()))
            return int(cur.lastrowid)

    def drawings(self) -> tuple[np.ndarray, np.ndarray]:
        """All saved drawings as (images float32 (N, 28, 28, 1), labels int64 (N,))."""
        with self._connect() as db:
            rows = db.execute("SELECT image, label FROM drawings ORDER BY id").fetchall()
        images = np.array([np.frombuffer(r["image"], np.uint8) for r in rows], np.float32)
        return (images.reshape(-1, 28, 28, 1) / 255.0,
                np.array([r["label"] for r in rows], np.int64))
