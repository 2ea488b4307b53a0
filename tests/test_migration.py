"""A lab home written before architectures were data (runs recorded only a preset name) still
lists, loads, evaluates, and can be retrained from its records; a record edited by hand into
something invalid is refused with the reason and never built."""
import json
import sqlite3

import pytest

from mnist_core.lab.store import RunStore
from tests.helpers import assert_clean_error, run_cli

# The runs table as every version so far has created it.
_RUNS = """CREATE TABLE runs (id TEXT PRIMARY KEY, created_at REAL NOT NULL, finished_at REAL,
    preset TEXT NOT NULL, config TEXT NOT NULL, data_source TEXT NOT NULL, status TEXT NOT NULL,
    history TEXT NOT NULL DEFAULT '[]', test_accuracy REAL, test_loss REAL, seconds REAL,
    model_file TEXT, error TEXT, host TEXT NOT NULL, pid INTEGER NOT NULL)"""
# What the previous version stored for `train --preset fast --limit 400 --epochs 1`.
OLD_CONFIG = {"preset": "fast", "epochs": 1, "batch_size": 128, "learning_rate": 0.003,
              "augment": False, "validation_fraction": 0.1, "limit": 400, "seed": 0,
              "precision": "auto"}


@pytest.fixture
def old_home(lab_home):
    from mnist_core.model.build import build_model
    from mnist_core.model.files import save_atomic
    from mnist_core.training.presets import get_preset

    (lab_home / "models").mkdir(parents=True)
    save_atomic(build_model(get_preset("fast").spec), lab_home / "models" / "old1.keras")
    bad = {**OLD_CONFIG, "spec": {"name": "hacked", "layers": [
        {"type": "lambda", "function": "__import__('os').system('touch /tmp/pwned')"},
        {"type": "flatten"}, {"type": "dense", "units": 10, "activation": "softmax"}]}}
    rows = [("old1", OLD_CONFIG, "old1.keras", 0.91), ("bad1", bad, None, None),
            ("ft1", {"preset": "fine-tune", "from": "bundled", "drawings": 12}, None, None)]
    with sqlite3.connect(lab_home / "lab.sqlite3") as db:
        db.execute(_RUNS)
        for i, (run_id, config, model_file, acc) in enumerate(rows):
            db.execute("INSERT INTO runs VALUES (?, ?, ?, ?, ?, 'MNIST (official IDX files in "
                       "/data)', 'done', ?, ?, 0.3, 9.0, ?, NULL, 'host', 1)",
                       (run_id, float(i), float(i) + 1, config["preset"], json.dumps(config),
                        json.dumps([{"epoch": 1, "accuracy": 0.8, "val_accuracy": 0.9}]), acc,
                        model_file))
    return lab_home


@pytest.mark.slow
def test_old_runs_list_load_evaluate_and_retrain_from_their_record(old_home):
    runs = {json.loads(line)["id"] for line in run_cli("runs", "--json").stdout.splitlines()}
    assert runs == {"old1", "bad1", "ft1"}
    proc = run_cli("evaluate", "--model", "old1", "--json", "--limit", "200")
    assert proc.returncode == 0, proc.stderr

    proc = run_cli("train", "--from-run", "old1", "--json")
    assert proc.returncode == 0, proc.stderr
    new = RunStore().get_run(json.loads(proc.stdout)["run_id"])
    from mnist_core.training.presets import PRESETS

    assert new.config["spec"] == PRESETS["fast"].spec.to_dict()      # the full architecture
    assert new.config["limit"] == 400 and new.config["epochs"] == 1    # the old run's settings
    assert new.config["schedule"] == "one-cycle" and new.status == "done"
    # ... and the new record alone rebuilds it again.
    proc = run_cli("train", "--from-run", new.id, "--epochs", "1", "--json")
    assert proc.returncode == 0, proc.stderr


def test_an_invalid_or_foreign_record_is_refused_and_never_built(old_home):
    assert_clean_error(run_cli("train", "--from-run", "bad1"),
                       "layer 1: 'lambda' is not a layer type")
    assert_clean_error(run_cli("train", "--from-run", "ft1"), "finetune --from bundled")
    assert_clean_error(run_cli("train", "--from-run", "nope"), "no run with id 'nope'")
    assert len(RunStore().list_runs()) == 3                            # nothing was started


@pytest.mark.slow
def test_train_from_a_spec_file(tmp_path):
    spec = {"name": "tiny", "layers": [{"type": "conv2d", "filters": 4, "kernel": 3},
                                       {"type": "maxpool"}, {"type": "flatten"},
                                       {"type": "dense", "units": 10, "activation": "softmax"}]}
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(spec))
    proc = run_cli("train", "--spec", str(path), "--limit", "300", "--epochs", "1", "--json")
    assert proc.returncode == 0, proc.stderr
    record = RunStore().get_run(json.loads(proc.stdout)["run_id"])
    assert record.preset == "custom" and record.config["spec"]["name"] == "tiny"
    spec["layers"][2:2] = [{"type": "maxpool", "pool": 4}] * 2        # 26 -> 13 -> 3 -> ?
    path.write_text(json.dumps(spec))
    assert_clean_error(run_cli("train", "--spec", str(path), "--limit", "300"),
                       "layer 4 (MaxPool): 4x4 pooling of a 3x3 map")
    path.write_text("{not json")
    assert_clean_error(run_cli("train", "--spec", str(path)), "not valid JSON")
