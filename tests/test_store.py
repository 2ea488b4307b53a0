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


_KILLED_WHILE_SAVING = """
import os, signal
from mnist_core.store import RunStore

class HalfWrittenModel:
    def save(self, path):
        with open(path, "wb") as f:
            f.write(b"half a model")
        os.kill(os.getpid(), signal.SIGKILL)   # the process dies in the middle of the save

store = RunStore()
run = store.create_run({"preset": "fast"}, "x")
store.record_history(run, [{"epoch": 1}])
store.finish_run(run, status="done", history=[{"epoch": 1}], model=HalfWrittenModel())
"""


def test_sigkill_mid_save_registers_no_model_and_cleans_the_partial_file(lab_home):
    store = RunStore()
    earlier = store.create_run({"preset": "fast"}, "x")
    store.finish_run(earlier, status="done", history=[{"epoch": 1}], model=FakeModel())
    proc = subprocess.run([sys.executable, "-c", _KILLED_WHILE_SAVING], env=os.environ.copy(),
                          capture_output=True, timeout=120)
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]
    assert list(store.models_dir.glob(".*.keras")), "the kill should leave a temporary file"
    restarted = RunStore()
    killed, = [r for r in restarted.list_runs() if r.id != earlier]
    assert killed.status == "interrupted" and not killed.has_model
    assert killed.history == [{"epoch": 1}]
    assert sorted(p.name for p in store.models_dir.iterdir()) == [f"{earlier}.keras"]
    assert restarted.get_run(earlier).status == "done"


_FULL_DISK = """
import os, resource, signal
from mnist_core.store import RunStore, StoreError

class FourMegabyteModel:
    def save(self, path):
        with open(path, "wb") as f:
            for _ in range(64):
                f.write(bytes(64 * 1024))

store = RunStore()
run = store.create_run({"preset": "fast"}, "x")
store.record_history(run, [{"epoch": 1}])
# From here on the kernel refuses to grow any file past the database's size + 64 KB, as a
# full disk would; SIGXFSZ ignored makes a refused write an error (EFBIG), not a kill.
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
limit = os.path.getsize(store.db_path) + 64 * 1024
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
record = store.finish_run(run, status="done", history=[{"epoch": 1}, {"epoch": 2}],
                          model=FourMegabyteModel())
print("RUN", record.status, record.error, sep="|")
saved = 0
try:
    for _ in range(20000):
        store.add_drawing([[0.5] * 28] * 28, 3, 3, "bundled")
        saved += 1
    print("NEVER FULL")
except StoreError as e:
    print("DRAWINGS", saved, e, sep="|")
"""


def test_full_disk_is_a_clear_error_and_loses_nothing_already_stored(lab_home):
    """A model too big for the space left and a database that can no longer grow: each is a
    clear error, no partial file stays, and everything written before is intact."""
    proc = subprocess.run([sys.executable, "-c", _FULL_DISK], env=os.environ.copy(),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = dict(line.split("|", 1) for line in proc.stdout.splitlines())
    status, error = lines["RUN"].split("|")
    assert status == "failed" and "model could not be saved" in error
    assert "File too large" in error and "free some disk space" in error
    saved, message = lines["DRAWINGS"].split("|")
    assert int(saved) > 0 and "is the disk full" in message
    store = RunStore()
    run, = store.list_runs()
    assert run.status == "failed" and not run.has_model and len(run.history) == 2
    assert list(store.models_dir.iterdir()) == []                      # no partial model file
    images, labels = store.drawings()
    assert len(labels) == int(saved) and np.allclose(images, 128 / 255)
    with sqlite3.connect(store.db_path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
