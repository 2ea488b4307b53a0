"""The lab's memory: every training run and every labelled drawing, in SQLite under the lab
home, with trained models beside it.

`RunStore` is one object for all of it, as every caller wants: the database
(mnist_core.lab.db: connection, schema, read-only fallback, settings rows), the runs
(mnist_core.lab.runs) and the class drawings (mnist_core.lab.drawings). Import the names that
belong to one side from there: `StoreError` and `model_file_bytes` from db, `BUNDLED`,
`FINE_TUNE` and `RunRecord` from runs, `SavedDrawing` and the drawing errors from drawings.
"""
from __future__ import annotations

from pathlib import Path

from mnist_core.lab.drawings import DrawingsStore
from mnist_core.lab.runs import RunsStore


class RunStore(RunsStore, DrawingsStore):
    """The lab home's store: runs, class drawings and settings. Opening it marks the runs that
    a dead process left "running" as interrupted (`mark_interrupted`), where it can write."""

    def __init__(self, home: Path | str | None = None) -> None:
        super().__init__(home)
        if self.read_only is None:
            self.mark_interrupted()
