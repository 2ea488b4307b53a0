import os
import sqlite3
import subprocess
import sys

import numpy as np
import pytest

from mnist_core import model_files
from mnist_core.store import RunStore, StoreError


class FakeModel:
    """Stands in for a Keras model: `save` writes some bytes, or dies half-way."""

    def __init__(self, crash=False):
        self.crash = crash

    def save(self, path):
        with open(path, "wb") as f:
            f.write(b"half a model")
            if self.crash:
                raise RuntimeError("power cut")
            f.write(b" and the other half")


def test_run_lifecycle(lab_home):
    store = RunStore()
    run_id = store.create_run({"preset": "fast", "epochs": 1}, "test data")
    assert store.get_run(run_id).status == "running"
    store.record_history(run_id, [{"epoch": 1, "loss": 0.5}])
    record = store.finish_run(run_id, status="done", history=[{"epoch": 1, "loss": 0.4}],
                              model=FakeModel(), test_accuracy=0.9, test_loss=0.3, seconds=2.0)
    assert record.status == "done" and record.test_accuracy == 0.9 and record.has_model
    assert store.model_path(run_id).read_bytes() == b"half a model and the other half"
    assert [r.id for r in store.list_runs()] == [run_id]
    assert store.db_path.parent == lab_home


def test_crash_during_save_leaves_nothing_half_registered(lab_home):
    store = RunStore()
    run_id = store.create_run({"preset": "fast"}, "test data")
    with pytest.raises(RuntimeError, match="power cut"):
        store.finish_run(run_id, status="done", history=[], model=FakeModel(crash=True))
    assert store.get_run(run_id).model_file is None          # not registered
    assert list(store.models_dir.iterdir()) == []            # no partial file left behind
    with pytest.raises(KeyError):
        store.model_path(run_id)


def test_atomic_save_never_replaces_a_good_file_with_a_broken_one(tmp_path):
    target = tmp_path / "m.keras"
    model_files.save_atomic(FakeModel(), target)
    with pytest.raises(RuntimeError):
        model_files.save_atomic(FakeModel(crash=True), target)
    assert target.read_bytes() == b"half a model and the other half"
    assert [p.name for p in tmp_path.iterdir()] == ["m.keras"]


def test_runs_of_a_killed_process_show_as_interrupted(lab_home):
    code = ("from mnist_core.store import RunStore; import os; "
            "RunStore().create_run({'preset': 'fast'}, 'x'); os._exit(0)")
    subprocess.run([sys.executable, "-c", code], check=True, env=os.environ.copy())
    (run,) = RunStore().list_runs()  # opening the store notices the dead process
    assert run.status == "interrupted" and "ended unexpectedly" in run.error


def test_running_runs_of_a_live_process_stay_running(lab_home):
    store = RunStore()
    run_id = store.create_run({"preset": "fast"}, "x")
    assert RunStore().get_run(run_id).status == "running"


def test_drawings_round_trip(lab_home):
    store = RunStore()
    image = np.linspace(0, 1, 784, dtype=np.float32).reshape(28, 28)
    store.add_drawing(image, label=7, predicted=1, model="bundled")
    images, labels = store.drawings()
    assert images.shape == (1, 28, 28, 1) and labels.tolist() == [7]
    np.testing.assert_allclose(images[0, :, :, 0], image, atol=1 / 255)
    with pytest.raises(ValueError):
        store.add_drawing(image, label=12, predicted=None, model=None)


def test_unwritable_home_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StoreError, match="cannot be used.*MNIST_LAB_HOME"):
        RunStore(blocker / "home")


def test_two_processes_share_one_home_without_corruption(lab_home):
    code = ("from mnist_core.store import RunStore\n"
            "s = RunStore()\n"
            "for i in range(40):\n"
            "    r = s.create_run({'preset': 'fast'}, 'x')\n"
            "    s.finish_run(r, status='done', history=[{'epoch': i}])\n")
    procs = [subprocess.Popen([sys.executable, "-c", code], env=os.environ.copy())
             for _ in range(2)]
    assert all(p.wait(timeout=120) == 0 for p in procs)
    runs = RunStore().list_runs()
    assert len(runs) == 80 and all(r.status == "done" for r in runs)
    with sqlite3.connect(RunStore().db_path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_resolve_model_names(lab_home, tmp_path):
    store = RunStore()
    assert store.resolve_model(None)[1] == "bundled"
    with pytest.raises(KeyError, match="neither"):
        store.resolve_model("no-such-run")


def test_sigkill_mid_training_leaves_an_interrupted_run_and_no_model(lab_home):
    """A training process killed with SIGKILL: on restart the run shows as interrupted, no
    model is registered or left half-written, and earlier runs are intact."""
    import signal
    import time

    store = RunStore()
    earlier = store.create_run({"preset": "fast"}, "x")
    store.finish_run(earlier, status="done", history=[{"epoch": 1}], model=FakeModel())
    proc = subprocess.Popen([sys.executable, "-m", "mnist_core", "train", "--epochs", "50",
                             "--limit", "3000", "--batch-size", "32"], env=os.environ.copy(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:   # wait until its first epoch is on record
        runs = [r for r in RunStore().list_runs() if r.id != earlier]
        if runs and runs[0].history:
            break
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    killed, = [r for r in RunStore().list_runs() if r.id != earlier]
    assert killed.status == "interrupted" and killed.model_file is None
    assert len(killed.history) >= 1                      # curves up to the last epoch survive
    assert sorted(p.name for p in store.models_dir.iterdir()) == [f"{earlier}.keras"]
    assert RunStore().get_run(earlier).status == "done"
