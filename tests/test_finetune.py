"""Teach the model our handwriting: fine-tuning on the class's saved drawings (issue 11)."""
import json
import signal
import sqlite3
import time

import numpy as np
import pytest

from ui import models, resources
from mnist_core.jobs import finetune, finetune_data
from mnist_core.cli import main
from mnist_core.data.dataset import Dataset
from mnist_core.jobs.finetune import FineTuneConfig
from mnist_core.jobs.registry import JobBusy, JobRegistry
from mnist_core.jobs.thread_job import TrainingJob
from mnist_core.model.files import load_checked
from mnist_core.drawing.preprocess import to_mnist
from mnist_core.lab.store import RunStore
from mnist_core.drawing.strokes import render_strokes
from mnist_core.training.presets import preset_config
from tests.helpers import TEACHER_KEY, by_label, open_page, unlock


def flagged_one(rng: np.random.Generator) -> np.ndarray:
    """A continental 1 as the network sees it (28x28 uint8): a long up-stroke flag whose foot
    is 30-60% of the height down, then straight down; size, place, slant, pen vary.

    (Built here until mnist_core.drawing.synthetic has named styles.)"""
    height = rng.uniform(0.45, 0.85)                   # of the canvas side
    flag = rng.uniform(0.3, 0.6)
    reach = flag * rng.uniform(0.8, 1.2)               # how far left the flag starts
    corners = np.array([(-reach, flag), (0.0, 0.0), (rng.normal(0, 0.03), 1.0)])
    corners += rng.normal(0, 0.015, corners.shape)
    angle = np.deg2rad(rng.normal(0, 5))
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    corners = corners @ rotation.T * height
    points = np.vstack([np.linspace(corners[i], corners[i + 1], 12) for i in range(2)])
    width = rng.uniform(0.03, 0.08)
    margin = width / 2 + 0.02
    lo, hi = points.min(axis=0), points.max(axis=0)
    points += margin - lo + rng.uniform(0, 1, 2) * np.maximum(1 - 2 * margin - (hi - lo), 0)
    image = to_mnist(render_strokes([np.clip(points, 0, 1).tolist()], width)).image
    return np.round(image * 255).astype(np.uint8)


def plain_digits(n: int, seed: int, without: int = 1) -> tuple[list[np.ndarray], list[int]]:
    """`n` pen-drawn digits other than `without`, as the network sees them (uint8)."""
    from mnist_core.drawing.synthetic import drawn_digits

    if n == 0:
        return [], []
    images, labels = drawn_digits(3 * n, seed=seed)
    out = []
    for image, label in zip(images, labels):
        prepared = to_mnist(image)
        if label != without and not prepared.empty:
            out.append((np.round(prepared.image * 255).astype(np.uint8), int(label)))
    return [o[0] for o in out[:n]], [o[1] for o in out[:n]]


def save(store: RunStore, images, labels) -> None:
    for image, label in zip(images, labels):
        store.add_drawing(np.asarray(image, np.float32) / 255, int(label), None, None)


def class_of(n_ones=40, n_others=40, seed=1) -> tuple[list[np.ndarray], list[int]]:
    rng = np.random.default_rng(seed)
    images, labels = plain_digits(n_others, seed=seed + 6)
    return [flagged_one(rng) for _ in range(n_ones)] + images, [1] * n_ones + labels


def insert_raw(store: RunStore, image: bytes, label) -> None:
    """A row that the app itself would never write (an old or damaged database)."""
    with sqlite3.connect(store.db_path) as db:
        db.execute("PRAGMA ignore_check_constraints = ON")
        db.execute("INSERT INTO drawings (created_at, label, image, hash) VALUES (?, ?, ?, ?)",
                   (time.time(), label, image, f"raw-{time.monotonic_ns()}"))


@pytest.fixture
def small_data(synthetic_digits) -> Dataset:
    return synthetic_digits


def wait_for_epochs(job, n: int, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while job.snapshot().epoch < n and job.snapshot().active and time.monotonic() < deadline:
        time.sleep(0.05)


# --- the scenario ----------------------------------------------------------------------

@pytest.mark.slow
def test_the_model_learns_flagged_ones_without_forgetting_mnist(mnist):
    """Held-out continental 1s: misread before, read after; the MNIST test set (all 10,000)
    loses at most 0.2 points. Runs as a job and stores a run.

    It starts from a run trained on MNIST alone: the bundled model has been taught the common
    handwriting styles (the continental 1 among them) and already reads these 1s."""
    store = RunStore()
    base = TrainingJob(preset_config("fast", epochs=2, seed=0), mnist, store).start()
    assert base.join(timeout=300) and base.record.has_model, base.snapshot().error
    images, labels = class_of()
    save(store, images, labels)
    config = FineTuneConfig(source=base.record.id, epochs=2)
    job = finetune.start(JobRegistry(), store, config, mnist)
    assert job.join(timeout=600)
    snap, result, record = job.snapshot(), job.result, job.record
    assert snap.status == "done", snap.error
    before, after = result.before, result.after
    print(f"\nheld-out 1s {before.held_out_by_digit[1]:.0%} -> {after.held_out_by_digit[1]:.0%}"
          f"; held-out {before.held_out_accuracy:.2%} -> {after.held_out_accuracy:.2%}; MNIST "
          f"test {before.mnist_test_accuracy:.2%} -> {after.mnist_test_accuracy:.2%}; "
          f"{result.seconds:.0f} s")
    assert before.held_out_by_digit[1] < 0.7 and after.held_out_by_digit[1] > 0.9
    assert after.mnist_test_accuracy >= before.mnist_test_accuracy - 0.002
    held = len(finetune_data.split_held_out(np.array(labels), 0.25, seed=0)[1])
    assert result.held_out == held and result.replay == 3000 and result.skipped == 0

    # Stored as a run that lists, loads and can be picked like any other.
    assert record.status == "done" and record.has_model and record.preset == "fine-tune"
    assert record.title().startswith(f"fine-tuned from {base.record.id} on 80 drawings")
    cfg = record.config
    assert {k: cfg[k] for k in ("from", "drawings", "held_out", "replay", "epochs", "seed")} == \
        {"from": base.record.id, "drawings": 80, "held_out": held, "replay": 3000, "epochs": 2,
         "seed": 0}
    assert cfg["learning_rate"] == FineTuneConfig().learning_rate == 1e-3
    assert (cfg["train_layers"], cfg["drawing_share"], cfg["keep_best"]) == ("top", 0.15, True)
    assert cfg["after"]["mnist_test_accuracy"] == record.test_accuracy == after.mnist_test_accuracy
    assert cfg["before"]["held_out_by_digit"]["1"] == before.held_out_by_digit[1]
    assert len(record.history) == 2 and "val_accuracy" in record.history[0]
    assert load_checked(store.model_path(record.id)).name == "fast"
    rows = finetune.comparison(cfg)
    assert [r["measured on"] for r in rows] == [f"Held-out class drawings ({held})",
                                                "MNIST test set (10,000)"]
    assert rows == result.comparison()
    assert any(m.ref == record.id and m.label.startswith("fine-tuned from")
               for m in models.models())


# --- the core's pieces -------------------------------------------------------------------------

def test_held_out_split_is_stratified_deterministic_and_keeps_single_drawings_for_training():
    labels = np.array([1] * 40 + [2] * 5 + [3] * 2 + [4] * 1 + [7] * 4)
    train, held, single = finetune_data.split_held_out(labels, 0.25, seed=3)
    assert single == [4]
    held_counts = np.bincount(labels[held], minlength=10)
    assert held_counts[[1, 2, 3, 4, 7]].tolist() == [10, 1, 1, 0, 1]
    assert sorted(np.concatenate([train, held]).tolist()) == list(range(len(labels)))
    again = finetune_data.split_held_out(labels, 0.25, seed=3)
    assert again[1].tolist() == held.tolist()                               # same seed, same split
    assert finetune_data.split_held_out(labels, 0.25, seed=4)[1].tolist() != held.tolist()
    assert finetune_data.replay_size(80, 60000) == 3000 and finetune_data.replay_size(500, 60000) == 10000
    assert finetune_data.replay_size(5000, 60000) == 60000 and finetune_data.replay_size(80, 1000, 50) == 50
    weights = finetune_data.balancing_weights(np.array([1, 1, 1, 2]))
    assert weights[:3].sum() == pytest.approx(weights[3]) and weights.sum() == pytest.approx(4)


@pytest.mark.parametrize("overrides, message", [
    ({"epochs": 0}, "epochs"), ({"learning_rate": 0.0}, "learning rate"),
    ({"learning_rate": float("nan")}, "learning rate"), ({"held_out_fraction": 0.9}, "held-out"),
    ({"replay": -1}, "replay"), ({"source": ""}, "which model"),
    ({"drawing_share": 0.01}, "share"), ({"drawing_share": True}, "share"),
    ({"train_layers": "middle"}, "train_layers"),
])
def test_bad_settings_are_refused(overrides, message):
    with pytest.raises(ValueError, match=message):
        FineTuneConfig(**overrides).validate()


def test_which_layers_learn():
    """Batch norm never learns; "head" trains only the dense layers, "top" the last convolution
    on, "all" everything else."""
    import keras

    from mnist_core.model.build import build_model

    model = build_model(preset_config("best").spec, "float32")
    layers = model.layers
    frozen = {w: set(map(id, finetune._layers_to_freeze(model, w)))
              for w in ("head", "top", "all")}
    norms = {id(l) for l in layers if isinstance(l, keras.layers.BatchNormalization)}
    first_dense = next(i for i, l in enumerate(layers) if isinstance(l, keras.layers.Dense))
    last_conv = max(i for i, l in enumerate(layers) if isinstance(l, keras.layers.Conv2D))
    assert frozen["all"] == norms
    assert frozen["top"] == norms | {id(l) for l in layers[:last_conv]}
    assert frozen["head"] == norms | {id(l) for l in layers[:first_dense]}
    assert frozen["all"] < frozen["top"] < frozen["head"]


def test_a_bigger_drawing_share_repeats_the_drawings_more(small_data):
    rng = np.random.default_rng(0)
    x = rng.random((40, 28, 28)).astype(np.float32)
    labels = np.arange(40) % 10
    counts = {}
    for share in (0.15, 0.5):
        mix = finetune_data.training_mix(x, labels, small_data, held_out_fraction=0.25,
                                         replay=600, augment=False, seed=0, drawing_share=share)
        counts[share] = len(mix.y_fit) - mix.replay
        assert counts[share] / len(mix.y_fit) == pytest.approx(share, abs=0.05)
    assert counts[0.5] > 3 * counts[0.15]


def test_fewer_than_ten_drawings_are_refused_with_a_clear_message(small_data):
    store = RunStore()
    images, labels = class_of(4, 3)
    save(store, images, labels)
    message = "fine-tuning needs at least 10 saved drawings; the class has 7"
    with pytest.raises(ValueError, match=message):
        finetune.check_ready(store)
    registry = JobRegistry()
    with pytest.raises(ValueError, match=message):
        finetune.start(registry, store, FineTuneConfig(), small_data)
    assert registry.current is None and store.list_runs() == []
    save(store, *class_of(3, 0, seed=9))
    assert finetune.check_ready(store) == 10
    with pytest.raises(KeyError, match="cannot fine-tune 'no-such-run'"):
        finetune.check_ready(store, "no-such-run")


def test_corrupt_or_odd_rows_are_skipped_and_counted():
    store = RunStore()
    images, labels = class_of(6, 6)
    save(store, images, labels)
    insert_raw(store, b"\x00" * 100, 3)                   # truncated
    insert_raw(store, bytes(56 * 56), 4)                 # another shape
    insert_raw(store, bytes(range(256)) * 3 + bytes(16), 12)   # label outside 0-9
    insert_raw(store, bytes(784), 2.5)                   # not a whole digit
    got, got_labels, skipped = store.drawings_for_training()
    assert skipped == 4 and got.shape == (12, 28, 28) and got.dtype == np.uint8
    assert got_labels.tolist() == labels and np.array_equal(got[0], images[0])


def test_a_job_with_too_few_readable_drawings_fails_with_the_count(small_data):
    store = RunStore()
    save(store, *class_of(5, 4))
    for _ in range(3):
        insert_raw(store, b"broken", 1)
    job = finetune.start(JobRegistry(), store, FineTuneConfig(), small_data)  # 12 rows: starts
    assert job.join(timeout=120)
    assert job.snapshot().status == "failed"
    assert job.snapshot().error == ("fine-tuning needs at least 10 saved drawings; the class "
                                    "has 9 (and 3 unreadable, skipped)")
    assert store.list_runs() == []


@pytest.mark.slow
def test_second_job_refused_and_a_stop_midway_keeps_the_best_weights(small_data):
    store = RunStore()
    images, labels = class_of(16, 16)
    save(store, images, labels)
    insert_raw(store, b"\x01" * 10, 5)
    registry = JobRegistry()
    job = finetune.start(registry, store, FineTuneConfig(epochs=40, replay=300), small_data)
    wait_for_epochs(job, 1)
    assert job.snapshot().status == "running", job.snapshot().error
    with pytest.raises(JobBusy, match="a fine-tuning of the 'bundled' model .* already running"):
        registry.start(preset_config("fast", epochs=1, limit=200), small_data, store)
    with pytest.raises(JobBusy, match="already running"):
        finetune.start(registry, store, FineTuneConfig(), small_data)
    job.stop()
    assert job.join(timeout=180)
    snap, record, result = job.snapshot(), job.record, job.result
    assert snap.status == "stopped" and 1 <= snap.epoch < 40
    assert record.status == "stopped" and record.has_model and record.config["skipped"] == 1
    held = len(finetune_data.split_held_out(np.array(labels), 0.25, seed=0)[1])
    assert record.config["drawings"] == 32 and record.config["held_out"] == held
    # Best by held-out accuracy, the starting model included: never worse than before.
    assert result.after.held_out_accuracy >= result.before.held_out_accuracy
    assert result.after.held_out_accuracy >= max(h["val_accuracy"] for h in record.history)
    assert load_checked(store.model_path(record.id)) is not None
    assert registry.start(preset_config("fast", epochs=1, limit=200), small_data, None).join(timeout=120)


# --- command line ------------------------------------------------------------------------------

@pytest.mark.slow
def test_cli_finetune_json_then_the_run_is_listed(small_data, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(signal, "signal", lambda *args: None)  # keep pytest's Ctrl-C handler
    data = tmp_path / "mnist.npz"
    np.savez(data, **{k: np.round(getattr(small_data, k)[..., 0] * 255).astype(np.uint8)
                      for k in ("x_train", "x_test")},
             y_train=small_data.y_train, y_test=small_data.y_test)
    store = RunStore()
    save(store, *class_of(5, 2))
    assert main(["finetune", "--from", "bundled", "--data", str(data)]) == 2
    assert capsys.readouterr().err.strip() == ("error: fine-tuning needs at least 10 saved "
                                              "drawings; the class has 7")
    save(store, *class_of(5, 4, seed=5))
    assert main(["finetune", "--from", "no-such-run"]) == 2
    assert capsys.readouterr().err.startswith("error: cannot fine-tune 'no-such-run'")
    assert main(["finetune", "--from", "bundled", "--epochs", "1", "--replay", "300",
                 "--data", str(data), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["status"] == "done" and out["drawings"] == 16 and out["replay"] == 300
    assert out["title"].startswith("fine-tuned from bundled on 16 drawings")
    assert set(out["before"]) == set(out["after"]) >= {"held_out_accuracy", "mnist_test_accuracy"}
    assert main(["runs", "--json"]) == 0
    runs = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["id"], r["preset"], r["has_model"]) for r in runs] == \
        [(out["run_id"], "fine-tune", True)]
    assert main(["finetune", "--from", out["run_id"], "--epochs", "1", "--replay", "300",
                 "--layers", "head", "--share", "0.3",
                 "--data", str(data)]) == 0                     # from a fine-tuned run
    text = capsys.readouterr().out
    assert f"fine-tuned from {out['run_id']} on 16 drawings" in text and "MNIST test set" in text


# --- the Class page ----------------------------------------------------------------------------

TEACH = "Teach the model our handwriting"


@pytest.mark.slow
def test_a_student_sees_no_teach_button_and_the_teacher_starts_the_job(monkeypatch,
                                                                       synthetic_app_data):
    monkeypatch.setenv("MNIST_LAB_TEACHER_KEY", TEACHER_KEY)
    save(RunStore(), *class_of(6, 6))
    student = open_page("pages/4_Class.py")
    assert TEACH not in [b.label for b in student.button]
    assert any("Teaching the model: teacher only" in c.value for c in student.caption)
    assert resources.job_registry().current is None

    teacher = unlock(open_page("pages/4_Class.py"), TEACHER_KEY)
    by_label(teacher.button, TEACH).click().run()
    assert not teacher.exception, teacher.exception
    job = resources.job_registry().current
    assert job is not None and job.config.preset == "fine-tune"
    assert any("is learning the class's handwriting" in s.value for s in teacher.success)
    assert teacher.title[0].value == "The class's drawings"      # it stays, with a link
    teacher.switch_page("pages/1_Train.py").run()                 # the link: the live view
    assert any(s.value.startswith("fine-tune") for s in teacher.subheader)
    job.stop()
    assert job.join(timeout=180) and job.snapshot().status in ("stopped", "done")


def test_the_teacher_is_told_why_teaching_cannot_start(monkeypatch):
    monkeypatch.delenv("MNIST_LAB_TEACHER_KEY", raising=False)   # single-user lab: all open
    save(RunStore(), *class_of(2, 1))
    at = open_page("pages/4_Class.py")
    by_label(at.button, TEACH).click().run()
    assert any("fine-tuning needs at least 10 saved drawings; the class has 3" in w.value
               for w in at.warning)
    assert resources.job_registry().current is None
