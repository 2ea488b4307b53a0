"""At most one background job per server process, shared by every browser session.

The registry starts jobs of the class it is given: `TrainingJob` (a thread of this process:
the CLI, tests) or `ProcessTrainingJob` (a child process at lower priority: the app). Other
work, a fine-tune's, always runs as a `TrainingJob` in a thread.
"""
from __future__ import annotations

import threading
from typing import Callable

from mnist_core.data.dataset import Dataset
from mnist_core.jobs.thread_job import TrainingJob
from mnist_core.lab.store import RunStore
from mnist_core.training.config import TrainConfig


class JobBusy(Exception):
    """A training job is already running on this server."""


class JobRegistry:
    """At most one job per server process. Trainings run as `job_class` (TrainingJob, or a
    class with its interface such as ProcessTrainingJob); jobs with their own `work` (a
    fine-tune) run as a TrainingJob, in a thread of this process."""

    def __init__(self, job_class: type[TrainingJob] = TrainingJob) -> None:
        self._lock = threading.Lock()
        self._job: TrainingJob | None = None
        self.job_class = job_class

    @property
    def current(self) -> TrainingJob | None:
        return self._job

    def prepare(self) -> None:
        """Get the next training's start ready in the background (for ProcessTrainingJob: the
        fork server that imports TensorFlow once for every child). Cheap to call again."""
        self.job_class.prepare()

    def start(self, config: TrainConfig, data: Dataset | Callable[[], Dataset] | None,
              store: RunStore | None, *, work: Callable[[TrainingJob], object] | None = None,
              label: str | None = None) -> TrainingJob:
        """Start a training (or, with `work`, another job: see TrainingJob); JobBusy while
        any job runs. ConfigError (a ValueError) when the data cannot serve the config."""
        with self._lock:
            if self._job is not None and self._job.active:
                raise JobBusy(f"{self._job.describe()} is already running on this server; "
                              "stop it or wait for it to finish")
            if work is None:
                self._job = self.job_class(config, data, store, label=label).start()
            else:
                self._job = TrainingJob(config, data, store, work=work, label=label).start()
            return self._job
