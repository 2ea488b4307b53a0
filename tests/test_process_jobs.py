"""Trainings in a child process (the app's default, mnist_core.jobs.child_training.ProcessTrainingJob):
progress arrives, stop keeps the best model, failures and deaths are reported, and the child
never outlives its job or its parent. Each test starts one child (TensorFlow's import: a few
seconds), on small data."""
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from ui import resources
from mnist_core.training.presets import preset_config
from mnist_core.data.dataset import Dataset, split_validation
from mnist_core.training.callbacks import watched_digit
from mnist_core.jobs.child_training import ProcessTrainingJob
from mnist_core.jobs.registry import JobRegistry
from mnist_core.lab.store import RunStore
from tests.helpers import ROOT, by_label, open_page


def _until(condition, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _ended(pid: int) -> bool:
    """The process is gone, or a zombie waiting for its new parent to reap it."""
    try:
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def _recorded_pid(run_id: str) -> int:
    with RunStore().connect() as db:
        return db.execute("SELECT pid FROM runs WHERE id = ?", (run_id,)).fetchone()[0]


@pytest.mark.slow
def test_progress_arrives_and_stop_keeps_the_best_model_and_ends_the_child(small_mnist):
    # An uploaded Kaggle CSV: no labelled test set, and it must reach the child.
    kaggle = Dataset(small_mnist.x_train, small_mnist.y_train, None, None,
                     "Kaggle CSV train.csv")
    job = JobRegistry(ProcessTrainingJob).start(
        preset_config("fast", epochs=50, batch_size=32, seed=0), kaggle, RunStore())
    assert isinstance(job, ProcessTrainingJob)
    _until(lambda: job.snapshot().epoch >= 1)
    snap = job.snapshot()
    assert snap.status == "running" and snap.batches_per_epoch == 85   # ceil(2700 / 32)
    # Cheap steps arrive in groups of 8 (training.steps_per_execution): 10 full, then 5.
    assert snap.batch_steps[:11] == [8 * i for i in range(1, 11)] + [85]
    assert snap.images_per_second > 0 and snap.eta_seconds > 0
    assert snap.history[0]["epoch"] == 1 and snap.history[0]["seconds"] > 0
    assert "1 of 50" not in job.describe() and "of 50)" in job.describe()
    record = RunStore().get_run(snap.run_id)         # written by the child, as it goes
    assert record.status == "running" and len(record.history) >= 1
    assert record.data_source == "Kaggle CSV train.csv"
    assert _recorded_pid(snap.run_id) == job.pid != os.getpid()
    # Watch it learn crosses the pipe: epoch 0 (random) with the watched digit, which for a
    # run without a test set is its first validation image.
    start = snap.learning[0]
    assert start["epoch"] == 0 and start["kernels"].shape == (5, 5, 1, 16)
    x_val, y_val = split_validation(kaggle.x_train, kaggle.y_train, 0.1, 0)[2:]
    assert start["label"] == watched_digit(None, None, x_val, y_val)[1]
    assert start["image"].shape == (28, 28) and start["image"].dtype == np.uint8
    assert abs(float(start["probabilities"].sum()) - 1) < 1e-4

    job.stop()
    assert job.snapshot().status == "stopping"
    assert job.join(timeout=120)
    assert job.process.exitcode == 0 and not job.process.is_alive()   # the child has ended
    snap = job.snapshot()
    assert snap.status == "stopped" and 1 <= snap.epoch < 50 and snap.test_accuracy is None
    record = RunStore().get_run(snap.run_id)
    assert job.record == record and record.status == "stopped" and record.has_model
    assert len(record.history) == snap.epoch
    assert [r["epoch"] for r in snap.learning] == list(range(snap.epoch + 1))
    best = max(h["val_accuracy"] for h in record.history)
    assert best > 0.8
    model = job.result.model                          # the best weights, as saved
    x_val = small_mnist.x_train[-300:]
    assert model.predict(x_val, verbose=0).shape == (300, 10)


def _thread_niceness(pid: int) -> list[int]:
    """The nice value of every thread of `pid` (Linux keeps one per thread), leaving out those
    that end between the listing and the reading (tf.data's short-lived workers do)."""
    tasks = f"/proc/{pid}/task"
    niceness = []
    for tid in os.listdir(tasks):
        try:
            stat = open(f"{tasks}/{tid}/stat").read()
        except OSError:                     # ENOENT or ESRCH: the thread ended
            continue
        niceness.append(int(stat.rsplit(")", 1)[1].split()[16]))
    return niceness


@pytest.mark.slow
def test_a_child_started_from_a_page_runs_no_page_and_every_thread_is_lowered(
        small_mnist, tmp_path, monkeypatch):
    """In a Streamlit server `__main__` is the page script, which `multiprocessing` would run
    again in the child (the Home page there: 3.7 s and a bundled model warming beside the
    training), and which started TensorFlow's threads before the priority was lowered."""
    import types

    ran = tmp_path / "the page ran"
    page = tmp_path / "page.py"
    page.write_text(f"open({str(ran)!r}, 'w').write('in the child')\n")
    streamlit_main = types.ModuleType("__main__")    # what a Streamlit rerun installs
    streamlit_main.__file__ = str(page)
    monkeypatch.setitem(sys.modules, "__main__", streamlit_main)
    job = ProcessTrainingJob(preset_config("fast", epochs=50, batch_size=32), small_mnist, RunStore(),
                             nice=7).start()
    _until(lambda: job.snapshot().epoch >= 1)          # TensorFlow's pools are running
    own = os.getpriority(os.PRIO_PROCESS, 0)
    niceness = _thread_niceness(job.pid)
    job.stop()
    assert job.join(timeout=120)
    assert sys.modules["__main__"] is streamlit_main   # the server's page module is back
    assert not ran.exists()
    assert len(niceness) > 4 and set(niceness) == {min(own + 7, 19)}


def _report_niceness(queue) -> None:
    import threading

    from mnist_core.jobs.child_process import lower_priority

    started, done = threading.Event(), threading.Event()
    threading.Thread(target=lambda: (started.set(), done.wait(30)), daemon=True).start()
    started.wait(30)
    before = _thread_niceness(os.getpid())
    lower_priority(min(before[0] + 3, 19))
    queue.put((before, _thread_niceness(os.getpid())))
    done.set()


@pytest.mark.slow
def test_lowering_the_priority_reaches_threads_that_already_run():
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=_report_niceness, args=(queue,))
    child.start()
    before, after = queue.get(timeout=60)
    child.join(30)
    assert len(before) >= 2 and len(set(before)) == 1
    assert after == [min(before[0] + 3, 19)] * len(before)


def _thread_names_after(code: str) -> list[str]:
    script = code + """
import os
print(*(open(f"/proc/self/task/{t}/comm").read().strip() for t in os.listdir("/proc/self/task")))
"""
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                         text=True, timeout=120, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


@pytest.mark.slow
def test_the_fork_servers_preload_starts_no_tensorflow_runtime():
    """A process may be forked safely only while no TensorFlow runtime (thread pools) runs in
    it: the preload imports and must never compute. The same probe sees the pools after one
    operation, so it would see them here."""
    assert not any(n.startswith("tf_") for n in _thread_names_after(
        "import mnist_core.jobs.child_preload"))
    assert any(n.startswith("tf_") for n in _thread_names_after(
        "import mnist_core.jobs.child_preload, tensorflow as tf; tf.constant(1.0) + 1"))


@pytest.mark.slow
def test_the_fork_server_is_prepared_with_tensorflow_at_the_trainings_priority():
    """The Train page calls JobRegistry.prepare(): the fork server starts in the background at
    the training's nice value and imports TensorFlow before anyone presses Start."""
    script = """
import os, sys, time
from pathlib import Path
from mnist_core.jobs.child_training import ProcessTrainingJob
from mnist_core.jobs.registry import JobRegistry

JobRegistry(ProcessTrainingJob).prepare()
deadline = time.monotonic() + 120
while time.monotonic() < deadline:
    for proc in Path("/proc").iterdir():
        try:
            stat = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            if (proc.name.isdigit() and int(stat[1]) == os.getpid()
                    and b"forkserver" in (proc / "cmdline").read_bytes()
                    and "tensorflow" in (proc / "maps").read_text()):
                print(os.getpriority(os.PRIO_PROCESS, 0), stat[16])
                sys.exit(0)
        except OSError:
            pass
    time.sleep(0.2)
sys.exit("no fork server with TensorFlow loaded")
"""
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                         text=True, timeout=180, env=dict(os.environ, PYTHONPATH=str(ROOT),
                                                          MNIST_LAB_TRAIN_NICE="6"))
    assert out.returncode == 0, out.stderr[-2000:]
    own, server = map(int, out.stdout.split())
    assert server == min(own + 6, 19)


@pytest.mark.slow
def test_a_failure_in_the_child_is_reported_with_its_message(small_mnist):
    bad = Dataset(small_mnist.x_train[:500], np.full(500, 12, np.int64), None, None,
                  "labels out of range")
    job = ProcessTrainingJob(preset_config("fast", epochs=1), bad, RunStore()).start()
    assert job.join(timeout=120)
    snap = job.snapshot()
    assert snap.status == "failed" and "label" in snap.error.lower()
    record = RunStore().get_run(snap.run_id)
    assert record.status == "failed" and record.error == snap.error
    assert job.process.exitcode == 0


def test_a_killed_child_is_a_failed_job_and_an_interrupted_run(small_mnist):
    job = ProcessTrainingJob(preset_config("fast", epochs=50, batch_size=32), small_mnist,
                             RunStore()).start()
    _until(lambda: job.snapshot().epoch >= 1)
    os.kill(job.pid, signal.SIGKILL)              # out of memory, say
    assert job.join(timeout=60)
    snap = job.snapshot()
    assert snap.status == "failed" and not snap.active
    assert snap.error.startswith("the training process ended unexpectedly (killed by SIGKILL")
    record = RunStore().get_run(snap.run_id)
    assert record.status == "interrupted" and len(record.history) >= 1 and not record.has_model
    assert f"run {record.id} is kept as interrupted after" in snap.error


@pytest.mark.slow
def test_a_child_whose_server_dies_records_an_interrupted_run_with_its_best_epoch(tmp_path):
    """Killing only the server (not its process group) leaves the child on its own: it stops,
    keeps the weights of its finished epochs, and says the run was interrupted, so the next
    server's Train page tells the teacher what happened (tests/test_train_page.py)."""
    from mnist_core.jobs.child_training import ORPHANED

    parent = subprocess.Popen([sys.executable, "-c", """
import time
from mnist_core.training.presets import preset_config
from mnist_core.data.dataset import Dataset, split_validation
from mnist_core.training.callbacks import watched_digit
from mnist_core.data.mnist import load_mnist
from mnist_core.jobs.child_training import ProcessTrainingJob
from mnist_core.lab.store import RunStore

d = load_mnist(allow_download=False)
small = Dataset(d.x_train[:2000], d.y_train[:2000], d.x_test[:500], d.y_test[:500], "small")
job = ProcessTrainingJob(preset_config("fast", epochs=200, batch_size=32), small, RunStore()).start()
while not job.snapshot().history:   # one epoch done: there is something to keep
    time.sleep(0.05)
print(job.pid, job.snapshot().run_id, flush=True)
time.sleep(600)
"""], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                              env=dict(os.environ, PYTHONPATH=str(ROOT)))
    try:
        child, run_id = parent.stdout.readline().split()
    finally:
        parent.kill()                                 # the server dies without a goodbye
        parent.wait(timeout=30)
    _until(lambda: _ended(int(child)), seconds=120)
    record = RunStore().get_run(run_id)
    assert record.status == "interrupted" and record.error == ORPHANED
    assert record.offers_model and 1 <= record.epochs_done < 200


@pytest.mark.slow
def test_the_train_page_trains_in_a_child_process(monkeypatch):
    monkeypatch.setenv("MNIST_LAB_TRAINING", "process")     # the app's default
    at = open_page("pages/1_Train.py")
    by_label(at.select_slider, "Training images").set_value(1000)
    by_label(at.number_input, "Epochs").set_value(1)
    by_label(at.button, "Start training").click().run()
    job = resources.job_registry().current
    assert isinstance(job, ProcessTrainingJob)
    assert job.join(timeout=120) and job.snapshot().status == "done"
    at.run()
    assert any("test accuracy" in s.value for s in at.success)
    run = resources.store().list_runs()[0]
    assert run.status == "done" and run.has_model and run.history[0]["seconds"] > 0
    by_label(at.button, "Make it the class model").click().run()
    assert not at.exception and resources.store().class_model() == run.id
