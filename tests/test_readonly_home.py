"""A lab home that cannot be written (read-only, or a disk too full for a run's model): saved
drawings and runs stay viewable, every write says why it failed, and a training that could not
keep its result is refused before it starts (Train page, Class page's fine-tune, CLI).

Read-only is made for real, never by a flag: as a normal user, `chmod a-w`; as root, which
chmod does not stop, the immutable attribute (`chattr +i`, refused even to root). Each test
first checks that a write really fails, and is skipped where neither works. The CLI tests at
the end also run under a read-only bind mount and on a nearly full tmpfs, in a private mount
namespace (`unshare -m`, root only), so that the kernel's own EROFS / ENOSPC are met.
"""
from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from ui import resources
from mnist_core.lab.db import SAVE_MARGIN_BYTES, StoreError, model_file_bytes
from mnist_core.lab.store import RunStore
from tests.helpers import ROOT, FakeModel, by_label, open_page

CLASS_PAGE, TRAIN = "pages/4_Class.py", "pages/1_Train.py"


def _everything(folder: Path) -> list[Path]:
    return [folder, *sorted(folder.rglob("*"))]


def _write_fails(folder: Path) -> bool:
    try:
        fd, name = tempfile.mkstemp(dir=folder)
    except OSError:
        return True
    os.close(fd)
    os.unlink(name)
    return False


def _append_fails(file: Path) -> bool:
    try:
        with open(file, "ab"):
            return False
    except OSError:
        return True


def _chattr(flag: str, path: Path) -> bool:
    try:
        return subprocess.run(["chattr", flag, str(path)], capture_output=True).returncode == 0
    except OSError:   # no chattr at all
        return False


@contextmanager
def read_only(*paths: Path):
    """Make `paths` (folders with everything in them, or single files) read-only for this
    process for real, or skip the test."""
    items = [p for path in paths for p in (_everything(path) if path.is_dir() else [path])]
    changed: list[Path] = []
    modes = {p: p.stat().st_mode for p in items}
    try:
        for p in items:
            if os.geteuid() != 0:
                p.chmod(modes[p] & ~0o222)
            elif not _chattr("+i", p):
                pytest.skip("root, and the immutable attribute is not available here")
            changed.append(p)
        for path in paths:
            if not (_write_fails(path) if path.is_dir() else _append_fails(path)):
                pytest.skip(f"cannot make {path} read-only here")
        yield
    finally:
        for p in reversed(changed):
            if os.geteuid() != 0:
                p.chmod(modes[p])
            else:
                _chattr("-i", p)


def _filled_home(home: Path, drawings: int = 12) -> list[str]:
    """A lab home as a lesson leaves it: drawings, a finished run with a model, the server
    stopped (WAL files gone). Returns the run ids."""
    store = RunStore(home)
    rng = np.random.default_rng(21)
    for i in range(drawings):
        store.add_drawing(rng.random((28, 28)), i % 10, i % 10, "bundled")
    run = store.create_run({"preset": "fast", "epochs": 1}, "MNIST")
    store.finish_run(run, status="done", history=[{"epoch": 1, "val_accuracy": 0.9}],
                     model=FakeModel(), test_accuracy=0.9)
    with sqlite3.connect(store.db_path) as db:   # as a clean shutdown leaves it
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    for extra in ("-wal", "-shm"):
        Path(f"{store.db_path}{extra}").unlink(missing_ok=True)
    return [run]


def _fingerprint(home: Path) -> dict:
    return {p.relative_to(home): (p.stat().st_mtime_ns, p.read_bytes()) for p in home.rglob("*")
            if p.is_file()}


# --- the store ---------------------------------------------------------------------------------

def test_a_read_only_home_is_readable_and_every_write_says_why(lab_home):
    runs = _filled_home(lab_home)
    before = _fingerprint(lab_home)
    with read_only(lab_home):
        store = RunStore()
        assert store.read_only                      # why, in the system's words
        assert [r.id for r in store.list_runs()] == runs and store.get_run(runs[0]).has_model
        assert store.model_path(runs[0]).is_file()
        assert sum(store.label_counts().values()) == 12 == len(store.drawing_index()[0])
        assert len(list(store.iter_drawings())) == 12 == len(store.list_drawings(limit=100))
        assert store.class_model() == "bundled"
        with pytest.raises(StoreError) as saving:
            store.add_drawing(np.zeros((28, 28)), 3, 3, "bundled")
        with pytest.raises(StoreError) as training:
            store.check_can_save(model_file_bytes(100_000))
        assert _fingerprint(lab_home) == before     # nothing written, not even -wal/-shm
    for e in (saving.value, training.value):
        assert f"the lab home {lab_home} cannot be written ({store.read_only})" in str(e)
        assert "can still be viewed" in str(e) and "MNIST_LAB_HOME" in str(e)
    assert "nothing can be saved" in str(saving.value)
    assert "a run's model and record could not be saved" in str(training.value)


def test_a_home_made_writable_again_is_used_for_writing_again(lab_home):
    _filled_home(lab_home)
    with read_only(lab_home):
        store = RunStore()
        assert store.read_only
    store.check_can_save(model_file_bytes(100_000))   # checked again, and it works now
    assert store.read_only is None
    store.add_drawing(np.ones((28, 28)) * 0.5, 4, 4, "bundled")
    assert sum(RunStore().label_counts().values()) == 13


def test_a_read_only_database_file_in_a_writable_folder(lab_home):
    _filled_home(lab_home)
    store_file = lab_home / "lab.sqlite3"
    with read_only(store_file):
        store = RunStore()
        assert store.read_only and len(store.list_runs()) == 1
        with pytest.raises(StoreError, match="cannot be written"):
            store.check_can_save()


def test_a_read_only_models_folder_refuses_a_training(lab_home):
    _filled_home(lab_home)
    store = RunStore()
    with read_only(store.models_dir):
        with pytest.raises(StoreError) as e:
            store.check_can_save(model_file_bytes(100_000))
    assert f"model folder {store.models_dir} cannot be written" in str(e.value)


def test_a_disk_too_full_for_the_model_refuses_a_training(lab_home, monkeypatch):
    store = RunStore()
    need = model_file_bytes(1_000_000) + SAVE_MARGIN_BYTES
    usage = shutil.disk_usage(store.models_dir)
    monkeypatch.setattr("mnist_core.lab.db.shutil.disk_usage",
                        lambda path: usage._replace(free=need - 1))
    with pytest.raises(StoreError) as e:
        store.check_can_save(model_file_bytes(1_000_000))
    megabytes = f"{need / 1e6:,.0f} MB"
    assert (f"the disk of the lab home {lab_home} has {megabytes} free, and a run needs about "
            f"{megabytes}") in str(e.value) and "Free some disk space" in str(e.value)
    monkeypatch.setattr("mnist_core.lab.db.shutil.disk_usage",
                        lambda path: usage._replace(free=need))
    store.check_can_save(model_file_bytes(1_000_000))


def test_the_model_size_estimate_covers_real_model_files():
    from mnist_core import settings

    card_parameters = 325_994    # the bundled `best` (assets/model.json)
    assert model_file_bytes(card_parameters) >= settings.BUNDLED_MODEL.stat().st_size
    assert model_file_bytes(card_parameters) < 2 * settings.BUNDLED_MODEL.stat().st_size


def test_a_fine_tune_is_refused_before_it_starts(lab_home):
    from mnist_core.jobs import finetune

    _filled_home(lab_home)
    with read_only(lab_home):
        with pytest.raises(StoreError, match="could not be saved"):
            finetune.check_ready(RunStore(), "bundled")


# --- the pages ---------------------------------------------------------------------------------

def test_the_class_page_shows_saved_drawings_of_a_read_only_home(lab_home):
    from mnist_core.classroom import wall as class_set

    _filled_home(lab_home)
    with read_only(lab_home):
        at = open_page(CLASS_PAGE)
        assert not at.exception and not at.error
        assert by_label(at.metric, "Drawings").value == "12"
        assert len(at.get("image")) == 12            # every tile
        assert any(f"the lab home `{lab_home}` cannot be written" in w.value
                   for w in at.sidebar.warning)
        assert [b.label for b in at.get("download_button")] == [
            "PNGs + labels.csv (zip)", "NumPy arrays (.npz)"]
        store = resources.store()                  # what the download buttons send
        assert class_set.export_zip(store.iter_drawings())[:2] == b"PK"
        assert len(np.load(__import__("io").BytesIO(
            class_set.export_npz(store.iter_drawings())))["labels"]) == 12


def test_start_on_the_train_page_with_a_read_only_home_says_why_and_trains_nothing(lab_home):
    _filled_home(lab_home)
    with read_only(lab_home):
        at = open_page(TRAIN)
        by_label(at.select_slider, "Training images").set_value(1000)
        by_label(at.number_input, "Epochs").set_value(1)
        by_label(at.button, "Start training").click().run()
        assert not at.exception, at.exception
        warning = " ".join(w.value for w in at.warning).replace("\\", "")   # Markdown escapes
        assert warning.startswith(f"Not started: the lab home {lab_home} cannot be written (")
        assert "so a run's model and record could not be saved" in warning
        assert resources.job_registry().current is None
        assert [b for b in at.button if b.label == "Start training"]   # still there
    assert len(RunStore().list_runs()) == 1                             # nothing recorded


def test_start_with_no_usable_lab_home_at_all_says_why_and_trains_nothing(monkeypatch,
                                                                          tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("MNIST_LAB_HOME", str(blocker / "home"))
    at = open_page(TRAIN)
    by_label(at.select_slider, "Training images").set_value(1000)
    by_label(at.button, "Start training").click().run()
    warning = " ".join(w.value for w in at.warning).replace("\\", "")
    assert "Not started: runs cannot be saved: the lab home" in warning
    assert "cannot be used" in warning and resources.job_registry().current is None


def test_start_on_the_train_page_with_a_full_disk_says_so(lab_home, monkeypatch):
    usage = shutil.disk_usage(tempfile.gettempdir())
    monkeypatch.setattr("mnist_core.lab.db.shutil.disk_usage",
                        lambda path: usage._replace(free=5_000_000))
    at = open_page(TRAIN)
    by_label(at.select_slider, "Training images").set_value(1000)
    by_label(at.button, "Start training").click().run()
    warning = " ".join(w.value for w in at.warning).replace("\\", "")
    assert f"Not started: the disk of the lab home {lab_home} has 5.0 MB free" in warning
    assert resources.job_registry().current is None and not resources.store().list_runs()


# --- the command line --------------------------------------------------------------------------

def _cli(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "mnist_core", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT, env=os.environ.copy())


def test_cli_train_refuses_a_read_only_home_before_training_and_runs_still_lists(lab_home):
    _filled_home(lab_home)
    with read_only(lab_home):
        train = _cli("train", "--preset", "fast", "--limit", "1000", "--epochs", "1")
        runs = _cli("runs")
    assert train.returncode == 2 and "Traceback" not in train.stderr
    assert train.stderr.startswith(f"error: the lab home {lab_home} cannot be written (")
    assert runs.returncode == 0 and "done" in runs.stdout
    assert len(RunStore().list_runs()) == 1


def _in_private_mounts(script: str) -> subprocess.CompletedProcess:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare for a private mount namespace")
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"no private mount namespace here: {probe.stderr.decode()[:200]}")
    return subprocess.run(["unshare", "-m", "sh", "-ec", script], capture_output=True,
                          text=True, timeout=300, cwd=ROOT, env=os.environ.copy())


def test_cli_train_under_a_read_only_mount(lab_home):
    _filled_home(lab_home)
    home = str(lab_home)
    proc = _in_private_mounts(
        f"mount --bind {home} {home}; mount -o remount,bind,ro {home}; "
        f"{sys.executable} -m mnist_core runs; "
        f"{sys.executable} -m mnist_core train --preset fast --limit 1000 --epochs 1 || "
        "echo exit=$?")
    assert "done" in proc.stdout and "exit=2" in proc.stdout, proc.stderr
    assert f"error: the lab home {home} cannot be written (Read-only file system)" in proc.stderr


def test_cli_train_on_a_nearly_full_disk(tmp_path, monkeypatch):
    home = tmp_path / "small"
    home.mkdir()
    monkeypatch.setenv("MNIST_LAB_HOME", str(home))
    proc = _in_private_mounts(
        f"mount -t tmpfs -o size=16m tmpfs {home}; "
        f"{sys.executable} -m mnist_core runs; "
        f"head -c 15000000 /dev/zero > {home}/big-file; "
        f"{sys.executable} -m mnist_core train --preset fast --limit 1000 --epochs 1 || "
        "echo exit=$?")
    assert "exit=2" in proc.stdout, (proc.stdout, proc.stderr)
    assert f"error: the disk of the lab home {home} has " in proc.stderr
    assert "MB free, and a run needs about 68 MB" in proc.stderr   # fast: 108,874 parameters
