"""The runs side of the lab's store: one record per training or fine-tune, from its start to
its end with the model file, read back checked (a hand-edited or damaged record is skipped with
the reason, never shown half-read), and the class model's choice.
"""
from __future__ import annotations

import json
import logging
import os
import socket
import sqlite3
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from mnist_core import settings
from mnist_core.lab.db import LabDatabase, StoreError
from mnist_core.model.files import save_atomic
from mnist_core.untrusted import is_number, load_json, short

BUNDLED = "bundled"
FINE_TUNE = "fine-tune"   # the preset field of runs made by mnist_core.jobs.finetune
#: The lab_settings row naming the class model: the model every browser uses unless it picked
#: its own (the teacher sets it; it survives a server restart).
CLASS_MODEL = "class_model"


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


class RunsStore(LabDatabase):
    """The runs table, and the class model (a run, or the bundled model)."""

    def create_run(self, config: dict, data_source: str) -> str:
        run_id = time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:6]
        with self.connect() as db:
            db.execute("INSERT INTO runs (id, created_at, preset, config, data_source, status,"
                       " host, pid) VALUES (?, ?, ?, ?, ?, 'running', ?, ?)",
                       (run_id, time.time(), config["preset"], json.dumps(config), data_source,
                        socket.gethostname(), os.getpid()))
        return run_id

    def record_history(self, run_id: str, history: list[dict]) -> None:
        with self.connect() as db:
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
        with self.connect() as db:
            db.execute("UPDATE runs SET status=?, finished_at=?, history=?, test_accuracy=?, "
                       "test_loss=?, seconds=?, model_file=?, error=?, "
                       "config=COALESCE(?, config) WHERE id=?",
                       (status, time.time(), json.dumps(history), test_accuracy, test_loss,
                        seconds, model_file, error,
                        None if config is None else json.dumps(config), run_id))
        return self.get_run(run_id)

    def get_run(self, run_id: str) -> RunRecord:
        """The run `run_id`: KeyError if there is none, DamagedRun if its record is damaged."""
        with self.connect() as db:
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
        with self.connect() as db:
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
        with self.connect() as db:
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
        with self.connect() as db:
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
