"""Training in a child process at lower priority, for the app (see ProcessTrainingJob).

The child trains with the one training loop (mnist_core.training.loop), records its run in the lab
home itself, and sends its progress to the parent, which mirrors it into a `Progress` that the
app's fragments read as they would a thread's.
"""
from __future__ import annotations

import multiprocessing
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from mnist_core.data.dataset import Dataset, compact, expanded
from mnist_core.jobs.child_process import (lower_priority, niceness_for_training,
                                           prepare_training_children, start_without_the_page,
                                           training_context)
from mnist_core.jobs.thread_job import RecordingProgress, TrainingJob
from mnist_core.lab.store import RunStore
from mnist_core.training.config import TrainConfig
from mnist_core.training.loop import train
from mnist_core.training.progress import Progress

#: Progress methods a child may call on its parent's mirror (nothing else is ever called).
_MIRRORED = frozenset({"update", "begin", "begin_epoch", "end_batch", "end_epoch",
                       "end_learning"})
_FLUSH_SECONDS = 0.1     # how often a child sends its progress (and how stale a mirror can be)
_PARENT_POLL_SECONDS = 0.5
#: The error a run records when the server died while its child trained.
ORPHANED = "the server stopped while this run trained (closed, killed or restarted)"


@dataclass
class ChildResult:
    """What a `ProcessTrainingJob` keeps of its child's `TrainResult`: the figures, and the
    model as the file the child saved (read only if asked for, e.g. by an export)."""

    status: str
    history: list[dict]
    test_accuracy: float | None
    test_loss: float | None
    seconds: float
    model_path: Path | None

    @property
    def model(self):
        if self.model_path is None:
            return None
        from mnist_core.model.files import load_checked

        return load_checked(self.model_path)


class ProcessTrainingJob(TrainingJob):
    """A training in a child process, at lower priority (nice), with the same interface as
    TrainingJob. On Linux the child is forked by a fork server that has imported TensorFlow
    (child_process.training_context), which cuts the wait from Start to the first batch by
    TensorFlow's import (docs/benchmarks.md, "How soon does a run start after Start?").

    Why: in a thread of the app's server, training holds Python's GIL for every batch's
    callbacks and shares TensorFlow's thread pools with the drawing students' inference, so a
    student's answer queues behind it. A child process has its own GIL and its own pools, and
    at a lower priority the OS runs the server first whenever both want a core; training
    takes whatever the students leave (docs/decisions/training-in-a-child-process.md;
    docs/benchmarks.md, "How fast is a drawing answered while training?").

    The child opens the same lab home (SQLite in WAL mode, safe across processes) and records
    the run itself: its start, every finished epoch, and its end with the model. The run row
    carries the child's pid, so a child killed mid-run is marked interrupted like any cut-off
    run (RunStore.mark_interrupted). Its dataset (MNIST or an uploaded Kaggle CSV) is sent
    through the pipe that starts it. A thread here starts the child, applies the progress it
    sends every 0.1 s to this job's `Progress`, and reports how it ended: done or stopped, a
    failure with the child's message, or "ended unexpectedly" when the child died. Stopping
    sets a multiprocessing Event that the child's StopOnRequest callback checks after every
    batch; the child also stops (keeping its best weights) if this process dies.

    `nice` defaults to mnist_core.settings (10). TensorFlow keeps its own thread counts (one
    per core): limited to one thread, training is markedly slower on two cores, and the lower
    priority already leaves the server the core it needs (docs/benchmarks.md, "Which settings
    make training faster?").
    """

    def __init__(self, config: TrainConfig, data: Dataset | Callable[[], Dataset] | None,
                 store: RunStore | None = None, *, label: str | None = None,
                 nice: int | None = None) -> None:
        from mnist_core import settings

        super().__init__(config, data, store, label=label)
        self._context = training_context()
        self._stop = self._context.Event()
        self.progress = Progress()        # the child writes the run's history to the store
        self.nice = settings.train_nice() if nice is None else nice
        self.process = None               # the child, once started

    _prepared = False

    @classmethod
    def prepare(cls) -> None:
        """Start the fork server now, in the background, so that TensorFlow is imported before
        anyone presses Start (at the training's lower priority). Only the first call does."""
        from mnist_core import settings

        if not ProcessTrainingJob._prepared:
            ProcessTrainingJob._prepared = True
            prepare_training_children(niceness_for_training(settings.train_nice()))

    @property
    def pid(self) -> int | None:
        """The child's process id, once it has started."""
        return None if self.process is None else self.process.pid

    def _run(self) -> None:
        run_id = None
        try:
            dataset = self.load_data()
            if callable(self._data):
                self.config.check_data(len(dataset.x_train))
            receiver, sender = self._context.Pipe(duplex=False)
            home = None if self.store is None else str(self.store.home)
            self.process = self._context.Process(
                target=_child_main, name=f"train-{self.config.preset}", daemon=True,
                args=(self.config, _compact(dataset), home, sender, self._stop,
                      niceness_for_training(self.nice)))
            start_without_the_page(self.process)   # not the page's __main__ again
            sender.close()                # only the child writes: EOF once it has ended
            ending = self._follow(receiver)
            receiver.close()
            self.process.join(60)
            if self.process.is_alive():   # said its last word but hangs on its way out
                self.process.kill()
                self.process.join(10)
            run_id = self.progress.snapshot().run_id
            if ending is None:            # no last word: killed, or crashed outright
                self._died(run_id)
            elif ending[0] == "result":
                self._finished(ending[1], run_id)
            else:
                self._failed(ending[1], run_id)
        except Exception as e:  # the child could not be started (or followed): a failure
            if self.process is not None and self.process.is_alive():
                self.process.kill()       # never leave a child behind this thread
                self.process.join(10)
            if self.store is not None:
                try:                      # a run it had begun is then interrupted
                    self.store.mark_interrupted()
                except Exception:
                    pass
            self.progress.finish("failed", error=str(e) or type(e).__name__)

    def _follow(self, receiver) -> tuple | None:
        """Mirror the child's progress until its last word ("result" or "failed"), or until
        the pipe closes without one (None)."""
        while True:
            try:
                message = receiver.recv()
            except (EOFError, OSError):
                return None
            if message[0] != "progress":
                return message
            _, calls, live = message
            for name, args, fields in calls:
                if name in _MIRRORED:
                    getattr(self.progress, name)(*args, **fields)
            # The child's own speed and ETA replace what replaying its calls here computes
            # (a batch of them at once: millions of images a second), stopping included.
            if self.progress.status in ("running", "stopping"):
                self.progress.update(**live, **({"status": "stopping"}
                                                if self._stop.is_set() else {}))

    def _finished(self, result: dict, run_id: str | None) -> None:
        status, error, model_path = result["status"], None, None
        if self.store is not None and run_id is not None:
            self.record = self.store.get_run(run_id)
            status, error = self.record.status, self.record.error
            if self.record.has_model:
                model_path = self.store.models_dir / self.record.model_file
        self.result = ChildResult(status, result["history"], result["test_accuracy"],
                                  result["test_loss"], result["seconds"], model_path)
        self.progress.finish(status, error=error, test_accuracy=result["test_accuracy"],
                             test_loss=result["test_loss"])

    def _failed(self, message: str, run_id: str | None) -> None:
        if self.store is not None and run_id is not None:
            try:
                self.record = self.store.get_run(run_id)
            except Exception:
                pass
        self.progress.finish("failed", error=message)

    def _died(self, run_id: str | None) -> None:
        code = self.process.exitcode
        if code is not None and code < 0:
            try:
                how = f"killed by {signal.Signals(-code).name}"
            except ValueError:
                how = f"killed by signal {-code}"
            if code == -signal.SIGKILL:
                how += ", perhaps for lack of memory"
        else:
            how = f"exit code {code}"
        message = f"the training process ended unexpectedly ({how})"
        if self.store is not None and run_id is not None:
            try:                          # its row still says running, with a dead pid
                self.store.mark_interrupted()
                self.record = self.store.get_run(run_id)
                message += (f"; run {run_id} is kept as interrupted after "
                            f"{self.record.how_far()}")
            except Exception:
                pass
        self.progress.finish("failed", error=message)


# The dataset travels to the child with uint8 images when that is exact (a quarter of the
# bytes); the child turns them back into the same float32 images.
_compact, _expand = compact, expanded


class _ForwardingProgress(RecordingProgress):
    """The child's Progress: records each finished epoch in the store, and sends every call
    to the parent, in batches, every `_FLUSH_SECONDS`."""

    def __init__(self, store: RunStore | None, sender) -> None:
        super().__init__(store)
        self.sender, self.calls, self.lock = sender, [], threading.Lock()
        self.last_flush = 0.0

    def _forward(self, name: str, args: tuple = (), fields: dict | None = None,
                 flush: bool = False) -> None:
        with self.lock:
            self.calls.append((name, args, fields or {}))
        if flush or time.monotonic() - self.last_flush >= _FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        images_per_second, eta_seconds = self.speed()
        with self.lock:
            calls, self.calls = self.calls, []
            self.last_flush = time.monotonic()
            if calls:
                live = {"images_per_second": images_per_second, "eta_seconds": eta_seconds}
                _send(self.sender, ("progress", calls, live))

    def update(self, **fields) -> None:
        super().update(**fields)
        self._forward("update", fields=fields, flush=True)

    def begin(self, epochs: int, batches_per_epoch: int) -> None:
        super().begin(epochs, batches_per_epoch)
        self._forward("begin", (epochs, batches_per_epoch), flush=True)

    def begin_epoch(self) -> None:
        super().begin_epoch()
        self._forward("begin_epoch")

    def end_batch(self, batch: int, loss: float, accuracy: float, batch_size: int) -> None:
        super().end_batch(batch, loss, accuracy, batch_size)
        self._forward("end_batch", (batch, loss, accuracy, batch_size))

    def end_epoch(self, record: dict) -> None:
        super().end_epoch(record)
        self._forward("end_epoch", (record,), flush=True)

    def end_learning(self, record: dict) -> None:
        super().end_learning(record)   # a few kilobytes of numpy arrays: pickled as they are
        self._forward("end_learning", (record,), flush=True)


def _send(sender, message) -> None:
    try:
        sender.send(message)
    except (OSError, ValueError):   # the parent has gone: the child stops on its own
        pass


def _child_main(config: TrainConfig, dataset: Dataset, home: str | None, sender, stop,
                niceness: int) -> None:
    """The child process: train, record the run in the lab home, tell the parent how it went.
    It stops (keeping the best weights) when asked, or when its parent has died: then the run
    is recorded as interrupted, as it would be had the child died with it, so that the next
    server's Train page says what happened (and offers it again)."""
    lower_priority(niceness)             # every thread, TensorFlow's to come included
    orphaned = threading.Event()
    threading.Thread(target=_stop_when_orphaned, args=(stop, orphaned), daemon=True,
                     name="parent-watch").start()
    from mnist_core.quiet import import_tensorflow_quietly, skip_final_collection

    import_tensorflow_quietly()
    store, run_id = None, None
    progress = None
    try:
        store = RunStore(home) if home is not None else None
        progress = _ForwardingProgress(store, sender)
        dataset = _expand(dataset)
        if store is not None:
            run_id = store.create_run(config.to_dict(), dataset.source)
            progress.update(run_id=run_id)
        result = train(config, dataset, progress, stop)
        status, error = result.status, None
        if orphaned.is_set():
            status, error = "interrupted", ORPHANED
        if store is not None:
            store.finish_run(run_id, status=status, history=result.history,
                             model=result.model, test_accuracy=result.test_accuracy,
                             test_loss=result.test_loss, seconds=result.seconds, error=error)
        progress.flush()
        _send(sender, ("result", {"status": result.status, "history": result.history,
                                  "test_accuracy": result.test_accuracy,
                                  "test_loss": result.test_loss, "seconds": result.seconds}))
    except Exception as e:  # reported to the parent, which shows it to every viewer
        message = str(e) or type(e).__name__
        if store is not None and run_id is not None:
            try:
                store.finish_run(run_id, status="failed", history=progress.snapshot().history,
                                 error=message)
            except Exception:
                pass
        if progress is not None:
            progress.flush()
        _send(sender, ("failed", message))
    finally:
        sender.close()
        skip_final_collection()


def _stop_when_orphaned(stop, orphaned: threading.Event) -> None:
    """Set `orphaned`, then `stop`, once the process that started this one has gone. Its pipe
    to us, not our parent pid, tells: a child of the fork server is not the app's child."""
    parent = multiprocessing.parent_process()
    while not stop.is_set():
        if parent is not None and not parent.is_alive():
            orphaned.set()
            stop.set()
            return
        time.sleep(_PARENT_POLL_SECONDS)
