"""A job in a thread of this process: a training (the CLI, tests) or other work (a fine-tune),
recorded in the store as it goes.

The job never touches any UI: it only updates its `Progress`, which viewers (the app's
fragments, the CLI's progress bar) read through `snapshot()`. The app's trainings run in a
child process instead (mnist_core.jobs.child_training.ProcessTrainingJob, the same interface);
`mnist_core.jobs.registry` keeps one job per server.
"""
from __future__ import annotations

import threading
from typing import Callable

from mnist_core.data.dataset import Dataset
from mnist_core.lab.db import StoreError
from mnist_core.lab.runs import RunRecord
from mnist_core.lab.store import RunStore
from mnist_core.training.loop import train
from mnist_core.training.progress import Progress, Snapshot


class RecordingProgress(Progress):
    """Progress that also writes each finished epoch to the store, so a killed run keeps
    its curves up to the last complete epoch.

    A failed write (disk full for a moment) does not stop training: the whole history is
    written again after the next epoch and with the final record.
    """

    def __init__(self, store: RunStore | None) -> None:
        super().__init__()
        self.store = store

    def end_epoch(self, record: dict) -> None:
        super().end_epoch(record)
        snap = self.snapshot()
        if self.store is not None and snap.run_id:
            try:
                self.store.record_history(snap.run_id, snap.history)
            except StoreError:
                pass


class TrainingJob:
    """One background job. By default it trains `config` on `data`; another kind of job (a
    fine-tune) passes `work`, a callable that gets the job and does the work in its thread:
    it calls `open_run()` once it knows what it will record, reports through `progress`, ends
    at the next batch once `stop_event` is set, and returns a result with `model`, `status`
    ("done" or "stopped"), `history`, `test_accuracy`, `test_loss` and `seconds` (like
    TrainResult) and optionally `record_config` (a dict stored as the run's final config).
    `label` names the job in "... is already running" messages.

    The config checked itself when it was made; the one check that needs the data (does a
    batch fit?) happens here, at creation when the data is at hand, else once it is loaded.
    """

    def __init__(self, config, data: Dataset | Callable[[], Dataset] | None,
                 store: RunStore | None = None, *,
                 work: Callable[["TrainingJob"], object] | None = None,
                 label: str | None = None) -> None:
        self.config = config
        self.store = store
        self.progress = RecordingProgress(store)
        self.record: RunRecord | None = None
        self.result = None
        self.label = label or f"a '{config.preset}' training"
        self._data = data
        if work is None and isinstance(data, Dataset):
            config.check_data(len(data.x_train))
        self._work = work or TrainingJob._train
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"train-{config.preset}",
                                        daemon=True)

    @classmethod
    def prepare(cls) -> None:
        """Get this kind of job's next start ready in the background; a thread needs nothing
        (ProcessTrainingJob starts its fork server). Cheap to call again."""

    @property
    def stop_event(self) -> threading.Event:
        return self._stop

    def load_data(self) -> Dataset:
        return self._data() if callable(self._data) else self._data

    def open_run(self, config: dict, data_source: str) -> str | None:
        """Record the run as started in the store (if any); its id goes into the progress."""
        if self.store is None:
            return None
        run_id = self.store.create_run(config, data_source)
        self.progress.update(run_id=run_id)
        return run_id

    def start(self) -> "TrainingJob":
        self._thread.start()
        return self

    def stop(self) -> None:
        """Ask training to end at the next batch; the best weights so far are kept."""
        self._stop.set()
        if self.progress.snapshot().status in ("pending", "running"):
            self.progress.update(status="stopping")

    def snapshot(self) -> Snapshot:
        return self.progress.snapshot()

    def join(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def active(self) -> bool:
        return self._thread.is_alive() or self.snapshot().status == "pending"

    def describe(self) -> str:
        """"a 'fast' training (epoch 2 of 3)", or "(starting)" before the first batch: the
        epoch count is only known once the data is loaded, so never "epoch 1/0"."""
        snap = self.snapshot()
        if snap.epochs == 0:
            where = "starting"
        elif snap.status == "stopping":
            where = "stopping"
        else:
            where = f"epoch {min(snap.epoch + 1, snap.epochs)} of {snap.epochs}"
        return f"{self.label} ({where})"

    def _train(self):
        """The default work: train `config` on the data (the one training path)."""
        dataset = self.load_data()
        if callable(self._data):
            self.config.check_data(len(dataset.x_train))
        self.open_run(self.config.to_dict(), dataset.source)
        return train(self.config, dataset, self.progress, self._stop)

    def _run(self) -> None:
        try:
            result = self._work(self)
            run_id = self.progress.snapshot().run_id
            if self.store is not None and run_id is not None:
                self.record = self.store.finish_run(
                    run_id, status=result.status, history=result.history, model=result.model,
                    test_accuracy=result.test_accuracy, test_loss=result.test_loss,
                    seconds=result.seconds, config=getattr(result, "record_config", None))
                status, error = self.record.status, self.record.error
            else:
                status, error = result.status, None
            self.result = result
            self.progress.finish(status, error=error, test_accuracy=result.test_accuracy,
                                 test_loss=result.test_loss)
        except Exception as e:  # reported to every viewer; the process carries on
            message = str(e) or type(e).__name__
            run_id = self.progress.snapshot().run_id
            if run_id is not None and self.store is not None:
                try:
                    self.record = self.store.finish_run(
                        run_id, status="failed", history=self.snapshot().history, error=message)
                except Exception:
                    pass  # the store itself is broken: the message below still reaches users
            self.progress.finish("failed", error=message)
