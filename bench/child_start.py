"""Where the time goes from Start to a training child's first batch (the app's trainings run in
a child process: mnist_core.jobs.child_training), seen from the parent as the app sees it.

    MNIST_DATA_DIR=../shared/mnist python bench/child_start.py [--runs 3] [--preset fast]

Each run starts a `ProcessTrainingJob` on full MNIST and polls its progress every 5 ms: when
the child exists, when it has recorded its run (TensorFlow imported, data unpacked), when its
pipeline and model are built ("begin"), its first batch, and its 50th; then it is stopped.
The first run also starts the fork server (Linux), as a Start would on a server whose Train
page had not been opened; `--prepare` starts it first, as that page does.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
import types
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def one_run(config, data, home: str) -> dict[str, float]:
    from mnist_core.jobs.child_training import ProcessTrainingJob
    from mnist_core.lab.store import RunStore

    marks: dict[str, float] = {}
    started = time.monotonic()
    job = ProcessTrainingJob(config, data, RunStore(home)).start()
    while "batch 50" not in marks:
        snap, now = job.snapshot(), time.monotonic() - started
        for name, reached in (("child exists", job.pid is not None),
                              ("run recorded", snap.run_id is not None),
                              ("begin", snap.epochs > 0), ("first batch", snap.batch >= 1),
                              ("batch 50", snap.batch >= 50)):
            if reached and name not in marks:
                marks[name] = now
        if snap.status == "failed":
            raise SystemExit(f"training failed: {snap.error}")
        time.sleep(0.005)
    job.stop()
    job.join(120)
    return marks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--preset", default="fast")
    parser.add_argument("--prepare", action="store_true",
                        help="start the fork server first and wait 20 s, as the Train page does")
    args = parser.parse_args()

    from mnist_core.data.mnist import load_mnist
    from mnist_core.jobs.registry import JobRegistry
    from mnist_core.training.presets import get_preset

    data = load_mnist()
    config = dataclasses.replace(get_preset(args.preset).config, epochs=1)
    sys.modules["__main__"] = types.ModuleType("__main__")   # as in a Streamlit server
    if args.prepare:
        JobRegistry(child_process=True).prepare()
        time.sleep(20)
    for run in range(args.runs):
        marks = one_run(config, data, tempfile.mkdtemp(prefix="mnist-child-"))
        print(f"run {run + 1}: " + ", ".join(f"{k} {v:.2f} s" for k, v in marks.items()),
              flush=True)


if __name__ == "__main__":
    main()
