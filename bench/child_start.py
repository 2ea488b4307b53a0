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

import dataclasses
import sys
import tempfile
import time
import types

import harness


def one_run(config, data, home: str, last_batch: int = 50) -> dict[str, float]:
    from mnist_core.jobs.child_training import ProcessTrainingJob
    from mnist_core.lab.store import RunStore

    marks: dict[str, float] = {}
    started = time.monotonic()
    job = ProcessTrainingJob(config, data, RunStore(home)).start()
    last = f"batch {last_batch}"
    while last not in marks:
        snap, now = job.snapshot(), time.monotonic() - started
        for name, reached in (("child exists", job.pid is not None),
                              ("run recorded", snap.run_id is not None),
                              ("begin", snap.epochs > 0), ("first batch", snap.batch >= 1),
                              (last, snap.batch >= last_batch)):
            if reached and name not in marks:
                marks[name] = now
        if snap.status == "failed":
            raise SystemExit(f"training failed: {snap.error}")
        if snap.status in ("done", "stopped") and last not in marks:
            raise SystemExit(f"the run ended ({snap.status}) before {last}")
        time.sleep(0.005)
    job.stop()
    job.join(120)
    return marks


def main() -> None:
    parser = harness.parser(__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--preset", default="fast")
    parser.add_argument("--prepare", action="store_true",
                        help="start the fork server first and wait 20 s, as the Train page does")
    args = parser.parse_args()
    args.last_batch, args.limit, args.wait = 50, None, 20
    # One run to its 5th batch on 2,000 images (the fork server, if --prepare, waited for 2 s).
    harness.shrink(args, runs=1, last_batch=5, limit=2000, wait=2)

    from mnist_core.data.mnist import load_mnist
    from mnist_core.jobs.child_training import ProcessTrainingJob
    from mnist_core.jobs.registry import JobRegistry
    from mnist_core.training.presets import get_preset

    data = load_mnist()
    config = dataclasses.replace(get_preset(args.preset).config, epochs=1, limit=args.limit)
    sys.modules["__main__"] = types.ModuleType("__main__")   # as in a Streamlit server
    if args.prepare:
        JobRegistry(ProcessTrainingJob).prepare()
        time.sleep(args.wait)
    with harness.Report(args) as report:
        for run in range(args.runs):
            with tempfile.TemporaryDirectory(prefix="mnist-child-") as home:
                marks = one_run(config, data, home, args.last_batch)
            report.say(f"run {run + 1}: " + ", ".join(f"{k} {v:.2f} s" for k, v in marks.items()),
                       run=run + 1, **{k.replace(" ", "_") + "_s": v for k, v in marks.items()})


if __name__ == "__main__":
    main()
